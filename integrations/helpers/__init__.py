"""Helpers: toggles, numbers and buttons whose state the hub itself owns (like HA's input_* helpers)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.integrations.entities import (
    EntityStateActionResult,
    EntityStateRecord,
    EntityStateTypeDescriptor,
)
from hub.integrations.integration import Integration, SetupContext

from .config_flow import HelpersConfigFlow
from .entities import ENTITY_TYPES
from .model import apply_action, initial_record


class HelpersIntegration(Integration):
    """One entity per entry, seeded once and changed only by its actions: never pull-synced."""

    config_flow_cls = HelpersConfigFlow

    def entity_types(self) -> dict[str, EntityStateTypeDescriptor]:
        """Toggle, number and button."""
        return dict(ENTITY_TYPES)

    async def async_initial_entities(self, ctx: SetupContext) -> list[EntityStateRecord]:
        """The helper's entity in its starting state: off, its minimum, or never pressed."""
        return [initial_record(ctx.data)]

    async def async_call_action(
        self,
        ctx: SetupContext,
        *,
        entity_type: str,
        external_id: str,
        action: str,
        args: dict[str, Any],
        current: EntityStateRecord | None,
    ) -> EntityStateActionResult:
        """Compute the helper's new state from ``current``; a ``ValueError`` explains a refused call."""
        record, message = apply_action(
            entity_type, action, args, current, ctx.data, datetime.now(UTC)
        )
        return EntityStateActionResult(records=(record,), message=message)


INTEGRATION = HelpersIntegration()
