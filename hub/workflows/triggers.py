"""Triggers: which armed trigger an event fires, and the trigger data a run starts with.

Pure: the engine (``hub.workflows.engine``) listens to the bus and the scheduler and asks here.
Armed triggers are indexed by what an event can be looked up by (its type, its entity, its
entry), so an event costs a dict lookup however many workflows there are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from hub.core.bus import Event
from hub.core.scheduler import cron_trigger
from hub.workflows.conditions import compared
from hub.workflows.model import (
    EventTrigger,
    MessageTrigger,
    ScheduleTrigger,
    StateTrigger,
    Trigger,
    WebhookTrigger,
    Workflow,
)

ENTITY_EVENTS: Final = ("entity.created", "entity.updated", "entity.deleted")
WEBHOOK_RECEIVED: Final = "webhook_delivery.received"
INBOX_MESSAGE: Final = "inbox.message"
MESSAGE_READY: Final = "triaged"
"""The ``inbox.message`` change after which a new message fires message triggers: triage always
runs on arrival (``hub.comms.triage``), so its importance and summary are known by then."""
IMPORTANCE_RANK: Final = {"low": 0, "normal": 1, "high": 2}
MAX_MISSED_COUNTED: Final = 100_000
"""Cron times counted as missed at most, so a start after a long downtime stays quick."""


@dataclass(frozen=True, slots=True)
class Armed:
    """One trigger of one enabled workflow."""

    workflow_id: str
    index: int
    trigger: Trigger


@dataclass(slots=True)
class TriggerIndex:
    """The armed triggers, by what an event finds them by."""

    events: dict[str, list[Armed]] = field(default_factory=dict)
    states: dict[int, list[Armed]] = field(default_factory=dict)
    webhooks: dict[str, list[Armed]] = field(default_factory=dict)
    messages: list[Armed] = field(default_factory=list)
    schedules: list[Armed] = field(default_factory=list)

    def add(self, workflow: Workflow) -> None:
        """Arm every trigger of ``workflow``."""
        for index, trigger in enumerate(workflow.triggers):
            armed = Armed(workflow.id, index, trigger)
            if isinstance(trigger, EventTrigger):
                self.events.setdefault(trigger.event_type, []).append(armed)
            elif isinstance(trigger, StateTrigger):
                self.states.setdefault(trigger.entity_id, []).append(armed)
            elif isinstance(trigger, WebhookTrigger):
                self.webhooks.setdefault(trigger.entry_id, []).append(armed)
            elif isinstance(trigger, MessageTrigger):
                self.messages.append(armed)
            else:
                self.schedules.append(armed)

    def remove(self, workflow_id: str) -> None:
        """Disarm every trigger of a workflow."""
        _remove(self.events, workflow_id)
        _remove(self.states, workflow_id)
        _remove(self.webhooks, workflow_id)
        self.messages = [armed for armed in self.messages if armed.workflow_id != workflow_id]
        self.schedules = [armed for armed in self.schedules if armed.workflow_id != workflow_id]

    def patterns(self) -> set[str]:
        """The event types the engine must listen to for these triggers."""
        wanted = set(self.events)
        if self.states:
            wanted.update(ENTITY_EVENTS)
        if self.webhooks:
            wanted.add(WEBHOOK_RECEIVED)
        if self.messages:
            wanted.add(INBOX_MESSAGE)
        return wanted


def _remove(table: dict[Any, list[Armed]], workflow_id: str) -> None:
    for key in list(table):
        kept = [armed for armed in table[key] if armed.workflow_id != workflow_id]
        if kept:
            table[key] = kept
        else:
            del table[key]


def now_iso() -> str:
    """The time a trigger fired, as run records show it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _base(armed: Armed) -> dict[str, Any]:
    return {"type": armed.trigger.type, "index": armed.index, "time": now_iso()}


# Events


def event_fires(trigger: EventTrigger, event: Event[Mapping[str, Any]]) -> bool:
    """Whether the event's data has every value of the trigger's filter."""
    data = event.data
    return all(key in data and data[key] == value for key, value in trigger.data.items())


def event_data(armed: Armed, event: Event[Mapping[str, Any]]) -> dict[str, Any]:
    """Trigger data of an event trigger."""
    return {
        **_base(armed),
        "event_type": event.type,
        "data": dict(event.data),
        "origin": event.origin,
    }


# State changes


@dataclass(frozen=True, slots=True)
class StateChange:
    """An entity's compared value before and after an entity event."""

    entity_id: int
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None

    @classmethod
    def of(cls, event: Event[Mapping[str, Any]]) -> StateChange | None:
        """The change an ``entity.*`` event says, or ``None`` when it is not one."""
        data = event.data
        entity_id = data.get("entity_id")
        if not isinstance(entity_id, int):
            return None
        return cls(entity_id, data.get("old_state"), data.get("new_state"))


