"""The three helper entity types and the controls each one offers."""

from __future__ import annotations

from typing import Final

from hub.integrations.entities import EntityStateActionDescriptor, EntityStateTypeDescriptor
from hub.integrations.manifest import FieldDescriptor

from .model import KIND_BUTTON, KIND_NUMBER, KIND_TOGGLE

# The English here is the fallback: GET /api/entity-types shows a person the words of
# translations/<lang>.json under "entity.<key>" (names, action and field labels).
TOGGLE: Final = EntityStateTypeDescriptor(
    key=KIND_TOGGLE,
    name="Toggle",
    actions=(
        EntityStateActionDescriptor(name="toggle", label="Toggle"),
        EntityStateActionDescriptor(name="turn_on", label="Turn on"),
        EntityStateActionDescriptor(name="turn_off", label="Turn off"),
    ),
)

NUMBER: Final = EntityStateTypeDescriptor(
    key=KIND_NUMBER,
    name="Number",
    attributes=(
        FieldDescriptor(name="min", label="Minimum", type="number"),
        FieldDescriptor(name="max", label="Maximum", type="number"),
        FieldDescriptor(name="step", label="Step", type="number"),
        FieldDescriptor(name="unit_of_measurement", label="Unit", required=False),
    ),
    actions=(
        EntityStateActionDescriptor(
            name="set_value",
            label="Set value",
            fields=(FieldDescriptor(name="value", label="Value", type="number"),),
        ),
        EntityStateActionDescriptor(name="increment", label="Increase by one step"),
        EntityStateActionDescriptor(name="decrement", label="Decrease by one step"),
    ),
)

BUTTON: Final = EntityStateTypeDescriptor(
    key=KIND_BUTTON,
    name="Button",
    # The state is the time of the last press, so the UI can show it as "2 minutes ago".
    device_class="timestamp",
    actions=(EntityStateActionDescriptor(name="press", label="Press"),),
)

ENTITY_TYPES: Final = {descriptor.key: descriptor for descriptor in (TOGGLE, NUMBER, BUTTON)}
