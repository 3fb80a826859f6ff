"""The hub's MCP server over HTTP (``/api/mcp``) and its admin settings (``/api/mcp/settings``).

``/api/mcp`` is MCP's Streamable HTTP endpoint: ``POST`` carries one JSON-RPC message and is
answered as JSON (this server streams nothing, so ``GET`` is 405), ``DELETE`` ends a session. The
auth middleware has already checked the bearer token (a long-lived one, or any access token); a
browser page of another site is refused by its ``Origin``, as the specification asks against DNS
rebinding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from aiohttp import hdrs, web
from pydantic import BaseModel, ConfigDict

from hub.agent.mcp_server import Caller, McpReply, McpServer, parse_error
from hub.agent.mcp_settings import McpServerSettings, McpSettings, TierName
from hub.api.access import principal_of, require_admin
from hub.api.errors import request_language, respond
from hub.api.origin import check_origin
from hub.api.request import (
    JSON_TYPE,
    UnsupportedMediaTypeError,
    parse_json,
    read_body,
    read_json,
)
from hub.api.state import CHAT, TRANSLATIONS
from hub.core.errors import (
    MCP_DISABLED,
    METHOD_NOT_ALLOWED,
    BadRequestError,
    ForbiddenError,
    HubError,
)
from hub.integrations.translations import fill

if TYPE_CHECKING:
    from hub.agent.approvals import Approvals
    from hub.agent.mcp_tools import ToolBridge

MCP_SERVER: Final = web.AppKey("mcp_server", McpServer)
MCP_SETTINGS: Final = web.AppKey("mcp_settings", McpSettings)

MAX_MESSAGE: Final = 1024 * 1024
"""Bytes one JSON-RPC message may have: tool arguments, not uploads."""


class McpDisabledError(ForbiddenError):
    """An admin switched the MCP server off."""

    code = MCP_DISABLED
    default_key = "errors.mcp_disabled"


class SettingsChanges(BaseModel):
    """``PUT /api/mcp/settings``: what is given changes."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    tier: TierName | None = None


async def _caller(request: web.Request) -> Caller:
    """The caller on the terms of now: the admin's tier, their own local-fetch choice."""
    settings = await request.app[MCP_SETTINGS].get()
    if not settings.enabled:
        raise McpDisabledError("an admin has switched the hub's MCP server off")
    principal = principal_of(request)
    preferences = (await request.app[CHAT].get()).preferences.of(principal.person_id)
    localizer = request.app[TRANSLATIONS].localizer(None, request_language(request))
    template = localizer("errors.mcp_approval_pending")

    def pending(tool: str, approval_id: str, expires_at: str) -> str:
        return fill(template, {"tool": tool, "approval_id": approval_id, "expires_at": expires_at})

    return Caller(
        principal.person_id,
        settings.tier_level,
        allow_local_fetch=preferences.allow_local_fetch,
        pending_text=pending,
    )


def _answer(reply: McpReply) -> web.Response:
    if reply.body is None:
        return web.Response(status=reply.status, headers=reply.headers)
    return web.json_response(reply.body, status=reply.status, headers=reply.headers)


async def post_mcp(request: web.Request) -> web.Response:
    """One JSON-RPC message in, its answer out (202 for a notification)."""
    check_origin(request)
    caller = await _caller(request)
    raw = await read_body(request, MAX_MESSAGE)
    if request.content_type != JSON_TYPE:
        raise UnsupportedMediaTypeError(
            f"send the message as JSON with Content-Type: {JSON_TYPE}",
            key="errors.send_json",
            content_type=JSON_TYPE,
        )
    try:
        message = parse_json(raw, "the message")
    except BadRequestError as err:
        return _answer(parse_error(err.message))
    return _answer(await request.app[MCP_SERVER].handle(caller, request.headers, message))


async def delete_mcp(request: web.Request) -> web.Response:
    """End the session the ``Mcp-Session-Id`` header names."""
    check_origin(request)
    caller = await _caller(request)
    return _answer(request.app[MCP_SERVER].end(caller, request.headers))


async def get_mcp(request: web.Request) -> web.Response:
    """No server-to-client stream: the specification's answer is 405."""
    check_origin(request)
    refusal = HubError("this MCP server offers no stream: POST messages", code=METHOD_NOT_ALLOWED)
    response = respond(request, refusal, 405)
    response.headers[hdrs.ALLOW] = "POST, DELETE"
    return response


def _settings(settings: McpServerSettings) -> web.Response:
    return web.json_response({**settings.model_dump(mode="json"), "endpoint": "/api/mcp"})


async def get_settings(request: web.Request) -> web.Response:
    """The MCP server's settings (admins)."""
    require_admin(principal_of(request))
    return _settings(await request.app[MCP_SETTINGS].get())


async def put_settings(request: web.Request) -> web.Response:
    """Switch the MCP server on or off, or set the tier its clients get (admins)."""
    require_admin(principal_of(request))
    changes = (await read_json(request, SettingsChanges)).model_dump(exclude_none=True)
    return _settings(await request.app[MCP_SETTINGS].change(**changes))


def server(app: web.Application, approvals: Callable[[], Approvals | None]) -> McpServer:
    """The hub's MCP server; its tools come from the agent's assembler, built on first use."""

    async def bridge() -> ToolBridge:
        from hub.agent.mcp_tools import ToolBridge

        return ToolBridge((await app[CHAT].get()).assembler, approvals)

    return McpServer(bridge)


def register(app: web.Application) -> None:
    """Add the MCP routes."""
    app.router.add_post("/api/mcp", post_mcp)
    app.router.add_delete("/api/mcp", delete_mcp)
    app.router.add_get("/api/mcp", get_mcp)
    app.router.add_get("/api/mcp/settings", get_settings)
    app.router.add_put("/api/mcp/settings", put_settings)
