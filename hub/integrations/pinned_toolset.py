"""The pydantic-ai wrapper that offers only tools whose definition matches its pin.

Imported only when a toolset is built (it subclasses pydantic-ai). ``limit`` bounds how many of
the wrapped toolset's tools are considered at all, in the order the server lists them, so a server
listing thousands of tools costs a run a bounded prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic_ai.toolsets import WrapperToolset

from hub.integrations.tool_review import ToolPins, ToolSpec


@dataclass
class PinnedToolset(WrapperToolset[Any]):
    """Withholds tools that are new or changed since they were pinned; see ``tool_review``."""

    pins: ToolPins = field(default_factory=lambda: ToolPins({}))
    limit: int | None = None

    async def get_tools(self, ctx: Any) -> dict[str, Any]:
        """The wrapped tools, bounded by ``limit``, each offered only while it matches its pin."""
        tools = await super().get_tools(ctx)
        names = list(tools)[: self.limit] if self.limit is not None else list(tools)
        specs = [spec_of(tools[name].tool_def) for name in names]
        allowed = self.pins.observe(specs)
        return {name: tools[name] for name in names if name in allowed}


def spec_of(tool_def: Any) -> ToolSpec:
    """A pydantic-ai ``ToolDefinition`` as a ``ToolSpec``."""
    return ToolSpec(
        name=tool_def.name,
        description=tool_def.description or "",
        input_schema=tool_def.parameters_json_schema or {},
    )
