"""Text Tools: everyday text work for the agent, computed locally, with no configuration."""

from __future__ import annotations

from typing import Any

from hub.integrations.integration import Integration, SetupContext
from hub.integrations.toolsets import deferred

from .tools import build_toolset


class TextToolsIntegration(Integration):
    """Contributes one toolset of text tools to every entry."""

    async def async_setup_entry(self, ctx: SetupContext) -> list[Any]:
        """Return the text toolset, built when an agent first needs it (pydantic-ai loads then)."""
        return [deferred(build_toolset, label="text_tools")]


INTEGRATION = TextToolsIntegration()
