"""Turns pydantic-ai's run events into the chat's own: text deltas, tool calls, tool results."""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from typing import Any, Final

from pydantic_ai.messages import (
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
)

from hub.core.redact import SECRETS

MAX_RESULT: Final = 4_000
"""Characters of a tool result shown in the chat; the model gets all of it."""


@dataclass(frozen=True, slots=True)
class StreamHandler:
    """The ``event_stream_handler`` of a chat run."""

    on_text: Callable[[str], None]
    on_call: Callable[[dict[str, Any]], None]
    on_result: Callable[[dict[str, Any]], None]

    async def __call__(self, ctx: Any, events: AsyncIterable[Any]) -> None:
        """Forward each event as it arrives."""
        async for event in events:
            if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                self.on_text(event.part.content)
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                self.on_text(event.delta.content_delta)
            elif isinstance(event, FunctionToolCallEvent):
                part = event.part
                self.on_call(
                    {
                        "call_id": part.tool_call_id,
                        "tool": part.tool_name,
                        "args": part.args_as_dict(),
                    }
                )
            elif isinstance(event, FunctionToolResultEvent):
                result = event.part
                outcome = getattr(result, "outcome", "success")
                content = result.model_response_str()
                self.on_result(
                    {
                        "call_id": result.tool_call_id,
                        "tool": result.tool_name,
                        "content": SECRETS.redact(content)[:MAX_RESULT],
                        "error": outcome != "success",
                    }
                )
