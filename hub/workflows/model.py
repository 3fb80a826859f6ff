"""What a workflow is: triggers, conditions and actions as plain JSON, in Home Assistant's spirit.

These models check a workflow's shape on its own (types, ranges, lengths). Whether what it names
exists and may be used by its owner (an entity, an action, a cron line, an expression) is checked
against the running hub by ``hub.workflows.validate`` when a workflow is saved.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["single", "restart", "queued", "parallel"]
RunStatus = Literal[
    "running", "not_met", "succeeded", "failed", "cancelled", "timed_out", "looped", "interrupted"
]
"""How a run ended: ``running`` until it does; ``not_met`` when its conditions did not hold;
``interrupted`` when the hub stopped under it; ``looped`` when the loop guard stopped it."""
StepStatus = Literal["succeeded", "failed", "skipped"]

MAX_TRIGGERS: Final = 20
MAX_CONDITIONS: Final = 20
MAX_ACTIONS: Final = 50
MAX_DEPTH: Final = 5
"""How deep ``choose`` and the logical conditions may nest."""
MAX_EXPRESSION: Final = 1_000
MAX_TEXT: Final = 4_000

Name = Annotated[str, Field(min_length=1, max_length=100)]
Expression = Annotated[str, Field(min_length=1, max_length=MAX_EXPRESSION)]
"""A JMESPath expression over the run's context: ``{"trigger": {...}, "workflow": {...}}``."""
Text = Annotated[str, Field(max_length=MAX_TEXT)]
"""Text that may hold ``{{ expression }}`` placeholders, each a JMESPath expression over the context."""
EventTypeName = Annotated[
    str, Field(min_length=3, max_length=100, pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ClockTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# Triggers


class EventTrigger(_Part):
    """Any bus event of ``event_type`` (built-in or an integration's), whose data has ``data``'s
    top-level values (equality; an empty filter matches every event of the type)."""

    type: Literal["event"]
    event_type: EventTypeName
    data: dict[str, Any] = Field(default_factory=dict)


class StateTrigger(_Part):
    """An entity's state (or one attribute) changing, optionally ``from``/``to`` given values, and
    staying at the new value for ``for_seconds`` before the workflow runs."""

    type: Literal["state"]
    entity_id: int = Field(ge=1)
    attribute: str | None = Field(default=None, max_length=100)
    from_: str | None = Field(default=None, alias="from", max_length=255)
    to: str | None = Field(default=None, max_length=255)
    for_seconds: float | None = Field(default=None, gt=0, le=7 * 86_400)


class ScheduleTrigger(_Part):
    """A cron line (five fields, the home's time zone) or an interval; exactly one of them."""

    type: Literal["schedule"]
    cron: str | None = Field(default=None, max_length=100)
    interval_seconds: float | None = Field(default=None, ge=10, le=366 * 86_400)


class WebhookTrigger(_Part):
    """A delivery applied by a ``webhook``-style entry (``webhook_delivery.received``), optionally only of
    one sender event type (GitHub's ``push``, …)."""

    type: Literal["webhook"]
    entry_id: str = Field(min_length=1, max_length=100)
    event_type: str | None = Field(default=None, max_length=100)


class MessageTrigger(_Part):
    """A message arriving in the inbox (``inbox.message``), optionally of one account or channel,
    or at least of an importance."""

    type: Literal["message"]
    entry_id: str | None = Field(default=None, max_length=100)
    channel: str | None = Field(default=None, max_length=100)
    min_importance: Literal["low", "normal", "high"] | None = None


Trigger = Annotated[
    EventTrigger | StateTrigger | ScheduleTrigger | WebhookTrigger | MessageTrigger,
    Field(discriminator="type"),
]


# Conditions


class StateCondition(_Part):
    """The entity's state (or attribute) is one of ``state``."""

    type: Literal["state"]
    entity_id: int = Field(ge=1)
    attribute: str | None = Field(default=None, max_length=100)
    state: list[str] = Field(min_length=1, max_length=20)


class NumericCondition(_Part):
    """A number, from an entity's state or attribute or from an expression, is above and/or below
    the bounds (exclusive, as Home Assistant's). Exactly one of ``entity_id`` and ``expression``."""

    type: Literal["numeric"]
    entity_id: int | None = Field(default=None, ge=1)
    attribute: str | None = Field(default=None, max_length=100)
    expression: Expression | None = None
    above: float | None = None
    below: float | None = None


class TimeCondition(_Part):
    """The home's local time is within ``after``…``before`` (across midnight when after > before)
    and on one of ``weekdays`` (every day when empty)."""

    type: Literal["time"]
    after: ClockTime | None = None
    before: ClockTime | None = None
    weekdays: list[Weekday] = Field(default_factory=list)


class ExpressionCondition(_Part):
    """A JMESPath expression over the context is truthy (JMESPath's truth: not null, false, empty)."""

    type: Literal["expression"]
    expression: Expression


class AndCondition(_Part):
    type: Literal["and"]
    conditions: list[Condition] = Field(min_length=1, max_length=MAX_CONDITIONS)


class OrCondition(_Part):
    type: Literal["or"]
    conditions: list[Condition] = Field(min_length=1, max_length=MAX_CONDITIONS)


class NotCondition(_Part):
    """None of ``conditions`` holds."""

    type: Literal["not"]
    conditions: list[Condition] = Field(min_length=1, max_length=MAX_CONDITIONS)


Condition = Annotated[
    StateCondition
    | NumericCondition
    | TimeCondition
    | ExpressionCondition
    | AndCondition
    | OrCondition
    | NotCondition,
    Field(discriminator="type"),
]


# Actions


class _Action(_Part):
    alias: str | None = Field(default=None, max_length=100)
    """What the run trace calls the step; its type's name when empty."""
    continue_on_error: bool = False
    """A failure of this step is recorded and the run goes on, instead of stopping there."""


class EntityActionAction(_Action):
    """Call an action the entity's type declares, with ``args`` checked against its fields; an
    ``args_from`` value is an expression whose result becomes that argument at run time."""

    type: Literal["entity_action"]
    entity_id: int = Field(ge=1)
    action: str = Field(min_length=1, max_length=100)
    args: dict[str, Any] = Field(default_factory=dict)
    args_from: dict[str, Expression] = Field(default_factory=dict)


class EventAction(_Action):
    """Fire a custom event (never one of the hub's own types) with ``data``."""

    type: Literal["event"]
    event_type: EventTypeName
    data: dict[str, Any] = Field(default_factory=dict)


class NotifyAction(_Action):
    """An in-app notification: to the owner of a personal workflow; a household workflow's go to
    ``person_id``, or to every admin when it is empty."""

    type: Literal["notify"]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    message: Text = ""
    person_id: str | None = Field(default=None, max_length=100)


class AgentAction(_Action):
    """An agent run with ``prompt`` as the workflow's owner, under the tier gate and their
    approval rules; ``model`` picks a configured model (the owner's default when empty)."""

    type: Literal["agent"]
    prompt: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    model: str | None = Field(default=None, max_length=200)


class HttpAction(_Action):
    """An outbound request behind web fetch's SSRF guard; ``body`` is sent as JSON."""

    type: Literal["http"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str = Field(min_length=1, max_length=2_000)
    headers: dict[str, Annotated[str, Field(max_length=1_000)]] = Field(
        default_factory=dict, max_length=20
    )
    body: Any = None


class DelayAction(_Action):
    type: Literal["delay"]
    seconds: float = Field(gt=0, le=86_400)


class Choice(_Part):
    conditions: list[Condition] = Field(min_length=1, max_length=MAX_CONDITIONS)
    actions: list[Action] = Field(min_length=1, max_length=MAX_ACTIONS)


class ChooseAction(_Action):
    """The first choice whose conditions all hold runs its actions; else ``default``."""

    type: Literal["choose"]
    choices: list[Choice] = Field(min_length=1, max_length=20)
    default: list[Action] = Field(default_factory=list, max_length=MAX_ACTIONS)


Action = Annotated[
    EntityActionAction
    | EventAction
    | NotifyAction
    | AgentAction
    | HttpAction
    | DelayAction
    | ChooseAction,
    Field(discriminator="type"),
]


# The workflow


class WorkflowInput(_Part):
    """What a person sends to create or replace a workflow."""

    name: Name
    description: str = Field(default="", max_length=1_000)
    enabled: bool = True
    household: bool = False
    """A household workflow is the admins': it sees only household entries and events."""
    mode: Mode = "single"
    max_runs: int = Field(default=10, ge=1, le=100)
    """``queued``: how many may wait; ``parallel``: how many may run at once."""
    timeout_seconds: float = Field(default=300, gt=0, le=86_400)
    triggers: list[Trigger] = Field(min_length=1, max_length=MAX_TRIGGERS)
    conditions: list[Condition] = Field(default_factory=list, max_length=MAX_CONDITIONS)
    actions: list[Action] = Field(min_length=1, max_length=MAX_ACTIONS)


class Workflow(WorkflowInput):
    """A stored workflow: the input plus what the hub keeps about it."""

    id: str
    owner: str
    """The person who created it (its runs act as them); for a household one, an admin."""
    version: int = Field(ge=1)
    """Goes up by one on every change, so an editor can refuse to overwrite a newer version."""
    created_at: float
    updated_at: float
    disabled_reason: Literal["looped"] | None = None
    """Why the hub switched it off, until a person switches it on again."""


AndCondition.model_rebuild()
OrCondition.model_rebuild()
NotCondition.model_rebuild()
Choice.model_rebuild()
ChooseAction.model_rebuild()
