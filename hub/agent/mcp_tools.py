"""The bridge between MCP's ``tools/list`` and ``tools/call`` and a person's assembled tools.

A client gets exactly what a chat run of that person would get on a model of the tier an admin set
for MCP clients: the assembler's tier gate, untrusted gate and approval gate apply unchanged. Tools
are listed and called through pydantic-ai's toolset API with a run context built here (there is
no model run; the context carries the run's deps). Imported only once a client calls, since it
imports pydantic-ai.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections.abc import Callable
from typing import Any, Final

import pydantic_core
from pydantic import ValidationError
from pydantic_ai import RunContext
from pydantic_ai.exceptions import ApprovalRequired, CallDeferred, ModelRetry, ToolFailed
from pydantic_ai.messages import ToolReturn
from pydantic_ai.models.test import TestModel
from pydantic_ai.toolsets import CombinedToolset
from pydantic_ai.usage import RunUsage

from hub.agent.approvals import Approvals, is_read_only
from hub.agent.assembler import Assembly, RunScope, ToolsetAssembler, ToolSource
from hub.agent.mcp_server import Caller
from hub.agent.tool_errors import catching
from hub.core.redact import safe_text

_LOGGER = logging.getLogger(__name__)
_AUDIT = logging.getLogger("hub.agent.audit")

MAX_RESULT_CHARS: Final = 100_000
"""The most text one call returns: a client's model pays for every character of it."""
MAX_ARGS_SHOWN: Final = 500

# A context needs a model; no request is ever made with this one (nothing runs a model here).
_NO_MODEL: Final = TestModel()


class InvalidParamsError(Exception):
    """The call names no tool the person has, or arguments its schema refuses: JSON-RPC -32602."""


class ToolBridge:
    """Lists and calls a person's tools for an MCP client."""

    def __init__(
        self, assembler: ToolsetAssembler, approvals: Callable[[], Approvals | None] = lambda: None
    ) -> None:
        self._assembler = assembler
        self._approvals = approvals

    async def list_tools(self, caller: Caller) -> list[dict[str, Any]]:
        """The person's tools as MCP tool descriptions."""
        assembly, toolset = self._assemble(caller)
        async with toolset:
            tools = await toolset.get_tools(_context(assembly))
        return [_describe(tool.tool_def) for tool in tools.values() if _offered(tool.tool_def)]

    async def call_tool(
        self, caller: Caller, name: str, arguments: dict[str, Any]
    ) -> dict[str, Any]:
        """Call one tool; the MCP ``CallToolResult``. ``InvalidParamsError`` for a bad call."""
        assembly, toolset = self._assemble(caller)
        source = assembly.attribution.get(name, ToolSource(None, None))
        ctx = _context(assembly)
        async with toolset:
            tool = (await toolset.get_tools(ctx)).get(name)
            if tool is None or not _offered(tool.tool_def):
                raise InvalidParamsError(f"unknown tool: {name[:100]}")
            try:
                args = tool.args_validator.validate_python(arguments)
            except ValidationError as err:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                    for e in err.errors()[:10]
                )
                raise InvalidParamsError(f"invalid arguments for {name}: {problems}") from None
            call_ctx = dataclasses.replace(
                ctx, tool_name=name, tool_call_id=f"mcp-{secrets.token_hex(6)}"
            )
            outcome, result = await self._call(caller, toolset, tool, name, args, call_ctx, source)
        _AUDIT.info(
            "person=%s channel=mcp tool=%s integration=%s entry=%s outcome=%s",
            caller.person_id,
            name,
            source.domain or "hub",
            source.entry_id or "-",
            outcome,
        )
        return result

    async def _call(
        self,
        caller: Caller,
        toolset: Any,
        tool: Any,
        name: str,
        args: dict[str, Any],
        ctx: Any,
        source: ToolSource,
    ) -> tuple[str, dict[str, Any]]:
        try:
            try:
                value = await toolset.call_tool(name, args, ctx, tool)
            except ApprovalRequired:
                approvals = self._approvals()
                if approvals is None or not approvals.take_grant(caller.person_id, name, args):
                    return "approval_pending", await self._pending(
                        caller, approvals, name, args, tool, source
                    )
                approved = dataclasses.replace(ctx, tool_call_approved=True)
                value = await toolset.call_tool(name, args, approved, tool)
        except (ToolFailed, ModelRetry) as err:
            return "failed", _error(safe_text(err, limit=2_000) or type(err).__name__)
        except (CallDeferred, ApprovalRequired):
            return "failed", _error(f"{name} cannot run for an MCP client")
        except Exception:  # a bug past the tool wrappers: logged once, the client gets an id
            correlation_id = secrets.token_hex(4)
            _LOGGER.exception("MCP call of %s failed [correlation id %s]", name, correlation_id)
            return "failed", _error(f"internal error (log id {correlation_id})")
        return "ok", {"content": [{"type": "text", "text": _text(value)}], "isError": False}

    async def _pending(
        self,
        caller: Caller,
        approvals: Approvals | None,
        name: str,
        args: dict[str, Any],
        tool: Any,
        source: ToolSource,
    ) -> dict[str, Any]:
        if approvals is None:  # a gate without the approvals service: nothing could grant it
            return _error(f"{name} needs an approval the hub cannot ask for")
        pending = await approvals.request(
            caller.person_id,
            tool=name,
            args=args,
            source_domain=source.domain,
            entry_id=source.entry_id,
            entry_title=source.entry_title,
            read_only=is_read_only(tool.tool_def),
            channel="mcp",
            conversation_id=None,
        )
        expires = _iso(getattr(pending, "expires_at", None))
        return _error(caller.pending_text(name, str(pending.id), expires))

    def _assemble(self, caller: Caller) -> tuple[Assembly, Any]:
        scope = RunScope(caller.person_id, caller.tier, allow_local_fetch=caller.allow_local_fetch)
        assembly = self._assembler.assemble(scope)
        # ``delegate_to`` is left out: a sub-agent needs a model run, and the client is the agent.
        toolsets = catching([item.toolset for item in assembly.toolsets])
        return assembly, CombinedToolset(toolsets)


def _context(assembly: Assembly) -> Any:
    return RunContext(deps=assembly.deps, model=_NO_MODEL, usage=RunUsage())


def _offered(tool_def: Any) -> bool:
    return getattr(tool_def, "kind", "function") == "function"


def _describe(tool_def: Any) -> dict[str, Any]:
    read_only = is_read_only(tool_def)
    return {
        "name": tool_def.name,
        "description": tool_def.description or "",
        "inputSchema": tool_def.parameters_json_schema or {"type": "object", "properties": {}},
        "annotations": {"readOnlyHint": read_only, "openWorldHint": not read_only},
    }


def _text(value: Any) -> str:
    if isinstance(value, ToolReturn):
        value = value.return_value
    text = value if isinstance(value, str) else pydantic_core.to_json(value, fallback=str).decode()
    if len(text) > MAX_RESULT_CHARS:
        more = len(text) - MAX_RESULT_CHARS
        text = f"{text[:MAX_RESULT_CHARS]}\n[truncated: {more} more characters]"
    return text


def _error(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}


def _iso(at: Any) -> str:
    import datetime

    if isinstance(at, int | float):
        return datetime.datetime.fromtimestamp(at, datetime.UTC).isoformat(timespec="seconds")
    return str(at) if at is not None else "-"
