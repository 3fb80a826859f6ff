"""Conditions: whether a run goes on, checked against entities, the home's clock and the context."""

from __future__ import annotations

import json
import logging
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, time
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from hub.core.errors import HubError
from hub.entities.service import EntityService
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.entry import visible_to
from hub.integrations.location import DEFAULT_TIME_ZONE, HomeSetting
from hub.workflows.expressions import ExpressionError, evaluate, truthy
from hub.workflows.model import (
    AndCondition,
    Condition,
    ExpressionCondition,
    NotCondition,
    NumericCondition,
    OrCondition,
    StateCondition,
    TimeCondition,
    Workflow,
)

if TYPE_CHECKING:
    from hub.workflows.actions import RunContext

_LOGGER = logging.getLogger(__name__)

WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ConditionError(Exception):
    """A condition could not be evaluated (an entity gone, a value not a number): it does not hold."""


def compared(view: Mapping[str, Any] | None, attribute: str | None) -> str | None:
    """What state triggers and conditions compare: the state (or one attribute) as text.

    A string is itself; ``None`` (or no entity) is ``None``; anything else is compact JSON, so the
    number 21.5 compares as ``"21.5"`` and true as ``"true"``.
    """
    if view is None:
        return None
    if attribute is None:
        value = view.get("state")
    else:
        attributes = view.get("attributes")
        value = attributes.get(attribute) if isinstance(attributes, Mapping) else None
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


@lru_cache(maxsize=16)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return zoneinfo.ZoneInfo(DEFAULT_TIME_ZONE)


def home_zone_name(home: HomeSetting) -> str:
    """The home's time zone, or UTC until an admin sets the home location."""
    location = home.get()
    return DEFAULT_TIME_ZONE if location is None else location.time_zone


def home_now(home: HomeSetting) -> datetime:
    """The home's local time now."""
    return datetime.now(_zone(home_zone_name(home)))


def within(condition: TimeCondition, moment: datetime) -> bool:
    """Whether ``moment`` (local time) is within the condition's window and on one of its days."""
    if condition.weekdays and WEEKDAYS[moment.weekday()] not in condition.weekdays:
        return False
    now = moment.time().replace(tzinfo=None)
    after = _clock(condition.after)
    before = _clock(condition.before)
    if after is None and before is None:
        return True
    if after is None:
        return now < before  # type: ignore[operator]
    if before is None:
        return now >= after
    if after <= before:
        return after <= now < before
    return now >= after or now < before  # across midnight


def _clock(text: str | None) -> time | None:
    return None if text is None else time.fromisoformat(text)


class Conditions:
    """Evaluates a workflow's conditions as its owner (or the household) may see things."""

    def __init__(
        self,
        *,
        entities: EntityService,
        entries: ConfigEntries,
        home: HomeSetting,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._entities = entities
        self._entries = entries
        self._home = home
        self._clock = clock

    async def check(
        self, conditions: Sequence[Condition], run: RunContext, path: str
    ) -> tuple[bool, list[dict[str, Any]]]:
        """Whether all hold, and one result per condition evaluated (it stops at the first false)."""
        results: list[dict[str, Any]] = []
        for index, condition in enumerate(conditions):
            where = f"{path}[{index}]"
            try:
                held = await self.holds(condition, run.workflow, run.context)
            except ConditionError as err:
                results.append({"path": where, "result": False, "error": str(err)})
                return False, results
            results.append({"path": where, "result": held})
            if not held:
                return False, results
        return True, results

    async def holds(
        self, condition: Condition, workflow: Workflow, context: Mapping[str, Any]
    ) -> bool:
        """Whether one condition holds; ``ConditionError`` when it cannot be told."""
        if isinstance(condition, StateCondition):
            value = compared(await self._view(condition.entity_id, workflow), condition.attribute)
            return value in condition.state
        if isinstance(condition, NumericCondition):
            number = await self._number(condition, workflow, context)
            if condition.above is not None and not number > condition.above:
                return False
            return condition.below is None or number < condition.below
        if isinstance(condition, TimeCondition):
            moment = self._clock() if self._clock is not None else home_now(self._home)
            return within(condition, moment)
        if isinstance(condition, ExpressionCondition):
            return truthy(self._evaluate(condition.expression, context))
        if isinstance(condition, AndCondition):
            for part in condition.conditions:
                if not await self.holds(part, workflow, context):
                    return False
            return True
        if isinstance(condition, OrCondition):
            for part in condition.conditions:
                if await self.holds(part, workflow, context):
                    return True
            return False
        if isinstance(condition, NotCondition):
            for part in condition.conditions:
                if await self.holds(part, workflow, context):
                    return False
            return True
        raise ConditionError(f"unknown condition {type(condition).__name__}")

    async def _view(self, entity_id: int, workflow: Workflow) -> dict[str, Any]:
        try:
            row = await self._entities.get(entity_id)
        except HubError:
            raise ConditionError(f"entity {entity_id} not found") from None
        entry = self._entries.get(row.entry_id)
        person = None if workflow.household else workflow.owner
        if entry is None or not visible_to(entry, person):
            raise ConditionError(f"entity {entity_id} not found")
        return self._entities.view(row)

    async def _number(
        self, condition: NumericCondition, workflow: Workflow, context: Mapping[str, Any]
    ) -> float:
        value: Any
        if condition.entity_id is not None:
            view = await self._view(condition.entity_id, workflow)
            if condition.attribute is None:
                value = view.get("state")
            else:
                attributes = view.get("attributes") or {}
                value = attributes.get(condition.attribute)
        elif condition.expression is not None:
            value = self._evaluate(condition.expression, context)
        else:
            raise ConditionError("a numeric condition needs an entity or an expression")
        if isinstance(value, bool):
            raise ConditionError(f"{value!r} is not a number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConditionError(f"{str(value)[:100]!r} is not a number") from None
        if number != number:  # NaN holds no comparison
            raise ConditionError("the value is not a number")
        return number

    @staticmethod
    def _evaluate(expression: str, context: Mapping[str, Any]) -> Any:
        try:
            return evaluate(expression, context)
        except ExpressionError as err:
            raise ConditionError(str(err)) from None
