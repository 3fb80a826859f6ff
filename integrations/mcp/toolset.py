"""The toolset a run gets for one MCP server: pydantic-ai's ``MCPToolset`` inside three guards.

From the inside out: ``MCPToolset`` on the entry's FastMCP client (tool list not cached, so a
server that changes its tools is seen on the next listing); ``PinnedToolset`` (the first
``MAX_TOOLS`` tools, each only while it matches its pin); ``_Bounded`` (a server that does not
connect or list in time offers no tools instead of failing the run, and a result is cut at
``MAX_RESULT_CHARS``); then the entry's prefix. Imported only when a run first needs it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any, Final

from pydantic_ai.exceptions import ToolFailed
from pydantic_ai.mcp import MCPToolset
from pydantic_ai.toolsets import WrapperToolset

from hub.integrations.pinned_toolset import PinnedToolset
from hub.integrations.tool_review import ToolPins

from .client import MAX_RESULT_CHARS, MAX_TOOLS

_LOGGER = logging.getLogger(__name__)

LIST_TIMEOUT: Final = 15.0
"""Seconds to connect and list tools before a run goes on without this server."""


@dataclass
class _Bounded(WrapperToolset[Any]):
    """A server that fails to connect or list costs the run its tools, never the run."""

    label: str = "mcp"

    async def __aenter__(self) -> _Bounded:
        try:
            async with asyncio.timeout(LIST_TIMEOUT):
                await self.wrapped.__aenter__()
        except Exception as err:  # noqa: BLE001  # logged; the run goes on without the server
            _LOGGER.warning("MCP server %s did not connect: %s", self.label, type(err).__name__)
            self._entered = False
        else:
            self._entered = True
        return self

    async def __aexit__(self, *args: Any) -> bool | None:
        if getattr(self, "_entered", False):
            self._entered = False
            try:
                await self.wrapped.__aexit__(*args)
            except Exception as err:  # noqa: BLE001  # a server gone meanwhile
                _LOGGER.warning("MCP server %s did not close: %s", self.label, type(err).__name__)
        return None

    async def get_tools(self, ctx: Any) -> dict[str, Any]:
        """The server's tools, or none when it does not answer in time."""
        try:
            async with asyncio.timeout(LIST_TIMEOUT):
                return await super().get_tools(ctx)
        except Exception as err:  # noqa: BLE001  # logged; the run goes on without the server
            _LOGGER.warning("MCP server %s did not list its tools: %s", self.label, _short(err))
            return {}

    async def call_tool(self, name: str, tool_args: dict[str, Any], ctx: Any, tool: Any) -> Any:
        """The server's answer, cut at ``MAX_RESULT_CHARS``; a broken call is a failed result."""
        try:
            result = await super().call_tool(name, tool_args, ctx, tool)
        except (ToolFailed, asyncio.CancelledError):
            raise
        except BaseExceptionGroup as group:
            raise ToolFailed(f"the MCP server failed: {_short(group)}") from None
        return bounded_result(result)


def bounded_result(result: Any) -> Any:
    """``result``, or its text cut at ``MAX_RESULT_CHARS`` with a note when it is longer."""
    text = result if isinstance(result, str) else None
    if text is None:
        try:
            text = json.dumps(result, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = str(result)
        if len(text) <= MAX_RESULT_CHARS:
            return result
    if len(text) <= MAX_RESULT_CHARS:
        return result
    return (
        text[:MAX_RESULT_CHARS]
        + f"\n\n[cut: the MCP server answered {len(text):,} characters; the first"
        f" {MAX_RESULT_CHARS:,} are shown]"
    )


def build_toolset(client: Any, pins: ToolPins, *, prefix: str, label: str) -> Any:
    """The run's toolset for one server (see the module docstring)."""
    mcp = MCPToolset(
        client,
        id=None,
        cache_tools=False,
        tool_error_behavior="failed",
        max_retries=1,
        include_instructions=False,
    )
    pinned = PinnedToolset(mcp, pins=pins, limit=MAX_TOOLS)
    return _Bounded(pinned, label=label).prefixed(prefix)


def _short(err: BaseException) -> str:
    while isinstance(err, BaseExceptionGroup) and err.exceptions:
        err = err.exceptions[0]
    return f"{type(err).__name__}: {str(err)[:200]}"
