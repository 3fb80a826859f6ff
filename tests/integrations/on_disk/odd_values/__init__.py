"""Entities whose names, states and attributes hold what JSON makes hard: escapes, big numbers,
nesting, nulls, links to a parent and a device, and types with and without declared fields."""

from __future__ import annotations

from hub.integrations.entities import (
    DeviceInfo,
    EntityStateActionDescriptor,
    EntityStateRecord,
    EntityStateTypeDescriptor,
)
from hub.integrations.integration import Integration, SetupContext
from hub.integrations.manifest import FieldDescriptor

PLAIN = EntityStateTypeDescriptor(key="plain", name="Plain")
METER = EntityStateTypeDescriptor(
    key="meter",
    name="Meter",
    device_class="power",
    state_class="measurement",
    unit="W",
    category="diagnostic",
    actions=(
        EntityStateActionDescriptor(name="reset", label="Zurücksetzen"),
        EntityStateActionDescriptor(
            name="set",
            label="Set",
            fields=(FieldDescriptor(name="value", label="Wert „neu“", type="number"),),
        ),
    ),
)
DEVICE = DeviceInfo(identifier="box-1", name='Box "1"', manufacturer="Acme")
ODD_NAME = 'quote " backslash \\ newline \n tab \t bell \u0007 é ß 😀 \u2028 </script>'
STATES: tuple[str | int | float | bool | None, ...] = (
    None,
    ODD_NAME,
    "",
    1.5,
    -0.0,
    1e-7,
    12345678901234567890123,
    True,
    False,
)


class OddValues(Integration):
    """Seeds one entity per odd state, a meter on a device under a plain parent."""

    def entity_types(self) -> dict[str, EntityStateTypeDescriptor]:
        return {"plain": PLAIN, "meter": METER}

    async def async_initial_entities(self, ctx: SetupContext) -> list[EntityStateRecord]:
        records = [
            EntityStateRecord(
                entity_type="plain",
                external_id=f"odd-{n}",
                name=f"{ODD_NAME} {n}",
                state=state,
                attributes={
                    "raw": state,
                    ODD_NAME: n,
                    "nested": {"ü": ["🙂", 3, None], "b": [2.25, {"x": False}]},
                    "empty": {},
                },
            )
            for n, state in enumerate(STATES)
        ]
        meter = EntityStateRecord(
            entity_type="meter",
            external_id='meter/1 "x"',
            name="Meter",
            state=230,
            parent_type="plain",
            parent_external_id="odd-0",
            device=DEVICE,
        )
        return [*records, meter]


INTEGRATION = OddValues()
