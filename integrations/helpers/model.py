"""What a helper is and how its actions change it: pure functions from config and state to records."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any, Final, TypeGuard

from hub.integrations.entities import EntityStateRecord, StateValue

KIND_TOGGLE: Final = "toggle"
KIND_NUMBER: Final = "number"
KIND_BUTTON: Final = "button"
KINDS: Final = (KIND_TOGGLE, KIND_NUMBER, KIND_BUTTON)

EXTERNAL_ID: Final = "value"
"""Each entry owns exactly one entity; its external id is the same in every entry."""

ON: Final = "on"
OFF: Final = "off"

DEFAULT_MIN: Final = 0
DEFAULT_MAX: Final = 100
DEFAULT_STEP: Final = 1

# Error keys of the config flow; their sentences live in translations/<lang>.json.
MAX_NOT_ABOVE_MIN: Final = "max_not_above_min"
STEP_NOT_POSITIVE: Final = "step_not_positive"
STEP_TOO_LARGE: Final = "step_too_large"
KIND_LOCKED: Final = "kind_locked"

Number = int | float
_EXACT: Final = 1000
"""Decimal digits that hold any float and any step of one exactly (floats span about 650)."""


@dataclass(frozen=True, slots=True)
class NumberRange:
    """The allowed values of a number helper: ``minimum`` to ``maximum`` in steps of ``step``."""

    minimum: Number
    maximum: Number
    step: Number

    def __post_init__(self) -> None:
        problems = range_problems(self.minimum, self.maximum, self.step)
        if problems:
            raise ValueError(
                f"invalid number range {format_number(self.minimum)} to "
                f"{format_number(self.maximum)} in steps of {format_number(self.step)} "
                f"({', '.join(problems.values())})"
            )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> NumberRange:
        """The range stored in an entry's data; a missing bound takes its default."""
        return cls(
            minimum=_number_or(config.get("min"), DEFAULT_MIN),
            maximum=_number_or(config.get("max"), DEFAULT_MAX),
            step=_number_or(config.get("step"), DEFAULT_STEP),
        )

    @property
    def _integral(self) -> bool:
        # Every value on the grid is a whole number exactly when both the start and the step are.
        return _is_integral(self.minimum) and _is_integral(self.step)

    def snap(self, value: object) -> Number:
        """``value`` rounded to the nearest step; a ``ValueError`` says why when it is not allowed."""
        if not _is_finite_number(value):
            raise ValueError(f"{value!r} is not a finite number")
        if value < self.minimum or value > self.maximum:
            raise ValueError(
                f"{format_number(value)} is outside the allowed range "
                f"{format_number(self.minimum)} to {format_number(self.maximum)}"
            )
        # Decimal, because binary floats put 0.1 + 0.2 just above 0.3 and would push a value
        # that sits exactly on the maximum one step down; exact, because a range of 1e30 in steps
        # of 1 needs more digits than Decimal's default 28.
        start, step = _decimal(self.minimum), _decimal(self.step)
        with localcontext(prec=_EXACT):
            steps = ((_decimal(value) - start) / step).quantize(Decimal(1), rounding=ROUND_HALF_UP)
            snapped = start + steps * step
            if snapped > _decimal(self.maximum):
                snapped -= step  # the maximum is off the grid: the highest step below it
        return self._tidy(snapped)

    def shift(self, value: object, steps: int) -> Number:
        """``value`` moved by ``steps`` steps, kept in range; an unset value starts at the minimum."""
        if not _is_finite_number(value):
            return self.initial
        base = _decimal(self.snap(min(max(value, self.minimum), self.maximum)))
        with localcontext(prec=_EXACT):
            moved = base + steps * _decimal(self.step)
        moved = min(max(moved, _decimal(self.minimum)), _decimal(self.maximum))
        return self.snap(self._tidy(moved))

    @property
    def initial(self) -> Number:
        """The value a new number helper starts with: its minimum."""
        return self._tidy(_decimal(self.minimum))

    def _tidy(self, value: Decimal) -> Number:
        if self._integral:
            return int(value)
        # The nearest float to a value on the grid can lie just outside the range (a range of
        # 6 around -5e16 in steps of 0.02): keep it inside.
        return float(min(max(float(value), self.minimum), self.maximum))


def range_problems(minimum: object, maximum: object, step: object) -> dict[str, str]:
    """Error keys by field (``max``, ``step``) for a range no number helper could use; empty when fine."""
    problems: dict[str, str] = {}
    numbers = [value for value in (minimum, maximum, step) if _is_finite_number(value)]
    if len(numbers) != 3:
        return problems  # the flow's own checks report a value that is not a number at all
    low, high, stride = numbers
    if high <= low:
        problems["max"] = MAX_NOT_ABOVE_MIN
    if stride <= 0:
        problems["step"] = STEP_NOT_POSITIVE
    elif high > low and stride > high - low:
        problems["step"] = STEP_TOO_LARGE
    return problems


