"""A test integration for workflow steps: two dimmable lights whose ``set_level`` takes a number.
The tests copy this folder into a hub's integrations directory; several entries may exist (one
per person, or the household's)."""

from __future__ import annotations

from typing import Any

from hub.integrations.entities import (
    EntityStateActionDescriptor,
    EntityStateActionResult,
    EntityStateRecord,
    EntityStateTypeDescriptor,
)
from hub.integrations.integration import Integration
from hub.integrations.manifest import FieldDescriptor

LIGHT = EntityStateTypeDescriptor(
    key="light",
    name="Light",
    actions=(
        EntityStateActionDescriptor(
            name="set_level",
            label="Set level",
            fields=(FieldDescriptor(name="level", label="Level", type="number"),),
        ),
        EntityStateActionDescriptor(name="turn_off", label="Turn off"),
    ),
)


class Dimmers(Integration):
    """Two lights, off at first."""

    def entity_types(self) -> dict[str, EntityStateTypeDescriptor]:
        """The one type."""
        return {"light": LIGHT}

    async def async_initial_entities(self, ctx: Any) -> list[EntityStateRecord]:
        """The lights as they start."""
        return [
            EntityStateRecord(entity_type="light", external_id=key, name=name, state="off")
            for key, name in (("hall", "Hall"), ("porch", "Porch"))
        ]

    async def async_call_action(
        self,
        ctx: Any,
        *,
        entity_type: str,
        external_id: str,
        action: str,
        args: dict[str, Any],
        current: EntityStateRecord | None,
    ) -> EntityStateActionResult:
        """``set_level`` 0 is off; anything else is on at that level."""
        level = float(args.get("level", 0)) if action == "set_level" else 0.0
        state = "on" if level > 0 else "off"
        name = current.name if current is not None else external_id
        updated = EntityStateRecord(
            entity_type=entity_type,
            external_id=external_id,
            name=name,
            state=state,
            attributes={"level": level},
        )
        return EntityStateActionResult(records=(updated,), message=f"{name} is {state}")


INTEGRATION = Dimmers()
