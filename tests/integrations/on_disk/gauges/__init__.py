"""A boiler's gauges: readings for everyone, and internal (diagnostic, config) entities seeded after them.

The internal ones come last, so they have the highest ids: a filter applied after a limit misses them.
"""

from __future__ import annotations

from typing import Any

from hub.integrations.entities import (
    EntityStateActionDescriptor,
    EntityStateActionResult,
    EntityStateRecord,
    EntityStateTypeDescriptor,
)
from hub.integrations.integration import Integration, SetupContext

TYPES = {
    "reading": EntityStateTypeDescriptor(key="reading", name="Reading", rag=True, unit="°C"),
    "firmware": EntityStateTypeDescriptor(
        key="firmware", name="Firmware", rag=True, category="diagnostic"
    ),
    "target": EntityStateTypeDescriptor(
        key="target",
        name="Target",
        rag=True,
        category="config",
        actions=(EntityStateActionDescriptor(name="reset", label="Reset"),),
    ),
}
SEED = (
    ("reading", "flow", "Boiler flow temperature", 61.5),
    ("reading", "return", "Boiler return temperature", 48.0),
    ("reading", "outside", "Outside temperature", 7.5),
    ("reading", "room", "Room temperature", 21.0),
    ("firmware", "fw", "Boiler firmware", "2.1.0"),
    ("target", "setpoint", "Boiler target temperature", 60),
)


class Gauges(Integration):
    """Seeds its gauges once; a config entity can be reset."""

    def entity_types(self) -> dict[str, EntityStateTypeDescriptor]:
        return dict(TYPES)

    async def async_initial_entities(self, ctx: SetupContext) -> list[EntityStateRecord]:
        return [
            EntityStateRecord(entity_type=kind, external_id=key, name=name, state=state)
            for kind, key, name, state in SEED
        ]

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
        assert current is not None
        updated = current.model_copy(update={"state": 55})
        return EntityStateActionResult(records=(updated,), message="reset to 55")


INTEGRATION = Gauges()
