"""The helper form: a name, a kind, and the range of a number helper."""

from __future__ import annotations

from typing import Any, ClassVar

from hub.integrations.config_flow import FlowResult
from hub.integrations.manifest import FieldDescriptor, SelectOption
from hub.integrations.simple_flow import SimpleConfigFlow

from .model import (
    DEFAULT_MAX,
    DEFAULT_MIN,
    DEFAULT_STEP,
    KIND_LOCKED,
    KIND_NUMBER,
    KINDS,
    range_problems,
)

_DEFAULTS = {"min": DEFAULT_MIN, "max": DEFAULT_MAX, "step": DEFAULT_STEP}
_STORED_KIND = "stored_kind"
_NUMBER_ONLY: dict[str, tuple[str | int | float | bool, ...]] = {"kind": (KIND_NUMBER,)}
"""The range and unit are asked for only while the kind chosen is a number."""


class HelpersConfigFlow(SimpleConfigFlow):
    """One form per helper; the number fields are shown only while the kind is ``number``."""

    domain = "helpers"
    TITLE_FIELD = "name"
    SCHEMA: ClassVar[list[FieldDescriptor]] = [
        FieldDescriptor(
            name="name", label="field.name.label", placeholder="field.name.placeholder"
        ),
        FieldDescriptor(
            name="kind",
            label="field.kind.label",
            type="select",
            default="toggle",
            options=tuple(SelectOption(value=kind, label=f"field.kind.{kind}") for kind in KINDS),
            description="field.kind.description",
        ),
        FieldDescriptor(
            name="min",
            label="field.min.label",
            type="number",
            required=False,
            default=DEFAULT_MIN,
            description="field.min.description",
            show_when=_NUMBER_ONLY,
        ),
        FieldDescriptor(
            name="max",
            label="field.max.label",
            type="number",
            required=False,
            default=DEFAULT_MAX,
            description="field.max.description",
            show_when=_NUMBER_ONLY,
        ),
        FieldDescriptor(
            name="step",
            label="field.step.label",
            type="number",
            required=False,
            default=DEFAULT_STEP,
            description="field.step.description",
            show_when=_NUMBER_ONLY,
        ),
        FieldDescriptor(
            name="unit",
            label="field.unit.label",
            required=False,
            placeholder="field.unit.placeholder",
            description="field.unit.description",
            show_when=_NUMBER_ONLY,
        ),
    ]

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None) -> FlowResult:
        """The same form, pre-filled; the kind it opens with is remembered to keep it fixed."""
        if user_input is None:
            # Submissions overwrite "kind" in what the flow collects, so keep the entry's own aside.
            self._collected[_STORED_KIND] = self._collected.get("kind")
        return await super().async_step_reconfigure(user_input)

    def validate_fields(self, data: dict[str, Any]) -> dict[str, str]:
        """The shared checks, a kind that stays put on reconfigure, and a number helper's range."""
        errors = super().validate_fields(data)
        stored_kind = self._collected.get(_STORED_KIND)
        if self.context.is_reconfigure and stored_kind not in (None, data.get("kind")):
            # The entity's type is the kind: changing it would orphan the entity and its history.
            errors["kind"] = KIND_LOCKED
        if data.get("kind") == KIND_NUMBER and not errors.keys() & _DEFAULTS.keys():
            errors.update(range_problems(*(self._bound(data, name) for name in _DEFAULTS)))
        return errors

    def entry_data(self, data: dict[str, Any]) -> dict[str, Any]:
        """Name and kind; a number helper also keeps its range and unit, with defaults filled in."""
        stored: dict[str, Any] = {"name": data["name"], "kind": data["kind"]}
        if data["kind"] == KIND_NUMBER:
            stored.update({name: self._bound(data, name) for name in _DEFAULTS})
            unit = data.get("unit")
            if isinstance(unit, str) and unit:
                stored["unit"] = unit
        return stored

    @staticmethod
    def _bound(data: dict[str, Any], name: str) -> Any:
        # A cleared field arrives as None: the person means "the default", not "no limit".
        value = data.get(name)
        return _DEFAULTS[name] if value is None else value