def state_values(trigger: StateTrigger, change: StateChange) -> tuple[str | None, str | None]:
    """The compared value before and after (the state or the trigger's attribute)."""
    return compared(change.old, trigger.attribute), compared(change.new, trigger.attribute)


def state_fires(trigger: StateTrigger, before: str | None, after: str | None) -> bool:
    """Whether a change from ``before`` to ``after`` is one the trigger waits for."""
    if before == after:
        return False  # an attribute changing is not a state change (and vice versa)
    if trigger.from_ is not None and before != trigger.from_:
        return False
    return trigger.to is None or after == trigger.to


def state_data(
    armed: Armed, change: StateChange, before: str | None, after: str | None
) -> dict[str, Any]:
    """Trigger data of a state trigger."""
    return {
        **_base(armed),
        "entity_id": change.entity_id,
        "from_state": None if change.old is None else dict(change.old),
        "to_state": None if change.new is None else dict(change.new),
        "from": before,
        "to": after,
    }


# Webhooks


def webhook_fires(trigger: WebhookTrigger, event: Event[Mapping[str, Any]]) -> bool:
    """Whether a ``webhook_delivery.received`` is for this trigger."""
    data = event.data
    return trigger.event_type is None or data.get("event_type") == trigger.event_type


def webhook_data(armed: Armed, event: Event[Mapping[str, Any]], body: Any) -> dict[str, Any]:
    """Trigger data of a webhook trigger; ``body`` (read from the delivery log) when there is one."""
    data = event.data
    found = {
        **_base(armed),
        "entry_id": data.get("entry_id"),
        "delivery_id": data.get("delivery_id"),
        "event_type": data.get("event_type"),
    }
    if body is not None:
        found["body"] = body
    return found


# Messages


def message_fires(trigger: MessageTrigger, message: Mapping[str, Any]) -> bool:
    """Whether a new inbox message (``message_data``'s fields) is one the trigger waits for."""
    if trigger.entry_id is not None and message.get("entry_id") != trigger.entry_id:
        return False
    if trigger.channel is not None and message.get("channel") != trigger.channel:
        return False
    if trigger.min_importance is None:
        return True
    rank = IMPORTANCE_RANK.get(str(message.get("importance")), -1)
    return rank >= IMPORTANCE_RANK[trigger.min_importance]


def message_fields(message: Any) -> dict[str, Any]:
    """The trigger data's message fields from an ``InboxMessage``."""
    return {
        "entry_id": message.entry_id,
        "entity_id": message.entity_id,
        "thread_key": message.thread_key,
        "channel": message.domain,
        "sender": message.sender or message.sender_address,
        "subject": message.subject,
        "summary": message.summary,
        "importance": message.importance,
    }


def message_data(armed: Armed, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Trigger data of a message trigger."""
    return {**_base(armed), **fields}


# Schedules


def schedule_spec(trigger: ScheduleTrigger) -> str:
    """What a schedule's last fire is stored under: a changed schedule starts afresh."""
    if trigger.cron is not None:
        return f"cron:{trigger.cron}"
    return f"interval:{trigger.interval_seconds:g}"


def schedule_data(
    armed: Armed, scheduled_for: datetime | None, coalesced: int = 0
) -> dict[str, Any]:
    """Trigger data of a schedule trigger."""
    trigger = armed.trigger
    assert isinstance(trigger, ScheduleTrigger)
    found = _base(armed)
    if trigger.cron is not None:
        found["cron"] = trigger.cron
    else:
        found["interval_seconds"] = trigger.interval_seconds
    moment = scheduled_for or datetime.now(UTC)
    found["scheduled_for"] = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    found["coalesced"] = coalesced
    return found


def missed(
    trigger: ScheduleTrigger, zone: str, last: float, now: float
) -> tuple[int, datetime | None]:
    """How many fire times fell between ``last`` and ``now`` (exclusive, inclusive), and the latest.

    CPU work for a long downtime of a frequent cron: call it off the event loop.
    """
    if now <= last:
        return 0, None
    if trigger.interval_seconds is not None:
        count = math.floor((now - last) / trigger.interval_seconds)
        if count <= 0:
            return 0, None
        return count, datetime.fromtimestamp(last + count * trigger.interval_seconds, UTC)
    assert trigger.cron is not None
    cron = cron_trigger(trigger.cron, zone)
    end = datetime.fromtimestamp(now, UTC)
    previous = datetime.fromtimestamp(last, UTC)
    moment = cron.get_next_fire_time(None, previous)
    if moment is not None and moment <= previous:
        moment = cron.get_next_fire_time(moment, moment)
    count, latest = 0, None
    while moment is not None and moment <= end and count < MAX_MISSED_COUNTED:
        count, latest = count + 1, moment
        moment = cron.get_next_fire_time(moment, moment)
    return count, latest
