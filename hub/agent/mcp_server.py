"""The hub as an MCP server: JSON-RPC over MCP's Streamable HTTP transport, answered as JSON.

The protocol half, free of HTTP and of pydantic-ai: sessions (``Mcp-Session-Id``), version
negotiation (the ``initialize`` handshake of revisions 2024-11-05 to 2025-11-25, and the
``MCP-Protocol-Version`` header after it), and the methods a tools-only server answers
(``initialize``, ``notifications/initialized``, ``ping``, ``tools/list``, ``tools/call``). Tools
come from the ``ToolBridge`` (``mcp_tools``), built on a client's first call so the hub starts
without pydantic-ai.
"""

from __future__ import annotations

import asyncio
import importlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from hub import __version__
from hub.integrations.manifest import Tier

if TYPE_CHECKING:
    from hub.agent.mcp_tools import ToolBridge

SUPPORTED_VERSIONS: Final = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
"""Handshake revisions this server speaks, newest first; it offers the newest to anyone else."""
ASSUMED_VERSION: Final = "2025-03-26"
"""What a request without ``MCP-Protocol-Version`` speaks, as the specification says."""
SESSION_HEADER: Final = "Mcp-Session-Id"
VERSION_HEADER: Final = "MCP-Protocol-Version"

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603

MAX_SESSIONS_PER_PERSON: Final = 32
"""A client that never ends its sessions costs at most this many; the least recently used goes."""
SESSION_IDLE_SECONDS: Final = 24 * 3600.0

INSTRUCTIONS: Final = (
    "Tools of a self-hosted home hub: search, read and control its entities, and the tools of "
    "the integrations this person uses. A tool that acts may need the person's approval in the "
    "hub first; its result then says so."
)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls, and on what terms: the person, the tier an admin set, their local-fetch choice."""

    person_id: str
    tier: Tier
    allow_local_fetch: bool = False
    pending_text: Callable[[str, str, str], str] = field(
        default=lambda tool, approval_id, expires: (
            f"Approval pending: {tool} waits for the person's approval in the hub "
            f"(approval {approval_id}, until {expires}); call it again with the same arguments "
            "once it is approved."
        )
    )
    """The text of a pending-approval result in the person's language, from tool, id and expiry."""


