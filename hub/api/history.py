"""State history, retention, the database's size and the event log over HTTP.

The ``HISTORY`` and ``EVENT_LOG`` application keys live here until ``hub.api.state`` takes them over.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from hub.api.access import audience_keys, entity_for, principal_of, require_admin
from hub.api.request import read_json
from hub.core.errors import BadRequestError
from hub.entities.event_log import EventLog
from hub.entities.history import MAX_RETENTION_DAYS, History
from hub.entities.history_buckets import MAX_BUCKETS
from hub.entities.service import EntityNotFoundError

HISTORY: Final = web.AppKey("history", History)
EVENT_LOG: Final = web.AppKey("event_log", EventLog)

DEFAULT_RANGE_SECONDS: Final = 86_400.0
"""Without ``start``, the day before ``end``."""
DEFAULT_HISTORY_LIMIT: Final = 1000
MAX_HISTORY_LIMIT: Final = 10_000
DEFAULT_EVENTS_LIMIT: Final = 100
MAX_EVENTS_LIMIT: Final = 1000
_MAX_TIMESTAMP: Final = 253_402_300_799.0  # 9999-12-31T23:59:59Z, the last instant ISO 8601 can say
_MAX_ROW_ID: Final = 2**63 - 1


class RetentionBody(BaseModel):
    """``{"days": n}`` sets an entity's own retention, ``{"days": null}`` falls back to its type's."""

    model_config = ConfigDict(extra="forbid")

    days: Annotated[StrictInt, Field(ge=1, le=MAX_RETENTION_DAYS)] | None


async def get_history(request: web.Request) -> web.Response:
    """An entity's states from ``start`` to ``end`` (ISO 8601 or unix seconds), oldest first.

    ``previous`` is the last change before ``start`` (the state that still held then), or null.
    With ``buckets=n`` the range is cut into ``n`` equal slices and each non-empty one is answered
    in ``buckets`` instead of every row in ``history``: its last state and when it was set, the
    number of changes, and the ``min``, ``max`` and ``mean`` of its numeric states (see
    ``hub.entities.history_buckets``), so a month of minute readings stays a few hundred rows.
    """
    entity_id = _entity_id(request)
    await entity_for(request.app, principal_of(request), entity_id, manage=False)
    query = request.query
    end = _time(query, "end")
    if end is None:
        end = datetime.now(UTC).timestamp()
    start = _time(query, "start")
    if start is None:
        start = max(0.0, end - DEFAULT_RANGE_SECONDS)
    if start > end:
        raise BadRequestError(
            f"start ({_iso(start)}) is after end ({_iso(end)})",
            key="errors.history_range_reversed",
            start=_iso(start),
            end=_iso(end),
        )
    history = request.app[HISTORY]
    buckets = _buckets(query)
    if buckets is not None:
        summary, before = await history.summary(entity_id, start, end, buckets)
        return web.json_response(
            {
                "entity_id": entity_id,
                "start": _iso(start),
                "end": _iso(end),
                "bucket_seconds": (end - start) / buckets,
                "previous": _change(before),
                "buckets": [bucket.as_dict(_iso) for bucket in summary],
            }
        )
    limit = _limit(query, DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT)
    # One more than asked tells whether the range holds more than the page.
    rows = await history.query(entity_id, start, end, limit + 1)
    return web.json_response(
        {
            "entity_id": entity_id,
            "start": _iso(start),
            "end": _iso(end),
            "previous": _change(await history.before(entity_id, start)),
            "history": [
                {"state": state, "changed_at": _iso(changed_at)}
                for changed_at, state in rows[:limit]
            ],
            "truncated": len(rows) > limit,
        }
    )


def _change(change: tuple[float, Any] | None) -> dict[str, Any] | None:
    if change is None:
        return None
    changed_at, state = change
    return {"state": state, "changed_at": _iso(changed_at)}


def _buckets(query: Mapping[str, str]) -> int | None:
    raw = query.get("buckets")
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 6) or not (
        1 <= int(text) <= MAX_BUCKETS
    ):
        raise BadRequestError(
            f"buckets must be a whole number from 1 to {MAX_BUCKETS}, not {raw[:20]!r}",
            key="errors.history_buckets_invalid",
            maximum=MAX_BUCKETS,
            value=raw[:20],
        )
    return int(text)


async def set_retention(request: web.Request) -> web.Response:
    """Set or clear an entity's own retention; answers the retention that now applies."""
    entity_id = _entity_id(request)
    await entity_for(request.app, principal_of(request), entity_id, manage=True)
    body = await read_json(request, RetentionBody)
    retention = await request.app[HISTORY].set_entity_retention(entity_id, body.days)
    return web.json_response({"entity_id": entity_id, **retention.as_dict()})