def format_number(value: Number) -> str:
    """A number as a person writes it: ``7`` rather than ``7.0``, ``0.1`` rather than ``0.1000…01``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def initial_state(kind: str, config: Mapping[str, Any]) -> StateValue:
    """The state a new helper of ``kind`` starts with: off, its minimum, or never pressed."""
    if kind == KIND_TOGGLE:
        return OFF
    if kind == KIND_NUMBER:
        return NumberRange.from_config(config).initial
    if kind == KIND_BUTTON:
        return None
    raise ValueError(f"unknown helper kind {kind!r} (expected one of {', '.join(KINDS)})")


def helper_record(kind: str, config: Mapping[str, Any], state: StateValue) -> EntityStateRecord:
    """The one entity of a helper entry, named after the entry, with its current ``state``."""
    attributes: dict[str, Any] = {}
    if kind == KIND_NUMBER:
        limits = NumberRange.from_config(config)
        attributes = {"min": limits.minimum, "max": limits.maximum, "step": limits.step}
        unit = config.get("unit")
        if isinstance(unit, str) and unit.strip():
            attributes["unit_of_measurement"] = unit.strip()
    return EntityStateRecord(
        entity_type=kind,
        external_id=EXTERNAL_ID,
        name=str(config.get("name") or kind.title()),
        state=state,
        attributes=attributes,
    )


def initial_record(config: Mapping[str, Any]) -> EntityStateRecord:
    """The entity a freshly configured helper entry starts with."""
    kind = str(config.get("kind", KIND_TOGGLE))
    return helper_record(kind, config, initial_state(kind, config))


def apply_action(
    kind: str,
    action: str,
    args: Mapping[str, Any],
    current: EntityStateRecord | None,
    config: Mapping[str, Any],
    now: datetime,
) -> tuple[EntityStateRecord, str]:
    """The helper's record after ``action``, and a short note for the person who triggered it.

    ``current`` is the stored entity (``None`` if it vanished: the helper starts over from its
    initial state). A ``ValueError`` names what was wrong with the call.
    """
    state = current.state if current is not None else initial_state(kind, config)
    if kind == KIND_TOGGLE:
        return _toggle(action, state, config)
    if kind == KIND_NUMBER:
        return _number(action, args, state, config)
    if kind == KIND_BUTTON and action == "press":
        pressed = now.isoformat()
        return helper_record(kind, config, pressed), "Pressed."
    raise ValueError(f"a {kind} helper has no action {action!r}")


def _toggle(
    action: str, state: StateValue, config: Mapping[str, Any]
) -> tuple[EntityStateRecord, str]:
    targets = {"turn_on": ON, "turn_off": OFF, "toggle": OFF if state == ON else ON}
    target = targets.get(action)
    if target is None:
        raise ValueError(f"a toggle helper has no action {action!r}")
    note = f"Turned {target}." if target != state else f"Already {target}."
    return helper_record(KIND_TOGGLE, config, target), note


def _number(
    action: str, args: Mapping[str, Any], state: StateValue, config: Mapping[str, Any]
) -> tuple[EntityStateRecord, str]:
    limits = NumberRange.from_config(config)
    if action == "set_value":
        if "value" not in args:
            raise ValueError("set_value needs a value")
        value = limits.snap(args["value"])
    elif action in ("increment", "decrement"):
        value = limits.shift(state, 1 if action == "increment" else -1)
    else:
        raise ValueError(f"a number helper has no action {action!r}")
    record = helper_record(KIND_NUMBER, config, value)
    unit = record.attributes.get("unit_of_measurement")
    shown = format_number(value) + (f" {unit}" if unit else "")
    if action != "set_value" and value == state:
        edge = "maximum" if action == "increment" else "minimum"
        return record, f"Already at the {edge} ({shown})."
    return record, f"Set to {shown}."


def _decimal(value: Number | Decimal) -> Decimal:
    # str() first: Decimal(0.1) is 0.1000000000000000055…, Decimal("0.1") is what was typed.
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _is_finite_number(value: object) -> TypeGuard[Number]:
    # bool is an int, but True is not a number anyone typed.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_integral(value: Number) -> bool:
    return isinstance(value, int) or value.is_integer()


def _number_or(value: object, default: Number) -> Number:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return value
