"""Text Tools: everyday text work for the agent, computed locally, with no configuration."""

from __future__ import annotations

from typing import Any

from hub.integrations.integration import Integration, SetupContext

from .tools import build_toolset


class TextToolsIntegration(Integration):
    """Contributes one toolset of text tools to every entry."""

    async def async_setup_entry(self, ctx: SetupContext) -> list[Any]:
        """Return the text toolset."""
        return [build_toolset()]


INTEGRATION = TextToolsIntegration()
