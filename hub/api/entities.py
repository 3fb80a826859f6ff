"""Entities over HTTP: list and filter, read, search, act; an entry's on-demand sync; the jobs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from hub.api.access import entity_for, entry_for, principal_of, require_admin, visible_entry_ids
from hub.api.errors import respond
from hub.api.request import read_json, read_query
from hub.api.state import COMMS, CONFIG_ENTRIES, ENTITIES, REGISTRY, SCHEDULER, SYNC
from hub.auth.principal import Principal
from hub.core.errors import BadRequestError
from hub.entities.actions import call_action
from hub.entities.listing import FULL, Form
from hub.entities.query import CATEGORIES
from hub.entities.sync import SyncCooldownError


class ActionBody(BaseModel):
    """``POST /api/entities/{id}/action``."""

    model_config = ConfigDict(extra="forbid")

    action: str = Field(min_length=1, max_length=64)
    args: dict[str, Any] = Field(default_factory=dict)


class EntityFilters(BaseModel):
    """The filters of ``GET /api/entities`` and ``entities/list``; an empty one is no filter."""

    # A query string carries more than filters (``?language=``); the websocket forbids extras.
    model_config = ConfigDict(extra="ignore")

    domain: str | None = Field(default=None, max_length=64)
    entry_id: str | None = Field(default=None, max_length=64)
    entity_type: str | None = Field(default=None, max_length=64)
    device_id: int | None = None
    visible: bool | None = None
    category: str | None = Field(default=None, max_length=32)
    """One of ``CATEGORIES``; ``none`` means uncategorised."""
    limit: int = Field(default=1000, ge=1, le=10_000)

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any, info: ValidationInfo) -> Any:
        # ``?domain=&limit=`` is what a form with blank fields sends: no filter, not a bad one.
        if value != "":
            return value
        return cls.model_fields["limit"].default if info.field_name == "limit" else None

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str | None) -> str | None:
        if value is not None and value not in CATEGORIES:
            raise ValueError(f"must be one of {', '.join(CATEGORIES)}, not {value!r}")
        return value


class IntervalBody(BaseModel):
    """``POST /api/config-entries/{id}/sync-interval``."""

    model_config = ConfigDict(extra="forbid")

    seconds: int | None = Field(default=None, ge=5, le=7 * 24 * 3600)


def _visible_entry_ids(request: web.Request) -> list[str]:
    return visible_entry_ids(request.app, principal_of(request))


def _int(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise BadRequestError(f"{name} must be a whole number, not {raw!r}") from None


def _entity_id(request: web.Request) -> int:
    raw = request.match_info["entity_id"]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise BadRequestError(f"entity id must be a whole number, not {raw!r}")
    return int(raw)


async def entity_list(
    app: web.Application, principal: Principal, filters: EntityFilters, layout: Form = FULL
) -> bytes:
    """The entities ``principal`` may see, filtered, as JSON text: a list of their views, or
    ``layout``'s form (``GET /api/entities`` and ``entities/list``)."""
    allowed = visible_entry_ids(app, principal)
    if filters.entry_id:
        allowed = [e for e in allowed if e == filters.entry_id]
    return await app[ENTITIES].list_json(
        domain=filters.domain,
        entry_ids=allowed,
        entity_type=filters.entity_type,
        device_id=filters.device_id,
        visible=filters.visible,
        category=filters.category,
        limit=filters.limit,
        layout=layout,
    )


async def list_entities(request: web.Request) -> web.Response:
    """Entities the caller may see, filtered by domain, entry, type, device, visibility, category."""
    filters = read_query(request, EntityFilters)
    views = await entity_list(request.app, principal_of(request), filters)
    body = b'{"entities":%b}' % views
    return web.Response(body=body, content_type="application/json", charset="utf-8")


async def get_entity(request: web.Request) -> web.Response:
    """One entity."""
    row = await entity_for(request.app, principal_of(request), _entity_id(request), manage=False)
    return web.json_response(request.app[ENTITIES].view(row))


