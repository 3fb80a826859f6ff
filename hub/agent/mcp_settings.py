"""What an admin set for the hub's MCP server: whether it answers, and the tier its clients get.

An MCP client is another agent on a model the hub knows nothing of, so it is cleared for the tier
an admin chooses here, ``unregulated`` unless they raise it: data an integration marks
``internal`` never leaves the hub by default. Kept in ``.storage/core.mcp_server``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

from hub.core.committed import Committed
from hub.core.storage import StorageManager
from hub.integrations.manifest import Tier, parse_tier

MCP_SETTINGS_KEY: Final = "core.mcp_server"
MCP_SETTINGS_VERSION: Final = 1

TierName = Literal["unregulated", "regulated", "internal"]


class McpServerSettings(BaseModel):
    """The MCP server's settings as stored and as the admin endpoint shows them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    tier: TierName = "unregulated"

    @property
    def tier_level(self) -> Tier:
        """The tier as the assembler's gate takes it."""
        return parse_tier(self.tier)


class McpSettings:
    """The stored settings, read on first use (the hub's start-up does not wait for them)."""

    def __init__(self, storage: StorageManager) -> None:
        self._state = Committed[McpServerSettings](
            storage.store(MCP_SETTINGS_KEY, MCP_SETTINGS_VERSION), McpServerSettings(), _encode
        )
        self._loaded = False
        self._lock = asyncio.Lock()

    async def get(self) -> McpServerSettings:
        """The settings; a damaged file counts as the defaults rather than failing every call."""
        if not self._loaded:
            async with self._lock:
                if not self._loaded:
                    data = await self._state.store.load()
                    stored = data.get("settings") if isinstance(data, dict) else None
                    if stored is not None:
                        # Damaged: the defaults, the lowest tier, never a wider one.
                        with contextlib.suppress(ValueError):
                            self._state.reset(McpServerSettings.model_validate(stored))
                    self._loaded = True
        return self._state.value

    async def change(self, **changes: Any) -> McpServerSettings:
        """Apply ``changes`` (fields of ``McpServerSettings``), on disk and then in memory."""
        await self.get()
        return await self._state.change(lambda old: old.model_copy(update=changes))


def _encode(settings: McpServerSettings) -> dict[str, Any]:
    return {"settings": settings.model_dump(mode="json")}
