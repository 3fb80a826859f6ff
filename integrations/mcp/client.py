"""The MCP side: how to reach a server (HTTP or a stdio child), and one probe of it.

Nothing here is imported with the hub: ``fastmcp`` (which pydantic-ai's ``MCPToolset`` is built
on) is imported inside the functions that need it. A stdio server is started through
``env -i`` with only ``PATH``, ``HOME`` (a private directory) and ``LANG``: the MCP SDK would
otherwise hand it the hub's ``HOME``, ``USER``, ``SHELL`` and ``TERM``, and no secret of the hub
belongs in a program an admin merely named.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from hub.integrations.tool_review import ToolSpec

Transport = Literal["http", "stdio"]

INIT_TIMEOUT: Final = 10.0
"""Seconds to connect and finish ``initialize``."""
REQUEST_TIMEOUT: Final = 60.0
"""Seconds an MCP request may take (the entry runtime's tool deadline bounds a call too)."""
PROBE_TIMEOUT: Final = 15.0
"""Seconds a whole probe (connect, initialize, list tools) may take."""
MAX_TOOLS: Final = 128
"""Tools of one server pinned and offered at most (in the server's order); the entry says so."""
MAX_RESULT_CHARS: Final = 100_000
"""Characters of one tool result that reach the model; the rest is cut, with a note."""
CHILD_PATH: Final = "/usr/local/bin:/usr/bin:/bin"
CHILD_LANG: Final = "C.UTF-8"

CANNOT_CONNECT: Final = "cannot_connect"
AUTH_FAILED: Final = "auth_failed"
NOT_AN_MCP_SERVER: Final = "not_an_mcp_server"
COMMAND_NOT_FOUND: Final = "command_not_found"
TIMEOUT: Final = "timeout"


class McpProbeError(Exception):
    """A probe failed; ``kind`` is the flow's error key, the message is for the log."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """How to reach one server: a URL (and a bearer token), or a command line."""

    transport: Transport
    url: str = ""
    token: str | None = None
    argv: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"ServerSpec({self.transport}, {self.url or ' '.join(self.argv[:1])})"


def split_command(command: str) -> tuple[str, ...]:
    """The command line split as a shell splits words; ``ValueError`` for an unclosed quote."""
    return tuple(shlex.split(command))


def resolve_program(argv: tuple[str, ...]) -> str | None:
    """The program's absolute path: as given when absolute, else found on the child's ``PATH``."""
    if not argv:
        return None
    program = argv[0]
    if os.sep in program:
        return program if os.access(program, os.X_OK) and os.path.isfile(program) else None
    return shutil.which(program, path=CHILD_PATH)


def child_env(home: str) -> dict[str, str]:
    """Everything a stdio server's environment holds."""
    return {"PATH": CHILD_PATH, "HOME": home, "LANG": CHILD_LANG}


def make_client(spec: ServerSpec, home: str) -> Any:
    """A FastMCP ``Client`` for ``spec`` (imports fastmcp)."""
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport, StreamableHttpTransport

    transport: Any
    if spec.transport == "http":
        headers = {"Authorization": f"Bearer {spec.token}"} if spec.token else None
        transport = StreamableHttpTransport(spec.url, headers=headers)
    else:
        program = resolve_program(spec.argv)
        if program is None:
            raise McpProbeError(COMMAND_NOT_FOUND, f"{spec.argv[:1]} is not an executable")
        env_program = shutil.which("env") or "/usr/bin/env"
        pairs = [f"{key}={value}" for key, value in child_env(home).items()]
        transport = StdioTransport(
            env_program,
            ["-i", *pairs, program, *spec.argv[1:]],
            env={},
            cwd=home,
            keep_alive=True,
            log_file=Path(os.devnull),  # the child's stderr: not the hub's console
        )
    return Client(transport, init_timeout=INIT_TIMEOUT, timeout=REQUEST_TIMEOUT)


async def close_client(client: Any) -> None:
    """Stop a client's connection (a stdio child ends with it)."""
    transport = getattr(client, "transport", None)
    close = getattr(transport, "close", None)
    if close is not None:
        await close()


@dataclass(frozen=True, slots=True)
class Probe:
    """What one probe learned: the server's name and its tools, in its order."""

    server_name: str
    tools: list[ToolSpec]


async def probe(spec: ServerSpec, home: str, *, client: Any | None = None) -> Probe:
    """Connect, initialize and list the tools, within ``PROBE_TIMEOUT``; ``McpProbeError`` else."""
    own = client is None
    if client is None:
        client = make_client(spec, home)
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            async with client:
                tools = await client.list_tools()
                info = client.initialize_result
                name = info.server_info.name if info is not None else ""
    except McpProbeError:
        raise
    except TimeoutError:
        raise McpProbeError(TIMEOUT, f"no answer within {PROBE_TIMEOUT:g} s") from None
    except BaseException as err:  # whatever the server did becomes one kind
        if isinstance(err, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
            raise
        kind = classify(err)
        if kind == NOT_AN_MCP_SERVER and spec.transport == "http" and await _refused(spec):
            kind = AUTH_FAILED  # the SDK reports any 4xx alike; the status tells a refusal apart
        raise McpProbeError(kind, describe(err)) from None
    finally:
        if own and spec.transport == "stdio":
            await close_client(client)
    specs = [
        ToolSpec(tool.name, tool.description or "", dict(tool.input_schema or {})) for tool in tools
    ]
    return Probe(server_name=name or "", tools=specs)


async def _refused(spec: ServerSpec) -> bool:
    """Whether the server answers a plain ``initialize`` with 401 or 403."""
    import httpx

    headers = {"Accept": "application/json, text/event-stream"}
    if spec.token:
        headers["Authorization"] = f"Bearer {spec.token}"
    body = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}}
    try:
        async with httpx.AsyncClient(timeout=5.0, follow_redirects=True) as http:
            response = await http.post(spec.url, json=body, headers=headers)
    except httpx.HTTPError:
        return False
    return response.status_code in (401, 403)


def classify(err: BaseException) -> str:
    """The flow's error key for what a connection attempt raised."""
    leaves = list(_leaves(err))
    for leaf in leaves:
        status = getattr(getattr(leaf, "response", None), "status_code", None)
        if status in (401, 403):
            return AUTH_FAILED
        if isinstance(leaf, FileNotFoundError | PermissionError):
            return COMMAND_NOT_FOUND
    for leaf in leaves:
        text = f"{type(leaf).__name__} {leaf}".lower()
        if "401" in text or "403" in text or "unauthorized" in text or "forbidden" in text:
            return AUTH_FAILED
        if isinstance(leaf, TimeoutError) or "timeout" in type(leaf).__name__.lower():
            return TIMEOUT
        if isinstance(leaf, ConnectionError) or type(leaf).__name__ in ("ConnectError",):
            return CANNOT_CONNECT
    return NOT_AN_MCP_SERVER


def describe(err: BaseException) -> str:
    """A short text of what was raised, for the log (never the token: headers are not in it)."""
    leaf = next(iter(_leaves(err)), err)
    return f"{type(leaf).__name__}: {str(leaf)[:300]}"


def _leaves(err: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    stack = [err]
    while stack and len(seen) < 50:
        current = stack.pop()
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
            continue
        seen.append(current)
        cause = current.__cause__ or current.__context__
        if cause is not None and cause not in seen:
            stack.append(cause)
    return seen
