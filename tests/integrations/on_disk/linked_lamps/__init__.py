"""Lamps under a bridge, on the bridge's device, written as the specification shows.

The seed links each lamp to its parent and device. The pull sync is a state poll that does not
know where a lamp hangs, and the actions build their answer from ``current``: neither may unlink.
"""

from __future__ import annotations

from typing import Any

from hub.integrations.entities import (
    DeviceInfo,
    EntityStateActionDescriptor,
    EntityStateActionResult,
    EntityStateRecord,
    EntityStateSyncResult,
    EntityStateTypeDescriptor,
)
from hub.integrations.integration import Integration, SetupContext

BRIDGE = EntityStateTypeDescriptor(key="bridge", name="Bridge")
LAMP = EntityStateTypeDescriptor(
    key="lamp",
    name="Lamp",
    actions=(
        EntityStateActionDescriptor(name="turn_on", label="Turn on"),
        EntityStateActionDescriptor(name="turn_off", label="Turn off"),
        EntityStateActionDescriptor(name="detach", label="Detach"),
    ),
)
DEVICE = DeviceInfo(identifier="bridge-1", name="Hall bridge", manufacturer="Acme")
LAMPS = {"hall": "Hall lamp", "porch": "Porch lamp"}


class LinkedLamps(Integration):
    """Seeds the links once; polls states; acts from ``current``."""

    def entity_types(self) -> dict[str, EntityStateTypeDescriptor]:
        return {"bridge": BRIDGE, "lamp": LAMP}

    async def async_initial_entities(self, ctx: SetupContext) -> list[EntityStateRecord]:
        bridge = EntityStateRecord(
            entity_type="bridge", external_id="bridge-1", name="Hall bridge", device=DEVICE
        )
        lamps = [
            EntityStateRecord(
                entity_type="lamp",
                external_id=key,
                name=name,
                parent_type="bridge",
                parent_external_id="bridge-1",
                device=DEVICE,
            )
            for key, name in LAMPS.items()
        ]
        return [bridge, *lamps]

    async def async_sync_entities(self, ctx: SetupContext) -> EntityStateSyncResult:
        records = tuple(
            EntityStateRecord(entity_type="lamp", external_id=key, name=name, state="off")
            for key, name in LAMPS.items()
        )
        return EntityStateSyncResult(records=records, full=True, entity_types=("lamp",))

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
        device = current.device.identifier if current.device else None
        seen = f"{current.parent_type}/{current.parent_external_id} on {device}"
        if action == "turn_on":
            # The specification's pattern: the updated record built from ``current``.
            updated = current.model_copy(update={"state": "on"})
        elif action == "turn_off":
            # A new record naming what the action knows; it leaves parent and device out.
            updated = EntityStateRecord(
                entity_type=entity_type,
                external_id=external_id,
                name=current.name,
                state="off",
                attributes=current.attributes,
            )
        else:
            update = {"parent_type": None, "parent_external_id": None, "device": None}
            updated = current.model_copy(update=update)
        return EntityStateActionResult(records=(updated,), message=seen)


INTEGRATION = LinkedLamps()
