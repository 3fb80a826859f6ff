"""A toolset wrapper that hands a tool's exception back to the model as a failed tool result.

Without it an integration's bug would end the whole run; with it the model sees
``ValueError: ...`` as the tool's answer and can adapt. Imported only when a run starts, since it
subclasses a pydantic-ai class.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from pydantic_ai.exceptions import ApprovalRequired, CallDeferred, ModelRetry, ToolFailed
from pydantic_ai.toolsets import WrapperToolset

from hub.core.redact import safe_text

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


def catching(toolsets: list[Any]) -> list[Any]:
    """Wrap each toolset of a run."""
    return [ToolErrorsToModel(toolset) for toolset in toolsets]