async def search_entities(request: web.Request) -> web.Response:
    """Full-text search over ``rag=True`` entity types, best match first."""
    query = request.query.get("q", "").strip()
    if not query:
        raise BadRequestError("q: give some words to search for")
    limit = _int(request, "limit")
    limit = 20 if limit is None else limit
    if not 1 <= limit <= 200:
        raise BadRequestError("limit must be between 1 and 200")
    service = request.app[ENTITIES]
    found = await service.search(query, entry_ids=_visible_entry_ids(request), limit=limit)
    results = [{"entity": service.view(row), "rank": rank} for row, rank in found]
    return web.json_response({"query": query, "results": results})


async def act(
    app: web.Application, principal: Principal, entity_id: int, body: ActionBody
) -> dict[str, Any]:
    """Run a declared action (``POST /api/entities/{id}/action`` and ``entities/action``)."""
    row = await entity_for(app, principal, entity_id, manage=False)
    updated, message = await call_action(
        row,
        body.action,
        body.args,
        service=app[ENTITIES],
        entries=app[CONFIG_ENTRIES],
        registry=app[REGISTRY],
    )
    return {"entity": app[ENTITIES].view(updated), "message": message}


async def entity_action(request: web.Request) -> web.Response:
    """Run a declared action; the entity afterwards and the integration's message."""
    body = await read_json(request, ActionBody)
    entity_id = _entity_id(request)
    return web.json_response(await act(request.app, principal_of(request), entity_id, body))


async def sync_entry(request: web.Request) -> web.Response:
    """Pull an entry's entities now; a member waits out the entry's cooldown (429, Retry-After)."""
    principal = principal_of(request)
    entry_id = entry_for(
        request.app, principal, request.match_info["entry_id"], manage=False
    ).entry_id
    ingest = request.app[COMMS].ingest
    if ingest.pulls(entry_id) and not request.app[SYNC].pulls(entry_id):
        # A message account's sync is a pull of its new messages.
        return web.json_response({"entry_id": entry_id, "sync": await ingest.pull(entry_id)})
    try:
        # Admins are trusted with the household's credentials (they set them up) and may need
        # to sync again at once while fixing an entry; everyone else waits out the cooldown.
        record = await request.app[SYNC].sync_now(entry_id, cooldown=not principal.is_admin)
    except SyncCooldownError as err:
        response = respond(request, err)
        response.headers["Retry-After"] = str(err.seconds)
        return response
    return web.json_response({"entry_id": entry_id, "sync": record})


async def set_sync_interval(request: web.Request) -> web.Response:
    """Set (or with ``null`` reset) an entry's own sync interval."""
    body = await read_json(request, IntervalBody)
    entry_id = entry_for(
        request.app, principal_of(request), request.match_info["entry_id"], manage=True
    ).entry_id
    seconds = await request.app[SYNC].set_interval(entry_id, body.seconds)
    return web.json_response({"entry_id": entry_id, "sync_interval": seconds})


async def list_jobs(request: web.Request) -> web.Response:
    """Every scheduled job with its last run, duration, result and next run."""
    require_admin(principal_of(request))
    scheduler = request.app[SCHEDULER]
    jobs = []
    for name in scheduler.job_names():
        stats = scheduler.stats(name)
        next_run = scheduler.next_run(name)
        jobs.append(
            {
                "name": name,
                "runs": stats.runs,
                "failures": stats.failures,
                "timeouts": stats.timeouts,
                "skipped": stats.skipped,
                "last_started": _iso(stats.last_started),
                "last_duration_ms": None
                if stats.last_duration is None
                else round(stats.last_duration * 1000, 1),
                "last_error": stats.last_error,
                "next_run": _iso(next_run),
            }
        )
    return web.json_response({"jobs": jobs})


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds")


def register(app: web.Application) -> None:
    """Add the entity routes."""
    app.router.add_get("/api/entities", list_entities)
    app.router.add_get("/api/entities/search", search_entities)
    app.router.add_get("/api/entities/{entity_id}", get_entity)
    app.router.add_post("/api/entities/{entity_id}/action", entity_action)
    app.router.add_post("/api/config-entries/{entry_id}/sync", sync_entry)
    app.router.add_post("/api/config-entries/{entry_id}/sync-interval", set_sync_interval)
    app.router.add_get("/api/jobs", list_jobs)