@dataclass(frozen=True, slots=True)
class McpReply:
    """An HTTP answer: status, JSON body (``None``: empty) and headers."""

    status: int
    body: dict[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class McpSession:
    """One client's session: whose it is and the revision it negotiated."""

    session_id: str
    person_id: str
    version: str
    client: str
    last_used: float = field(default_factory=time.monotonic)


class _InvalidParams(Exception):
    pass


def rpc_error(rid: Any, code: int, message: str, status: int = 200) -> McpReply:
    """A JSON-RPC error answer (``rid``: the request's id, ``None`` when it could not be read)."""
    error = {"code": code, "message": message[:1_000]}
    return McpReply(status, {"jsonrpc": "2.0", "id": rid, "error": error})


def parse_error(message: str) -> McpReply:
    """The answer to a body that is not JSON."""
    return rpc_error(None, PARSE_ERROR, f"parse error: {message}", 400)


class McpServer:
    """Sessions and JSON-RPC dispatch; one per hub."""

    def __init__(self, bridge: Callable[[], Awaitable[ToolBridge]]) -> None:
        self._build_bridge = bridge
        self._bridge: ToolBridge | None = None
        self._lock = asyncio.Lock()
        self._sessions: OrderedDict[str, McpSession] = OrderedDict()

    async def handle(self, caller: Caller, headers: Mapping[str, str], message: Any) -> McpReply:
        """Answer one JSON-RPC message a client POSTed."""
        if isinstance(message, list):
            return rpc_error(None, INVALID_REQUEST, "batches are not supported", 400)
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            return rpc_error(
                None, INVALID_REQUEST, 'not a JSON-RPC 2.0 message ("jsonrpc": "2.0")', 400
            )
        rid = message.get("id")
        has_id = "id" in message
        if has_id and (isinstance(rid, bool) or not isinstance(rid, str | int)):
            return rpc_error(None, INVALID_REQUEST, "id: a string or an integer", 400)
        method = message.get("method")
        if method is None and has_id and ("result" in message or "error" in message):
            return McpReply(202)  # an answer to a request: this server sends none
        if not isinstance(method, str):
            return rpc_error(rid, INVALID_REQUEST, "method: a string is needed", 400)
        params = message.get("params", {})
        if method == "initialize":
            if not has_id:
                return rpc_error(
                    None, INVALID_REQUEST, "initialize is a request: give it an id", 400
                )
            return self._initialize(caller, rid, params)
        session = self._session(caller, headers)
        if isinstance(session, McpReply):
            return session
        if not has_id:
            return McpReply(202)  # notifications/initialized, cancellations: nothing to answer
        try:
            if not isinstance(params, dict):
                raise _InvalidParams("params: an object is needed")
            result = await self._dispatch(caller, method, params)
        except _InvalidParams as err:
            return rpc_error(rid, INVALID_PARAMS, str(err))
        except LookupError:
            return rpc_error(rid, METHOD_NOT_FOUND, f"method not found: {method[:100]}")
        return McpReply(200, {"jsonrpc": "2.0", "id": rid, "result": result})

    def end(self, caller: Caller, headers: Mapping[str, str]) -> McpReply:
        """``DELETE``: end the caller's session."""
        session = self._session(caller, headers)
        if isinstance(session, McpReply):
            return session
        self._sessions.pop(session.session_id, None)
        return McpReply(204)

    async def forget_person(self, person_id: str) -> None:
        """Drop a removed person's sessions."""
        for key in [k for k, s in self._sessions.items() if s.person_id == person_id]:
            del self._sessions[key]

    # Sessions

    def _initialize(self, caller: Caller, rid: Any, params: Any) -> McpReply:
        if not isinstance(params, dict) or not isinstance(params.get("protocolVersion"), str):
            return rpc_error(rid, INVALID_PARAMS, "params.protocolVersion: a string is needed")
        requested = params["protocolVersion"]
        version = requested if requested in SUPPORTED_VERSIONS else SUPPORTED_VERSIONS[0]
        info = params.get("clientInfo")
        client = str(info.get("name", "?"))[:100] if isinstance(info, dict) else "?"
        self._expire()
        session = McpSession(secrets.token_urlsafe(24), caller.person_id, version, client)
        theirs = [k for k, s in self._sessions.items() if s.person_id == caller.person_id]
        for key in theirs[: max(0, len(theirs) - MAX_SESSIONS_PER_PERSON + 1)]:
            del self._sessions[key]
        self._sessions[session.session_id] = session
        result = {
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": "hub", "title": "Hub", "version": __version__},
            "instructions": INSTRUCTIONS,
        }
        body = {"jsonrpc": "2.0", "id": rid, "result": result}
        return McpReply(200, body, {SESSION_HEADER: session.session_id})

    def _session(self, caller: Caller, headers: Mapping[str, str]) -> McpSession | McpReply:
        session_id = headers.get(SESSION_HEADER)
        if not session_id:
            return rpc_error(None, INVALID_REQUEST, f"{SESSION_HEADER}: initialize first", 400)
        self._expire()
        session = self._sessions.get(session_id)
        # Another person's session id answers as an unknown one: ids are not shared.
        if session is None or session.person_id != caller.person_id:
            return rpc_error(None, INVALID_REQUEST, "session not found: initialize again", 404)
        version = headers.get(VERSION_HEADER)
        if version is not None and version != session.version:
            return rpc_error(
                None,
                INVALID_REQUEST,
                f"{VERSION_HEADER}: {version[:40]!r} is not this session's {session.version}",
                400,
            )
        session.last_used = time.monotonic()
        self._sessions.move_to_end(session_id)
        return session

    def _expire(self) -> None:
        cutoff = time.monotonic() - SESSION_IDLE_SECONDS
        while self._sessions:
            key, oldest = next(iter(self._sessions.items()))
            if oldest.last_used >= cutoff:
                return
            del self._sessions[key]

    # Methods

    async def _dispatch(self, caller: Caller, method: str, params: dict[str, Any]) -> Any:
        if method == "ping":
            return {}
        if method == "tools/list":
            if params.get("cursor") is not None:
                raise _InvalidParams("cursor: this server lists every tool at once")
            return {"tools": await (await self.bridge()).list_tools(caller)}
        if method == "tools/call":
            name = params.get("name")
            arguments = params.get("arguments")
            if not isinstance(name, str) or not name:
                raise _InvalidParams("name: the tool's name is needed")
            if arguments is None:
                arguments = {}
            if not isinstance(arguments, dict):
                raise _InvalidParams("arguments: an object is needed")
            from hub.agent.mcp_tools import InvalidParamsError

            try:
                return await (await self.bridge()).call_tool(caller, name, arguments)
            except InvalidParamsError as err:
                raise _InvalidParams(str(err)) from None
        raise LookupError(method)

    async def bridge(self) -> ToolBridge:
        """The tool bridge, built (pydantic-ai imported off the event loop) on first use."""
        if self._bridge is None:
            async with self._lock:
                if self._bridge is None:
                    await asyncio.to_thread(importlib.import_module, "hub.agent.mcp_tools")
                    self._bridge = await self._build_bridge()
        return self._bridge
