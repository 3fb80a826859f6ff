"""Config flows over HTTP: start, advance, abort, and reconfigure or reauthenticate an entry."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.api.access import entry_for, principal_of, require_admin
from hub.api.request import language_of, read_json
from hub.api.state import CATALOG, CONFIG_ENTRIES, FLOW_MANAGER, REGISTRY, TRANSLATIONS
from hub.integrations.config_flow import SOURCE_REAUTH, SOURCE_RECONFIGURE
from hub.integrations.flow_manager import FlowOutcome
from hub.integrations.flow_serializer import serialize_flow_result


class StartFlow(BaseModel):
    """``POST /api/config-flows``."""

    model_config = ConfigDict(extra="forbid")

    domain: str = Field(min_length=1, max_length=64)
    scope: Literal["user", "global"] | None = None
    """Default: the caller's own for anyone but an admin; for an admin the manifest's
    ``default_scope``, else global."""
    language: str | None = None


class AdvanceFlow(BaseModel):
    """``POST /api/config-flows/{flow_id}``."""

    model_config = ConfigDict(extra="forbid")

    user_input: dict[str, Any] = Field(default_factory=dict)
    language: str | None = None


class EntryFlow(BaseModel):
    """``POST /api/config-entries/{entry_id}/reconfigure`` (and ``/reauth``)."""

    model_config = ConfigDict(extra="forbid")

    language: str | None = None


def serialize(request: web.Request, outcome: FlowOutcome) -> web.Response:
    """The localized view of one step, as every client receives it."""
    return web.json_response(flow_view(request.app, outcome))


def flow_view(app: web.Application, outcome: FlowOutcome) -> dict[str, Any]:
    """The localized view of one step; REST and websocket answer with the same."""
    loaded = app[REGISTRY].get(outcome.domain)
    entry = app[CONFIG_ENTRIES].get(outcome.entry_id) if outcome.entry_id else None
    return serialize_flow_result(
        outcome.result,
        flow_id=outcome.flow_id,
        domain=outcome.domain,
        language=outcome.language,
        translations=app[TRANSLATIONS],
        integration_name=loaded.manifest.name if loaded else outcome.domain,
        entry_id=outcome.entry_id,
        masked=outcome.masked,
        correlation_id=outcome.correlation_id,
        entry_title=entry.title if entry is not None else None,
    )


async def start_flow(request: web.Request) -> web.Response:
    """Begin adding an integration."""
    body = await read_json(request, StartFlow)
    principal = principal_of(request)
    scope = body.scope or _default_scope(request.app, body.domain, is_admin=principal.is_admin)
    if scope == "global":
        require_admin(principal)
    language = language_of(request, request.app[TRANSLATIONS], body.domain, body.language)
    outcome = await request.app[FLOW_MANAGER].start(
        body.domain,
        scope=scope,
        owner=principal.person_id,
        language=language,
        by=principal.person_id,
    )
    return serialize(request, outcome)


def _default_scope(app: web.Application, domain: str, *, is_admin: bool) -> str:
    """The manifest's ``default_scope`` for an admin; anyone else only ever adds their own."""
    if not is_admin:
        return "user"
    loaded = app[REGISTRY].get(domain)
    row = app[CATALOG].get(domain)
    preferred = loaded.manifest.default_scope if loaded is not None else None
    # A personal default the admin has disallowed for this integration gives way to global.
    if preferred == "user" and (row is None or "user" in row.allowed_scopes):
        return "user"
    return "global"


async def advance_flow(request: web.Request) -> web.Response:
    """Submit the current step's form."""
    body = await read_json(request, AdvanceFlow)
    language = (
        language_of(request, request.app[TRANSLATIONS], None, body.language)
        if body.language or "Accept-Language" in request.headers
        else None
    )
    outcome = await request.app[FLOW_MANAGER].advance(
        request.match_info["flow_id"],
        body.user_input,
        language=language,
        by=principal_of(request).person_id,
    )
    return serialize(request, outcome)


async def abort_flow(request: web.Request) -> web.Response:
    """Drop a flow and whatever it had collected."""
    flow_id = request.match_info["flow_id"]
    request.app[FLOW_MANAGER].abort(flow_id, by=principal_of(request).person_id)
    return web.json_response({"flow_id": flow_id, "aborted": True})


async def reconfigure_entry(request: web.Request) -> web.Response:
    """Begin editing an existing entry."""
    return await _entry_flow(request, SOURCE_RECONFIGURE)


async def reauth_entry(request: web.Request) -> web.Response:
    """Begin giving an entry new credentials."""
    return await _entry_flow(request, SOURCE_REAUTH)


async def _entry_flow(request: web.Request, source: str) -> web.Response:
    body = await read_json(request, EntryFlow)
    principal = principal_of(request)
    entry = entry_for(request.app, principal, request.match_info["entry_id"], manage=True)
    language = language_of(request, request.app[TRANSLATIONS], None, body.language)
    outcome = await request.app[FLOW_MANAGER].start_for_entry(
        entry.entry_id,
        source=source,
        owner=principal.person_id,
        language=language,
        by=principal.person_id,
    )
    return serialize(request, outcome)


def register(app: web.Application) -> None:
    """Add the config-flow routes."""
    app.router.add_post("/api/config-flows", start_flow)
    app.router.add_post("/api/config-flows/{flow_id}", advance_flow)
    app.router.add_delete("/api/config-flows/{flow_id}", abort_flow)
    app.router.add_post("/api/config-entries/{entry_id}/reconfigure", reconfigure_entry)
    app.router.add_post("/api/config-entries/{entry_id}/reauth", reauth_entry)
