"""Toolset wrappers that hand a tool's exception back to the model as a failed tool result.

Without them an integration's bug would end the whole run; with them the model sees
``ValueError: ...`` as the tool's answer and can adapt. An integration's tools go through its
entry's runtime (``EntryTools``), so a tool fails as any other call into that integration would: a
refused key asks the person to reauthenticate, a bug is logged once with a correlation id, a hang
ends at the hub's deadline. Imported only when a run starts, since they subclass pydantic-ai classes.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from pydantic_ai.exceptions import ApprovalRequired, CallDeferred, ModelRetry, ToolFailed
from pydantic_ai.toolsets import WrapperToolset

from hub.core.errors import IntegrationError
from hub.core.redact import safe_text
from hub.integrations.runtime import TOOL, EntryRuntime

_LOGGER = logging.getLogger(__name__)

_PASS_THROUGH = (ModelRetry, ToolFailed, CallDeferred, ApprovalRequired, asyncio.CancelledError)


@dataclass
class ToolErrorsToModel(WrapperToolset[Any]):
    """Turns any exception from a wrapped tool into ``ToolFailed`` with a redacted message."""

    async def call_tool(self, name: str, tool_args: dict[str, Any], ctx: Any, tool: Any) -> Any:
        """Call the tool; an exception becomes a failed result the model sees."""
        try:
            return await super().call_tool(name, tool_args, ctx, tool)
        except _PASS_THROUGH:
            raise
        except Exception as err:  # noqa: BLE001  # handed to the model as the tool's answer
            message = safe_text(err, limit=500)
            _LOGGER.warning("Tool %s failed: %s", name, message or type(err).__name__)
            text = f"{type(err).__name__}: {message}" if message else type(err).__name__
            raise ToolFailed(text) from None


@dataclass
class EntryTools(WrapperToolset[Any]):
    """An entry's tools, each call made through the entry's runtime and its outcomes."""

    runtime: EntryRuntime | None = None

    async def call_tool(self, name: str, tool_args: dict[str, Any], ctx: Any, tool: Any) -> Any:
        """Call the tool under the entry's deadline; a failure becomes what the model is told."""
        if self.runtime is None:
            return await super().call_tool(name, tool_args, ctx, tool)
        try:
            return await self.runtime.call(
                TOOL,
                name,
                tool_args,
                ctx,
                tool,
                timeout=self.runtime.deadlines.tool,
                target=super().call_tool,
                label=f"tool {name}",
                passthrough=_PASS_THROUGH,
            )
        except IntegrationError as err:
            raise ToolFailed(_told(err)) from None


def for_entry(toolset: Any, runtime: EntryRuntime) -> EntryTools:
    """Wrap one of an entry's toolsets so its calls go through the entry's runtime."""
    return EntryTools(toolset, runtime)


def _told(err: IntegrationError) -> str:
    correlation_id = err.params.get("correlation_id")
    return f"{err.reason} (log id {correlation_id})" if correlation_id else err.reason


def catching(toolsets: list[Any]) -> list[Any]:
    """Wrap each toolset of a run."""
    return [ToolErrorsToModel(toolset) for toolset in toolsets]