async def get_retention(request: web.Request) -> web.Response:
    """The retention that applies to an entity, and which setting decided it."""
    entity_id = _entity_id(request)
    await entity_for(request.app, principal_of(request), entity_id, manage=False)
    retention = await request.app[HISTORY].retention(entity_id)
    return web.json_response({"entity_id": entity_id, **retention.as_dict()})


async def get_database(request: web.Request) -> web.Response:
    """The size of ``hub.db`` on disk, its pages, and rows per table (admins only)."""
    require_admin(principal_of(request))
    return web.json_response(await request.app[HISTORY].database_size())


async def list_events(request: web.Request) -> web.Response:
    """The newest events the caller may see, optionally of one ``event_type`` (or ``prefix.*``)."""
    principal = principal_of(request)
    limit = _limit(request.query, DEFAULT_EVENTS_LIMIT, MAX_EVENTS_LIMIT)
    event_type = request.query.get("event_type") or None
    if event_type is not None:
        event_type = event_pattern(event_type)
    events = await request.app[EVENT_LOG].recent(limit, event_type, audience_keys(principal))
    return web.json_response({"events": events})


def register(app: web.Application) -> None:
    """Add the history, retention, database and event-log routes."""
    app.router.add_get("/api/entities/{entity_id}/history", get_history)
    app.router.add_get("/api/entities/{entity_id}/retention", get_retention)
    app.router.add_post("/api/entities/{entity_id}/retention", set_retention)
    app.router.add_get("/api/database", get_database)
    app.router.add_get("/api/events", list_events)


def parse_time(text: str) -> float:
    """Unix seconds from unix seconds or ISO 8601 (no offset means UTC); ``ValueError`` if neither."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        value = _iso_seconds(text)
    if not math.isfinite(value) or not 0 <= value <= _MAX_TIMESTAMP:
        raise ValueError("out of range")
    return value


def _iso_seconds(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        # An unencoded "+01:00" in a query string arrives as " 01:00": put the plus back.
        head, space, tail = text.rpartition(" ")
        if not space:
            raise
        moment = datetime.fromisoformat(f"{head}+{tail}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _time(query: Mapping[str, str], name: str) -> float | None:
    raw = query.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        return parse_time(raw)
    except (ValueError, OverflowError):
        raise BadRequestError(
            f"{name}={raw!r} is not a time: use ISO 8601 (2024-05-01T12:00:00+02:00) "
            "or unix seconds, from 1970 to 9999",
            key="errors.history_time_invalid",
            name=name,
            value=raw[:40],
        ) from None


def _limit(query: Mapping[str, str], default: int, maximum: int) -> int:
    raw = query.get("limit")
    if raw is None or not raw.strip():
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise BadRequestError(f"limit={raw!r} is not a whole number") from None
    if not 1 <= limit <= maximum:
        raise BadRequestError(f"limit must be from 1 to {maximum}, got {limit}")
    return limit


def event_pattern(text: str) -> str:
    """``text`` when the bus understands it (``GET /api/events`` and ``subscribe_events``), else a 400."""
    if not _is_event_pattern(text):
        raise BadRequestError(f"event_type {text[:100]!r} is not a type, '*' or 'prefix.*'")
    return text


def _is_event_pattern(text: str) -> bool:
    """The patterns the bus understands: a type, ``*``, or ``prefix.*``."""
    if any(c.isspace() for c in text):
        return False
    head = text[:-2] if text.endswith(".*") else text
    return text == "*" or (bool(head) and "*" not in head)


def _entity_id(request: web.Request) -> int:
    raw = request.match_info["entity_id"]
    # isascii: str.isdigit() also accepts digits such as "²" that int() refuses.
    if not (raw.isascii() and raw.isdigit()):
        raise BadRequestError(f"entity id must be a whole number, not {raw!r}")
    # Past SQLite's 64-bit ids no entity can exist (and binding the number would overflow).
    if len(raw) > 19 or not 0 < int(raw) <= _MAX_ROW_ID:
        raise EntityNotFoundError(f"no entity {raw}")
    return int(raw)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")
