"""A doorbell chime for workflow tests: a switch and a level to change, and a custom event it fires.

``set`` changes the switch's state (a state trigger sees it), ``set_level`` the level's number,
and ``ring`` fires ``chimes.rang``, an event type the integration declares (an event trigger).
"""

from __future__ import annotations

from typing import Any

from hub.integrations.entities import (
    EntityStateActionDescriptor,
    EntityStateActionResult,
    EntityStateRecord,
    EntityStateTypeDescriptor,
    EventTypeDescriptor,
)
from hub.integrations.integration import Integration, SetupContext
from hub.integrations.manifest import FieldDescriptor

RANG = "chimes.rang"
TYPES = {
    "switch": EntityStateTypeDescriptor(
        key="switch",
        name="Switch",
        actions=(
            EntityStateActionDescriptor(
                name="set", label="Set", fields=(FieldDescriptor(name="state", label="State"),)
            ),
            EntityStateActionDescriptor(
                name="ring",
                label="Ring",
                fields=(FieldDescriptor(name="tune", label="Tune", required=False),),
            ),
        ),
    ),
    "level": EntityStateTypeDescriptor(
        key="level",
        name="Level",
        actions=(
            EntityStateActionDescriptor(
                name="set_level",
                label="Set level",
                fields=(FieldDescriptor(name="level", label="Level", type="number"),),
            ),
        ),
    ),
}


class Chimes(Integration):
    """Seeds a switch (off) and a level (20)."""

    def entity_types(self) -> dict[str, EntityStateTypeDescriptor]:
        return dict(TYPES)

    def event_types(self) -> dict[str, EventTypeDescriptor]:
        return {
            RANG: EventTypeDescriptor(
                event_type=RANG,
                name="Chime rang",
                payload_schema=(FieldDescriptor(name="tune", label="Tune"),),
            )
        }

    async def async_initial_entities(self, ctx: SetupContext) -> list[EntityStateRecord]:
        return [
            EntityStateRecord(entity_type="switch", external_id="bell", name="Bell", state="off"),
            EntityStateRecord(entity_type="level", external_id="volume", name="Volume", state=20),
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
    ) -> EntityStateActionResult | None:
        assert current is not None
        if action == "ring":
            if ctx.events is not None:
                ctx.events.emit(RANG, {"tune": str(args.get("tune") or "ding")})
            return EntityStateActionResult(message="rang")
        state = args["state"] if action == "set" else args["level"]
        return EntityStateActionResult(records=(current.model_copy(update={"state": state}),))


INTEGRATION = Chimes()
