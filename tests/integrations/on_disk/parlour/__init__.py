"""A parlour's lamp and clock: entity types and a device whose words come from translations.

The lamp's type names its words by a ``translation_key`` other than its key; the clock's type has
none, so its key is used; the device is named by its own ``translation_key``.
"""

from __future__ import annotations

from hub.integrations.entities import (
    DeviceInfo,
    EntityStateActionDescriptor,
    EntityStateRecord,
    EntityStateTypeDescriptor,
)
from hub.integrations.integration import Integration, SetupContext
from hub.integrations.manifest import FieldDescriptor

TYPES = {
    "lamp": EntityStateTypeDescriptor(
        key="lamp",
        name="Lamp",
        translation_key="light",
        attributes=(FieldDescriptor(name="brightness", label="Brightness", type="number"),),
        actions=(
            EntityStateActionDescriptor(
                name="dim",
                label="Dim",
                fields=(FieldDescriptor(name="level", label="Level", type="number"),),
            ),
        ),
    ),
    "clock": EntityStateTypeDescriptor(key="clock", name="Clock", unit="s"),
}
HUB = DeviceInfo(identifier="hub", name="Parlour hub", translation_key="parlour_hub")


class Parlour(Integration):
    """Seeds one lamp (on the parlour hub) and one clock (on no device)."""

    def entity_types(self) -> dict[str, EntityStateTypeDescriptor]:
        return dict(TYPES)

    async def async_initial_entities(self, ctx: SetupContext) -> list[EntityStateRecord]:
        return [
            EntityStateRecord(
                entity_type="lamp",
                external_id="lamp",
                name="Lamp",
                state="dimmed",
                attributes={"brightness": 40},
                device=HUB,
            ),
            EntityStateRecord(entity_type="clock", external_id="clock", name="Clock", state=5),
        ]


INTEGRATION = Parlour()
