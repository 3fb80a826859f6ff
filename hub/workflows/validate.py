"""A workflow checked on save against the running hub, as its owner (or the household) may use it.

Every problem is collected, each with the path of the step and field (``actions[1].args.level``);
the first one is the error's (``hub.workflows.problems``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from hub.core.errors import HubError, Param
from hub.core.scheduler import cron_trigger
from hub.entities.actions import check_args
from hub.entities.schema import EntityRow
from hub.entities.service import EntityService
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.entry import visible_to
from hub.integrations.location import DEFAULT_TIME_ZONE, HomeSetting
from hub.integrations.manifest import FieldDescriptor
from hub.integrations.registry import IntegrationRegistry
from hub.workflows.expressions import ExpressionError, compile_expression, placeholders
from hub.workflows.model import (
    MAX_DEPTH,
    Action,
    AgentAction,
    AndCondition,
    ChooseAction,
    Condition,
    EntityActionAction,
    EventAction,
    ExpressionCondition,
    HttpAction,
    MessageTrigger,
    NotCondition,
    NotifyAction,
    NumericCondition,
    OrCondition,
    ScheduleTrigger,
    StateCondition,
    StateTrigger,
    Trigger,
    WebhookTrigger,
    WorkflowInput,
)
from hub.workflows.problems import (
    Problem,
    Reason,
    WorkflowInvalidError,
)

if TYPE_CHECKING:
    from hub.agent.lazy import LazyChat
    from hub.auth.accounts import Accounts

HUB_EVENT_NAMESPACES: Final = frozenset(
    {
        "hub",
        "entity",
        "config_entry",
        "inbox",
        "approval",
        "notification",
        "workflow",
        "webhook_delivery",
        "integration",
        "person",
        "auth",
        "chat",
    }
)
"""The first part of the hub's own event types: a workflow may listen to them, never fire one."""

_NAME_IN_PROBLEM: Final = re.compile(r"^(\w+): ")


@dataclass(slots=True)
class HubLookups:
    """What a workflow's names are checked against."""

    entities: EntityService
    entries: ConfigEntries
    registry: IntegrationRegistry
    people: Accounts
    home: HomeSetting
    chat: LazyChat | None = None


class Validator:
    """Checks a workflow against the running hub, as its owner (or the household) may use it."""

    def __init__(self, hub: HubLookups) -> None:
        self._hub = hub

    async def check(self, workflow: WorkflowInput, owner: str) -> None:
        """Raise ``WorkflowInvalidError`` with every problem, or return when there is none."""
        problems = await _Check(self._hub, workflow, owner).run()
        if problems:
            raise WorkflowInvalidError(problems)

    def reserved(self, event_type: str) -> bool:
        """Whether a workflow may not fire ``event_type``: the hub's or an integration's own."""
        return reserved(event_type, self._hub.registry)


def reserved(event_type: str, registry: IntegrationRegistry) -> bool:
    """Whether ``event_type`` is in the hub's or a loaded integration's namespace."""
    namespace = event_type.split(".", 1)[0]
    return namespace in HUB_EVENT_NAMESPACES or namespace in registry.candidates()


class _Check:
    """One validation: the problems found so far and the entities already looked up."""

    def __init__(self, hub: HubLookups, workflow: WorkflowInput, owner: str) -> None:
        self.hub = hub
        self.workflow = workflow
        self.owner = owner
        self.viewer: str | None = None if workflow.household else owner
        self.problems: list[Problem] = []
        self._rows: dict[int, EntityRow | None] = {}

    async def run(self) -> list[Problem]:
        for index, trigger in enumerate(self.workflow.triggers):
            await self.trigger(trigger, f"triggers[{index}]")
        await self.conditions(self.workflow.conditions, "conditions", 1)
        await self.actions(self.workflow.actions, "actions", 1)
        return self.problems

    def add(self, path: str, reason: Reason, message: str, **params: Param) -> None:
        self.problems.append(Problem(path, reason, f"{path}: {message}", params))

    def add_shape(self, path: str, problem_type: str, text: str, **context: Param) -> None:
        self.problems.append(
            Problem(
                path,
                "field",
                f"{path}: {text}",
                {"problem": text},
                problem_type=problem_type,
                problem_params=context,
            )
        )

    # Triggers

    async def trigger(self, trigger: Trigger, path: str) -> None:
        if isinstance(trigger, StateTrigger):
            await self.entity(trigger.entity_id, f"{path}.entity_id")
        elif isinstance(trigger, ScheduleTrigger):
            self.schedule(trigger, path)
        elif isinstance(trigger, WebhookTrigger | MessageTrigger) and trigger.entry_id is not None:
            self.entry(trigger.entry_id, f"{path}.entry_id")

    def schedule(self, trigger: ScheduleTrigger, path: str) -> None:
        if (trigger.cron is None) == (trigger.interval_seconds is None):
            self.add(path, "schedule_needs_one", "give either a cron line or an interval")
            return
        if trigger.cron is not None:
            try:
                cron_trigger(trigger.cron, self.zone())
            except ValueError as err:
                self.add(
                    f"{path}.cron",
                    "cron_invalid",
                    f"{trigger.cron!r} is not a cron line of five fields ({err})",
                    cron=trigger.cron,
                )

    def zone(self) -> str:
        home = self.hub.home.get()
        return home.time_zone if home is not None else DEFAULT_TIME_ZONE

    # Conditions

    async def conditions(self, conditions: Sequence[Condition], path: str, depth: int) -> None:
        for index, condition in enumerate(conditions):
            await self.condition(condition, f"{path}[{index}]", depth)

    async def condition(self, condition: Condition, path: str, depth: int) -> None:
        if isinstance(condition, StateCondition):
            await self.entity(condition.entity_id, f"{path}.entity_id")
        elif isinstance(condition, NumericCondition):
            if (condition.entity_id is None) == (condition.expression is None):
                self.add(path, "numeric_needs_one", "give either an entity or an expression")
            elif condition.entity_id is not None:
                await self.entity(condition.entity_id, f"{path}.entity_id")
            elif condition.expression is not None:
                self.expression(condition.expression, f"{path}.expression")
        elif isinstance(condition, ExpressionCondition):
            self.expression(condition.expression, f"{path}.expression")
        elif isinstance(condition, AndCondition | OrCondition | NotCondition):
            if self.too_deep(path, depth):
                return
            await self.conditions(condition.conditions, f"{path}.conditions", depth + 1)

    def too_deep(self, path: str, depth: int) -> bool:
        if depth < MAX_DEPTH:
            return False
        self.add_shape(
            path, "nested_too_deep", f"nests more than {MAX_DEPTH} levels deep", depth=MAX_DEPTH
        )
        return True

    # Actions

    async def actions(self, actions: Sequence[Action], path: str, depth: int) -> None:
        for index, action in enumerate(actions):
            await self.action(action, f"{path}[{index}]", depth)

    async def action(self, action: Action, path: str, depth: int) -> None:
        if isinstance(action, EntityActionAction):
            await self.entity_action(action, path)
        elif isinstance(action, EventAction):
            self.event_action(action, path)
        elif isinstance(action, NotifyAction):
            self.text(action.title, f"{path}.title")
            self.text(action.message, f"{path}.message")
            self.notify(action, path)
        elif isinstance(action, AgentAction):
            self.text(action.prompt, f"{path}.prompt")
            self.model(action, path)
        elif isinstance(action, HttpAction):
            self.http(action, path)
        elif isinstance(action, ChooseAction):
            if self.too_deep(path, depth):
                return
            for index, choice in enumerate(action.choices):
                where = f"{path}.choices[{index}]"
                await self.conditions(choice.conditions, f"{where}.conditions", depth + 1)
                await self.actions(choice.actions, f"{where}.actions", depth + 1)
            await self.actions(action.default, f"{path}.default", depth + 1)

    async def entity_action(self, action: EntityActionAction, path: str) -> None:
        row = await self.entity(action.entity_id, f"{path}.entity_id")
        for name, expression in action.args_from.items():
            self.expression(expression, f"{path}.args_from.{name}")
        if row is None:
            return
        descriptor = self.hub.entities.descriptor(row.domain, row.entity_type)
        declared = descriptor.action(action.action) if descriptor else None
        if declared is None:
            self.add(
                f"{path}.action",
                "action_not_declared",
                f"{row.entity_type} has no action {action.action!r}",
                action=action.action,
            )
            return
        self.arguments(declared.fields, action, path)

    def arguments(
        self, fields: Sequence[FieldDescriptor], action: EntityActionAction, path: str
    ) -> None:
        known = {item.name: item for item in fields if item.type != "note"}
        for name in action.args_from:
            if name not in known:
                self.argument(f"{path}.args_from.{name}", "extra_forbidden", "is not an argument")
        for name, value in action.args.items():
            item = known.get(name)
            if item is None:
                self.argument(f"{path}.args.{name}", "extra_forbidden", "is not an argument")
                continue
            try:
                check_args([item], {name: value})
            except HubError as err:
                problem_type, words, context = _argument_problem(item, str(err))
                self.argument(f"{path}.args.{name}", problem_type, words, **context)
        for name, item in known.items():
            given = action.args.get(name) is not None or name in action.args_from
            if not given and item.required and item.default is None:
                self.argument(f"{path}.args.{name}", "missing", "is required")

    def argument(self, path: str, problem_type: str, text: str, **context: Param) -> None:
        self.problems.append(
            Problem(
                path,
                "argument_invalid",
                f"{path}: {text}",
                {"problem": text},
                problem_type=problem_type,
                problem_params=context,
            )
        )

    def event_action(self, action: EventAction, path: str) -> None:
        if reserved(action.event_type, self.hub.registry):
            self.add(
                f"{path}.event_type",
                "event_type_reserved",
                f"{action.event_type} is one of the hub's or an integration's own event types",
                event_type=action.event_type,
            )
        for where, text in _strings(action.data, f"{path}.data"):
            self.text(text, where)

    def notify(self, action: NotifyAction, path: str) -> None:
        person_id = action.person_id
        if person_id is None:
            return
        if self.workflow.household:
            person = next((p for p in self.hub.people.people() if p.person_id == person_id), None)
            known = person is not None and not person.removing
        else:
            known = person_id == self.owner  # a personal workflow notifies only its owner
        if not known:
            self.add(
                f"{path}.person_id",
                "person_not_found",
                f"this workflow cannot notify {person_id!r}",
                person_id=person_id,
            )

    def model(self, action: AgentAction, path: str) -> None:
        chat = self.hub.chat.built if self.hub.chat is not None else None
        if action.model is None or chat is None:
            return  # the models are read when the chat service is first built: checked then
        if all(endpoint.name != action.model for endpoint in chat.models.all()):
            self.add(
                f"{path}.model",
                "model_not_found",
                f"there is no model {action.model!r}",
                model=action.model,
            )

    def http(self, action: HttpAction, path: str) -> None:
        self.text(action.url, f"{path}.url")
        # Placeholders may fill in the path or the query, never the scheme or the host.
        literal = re.sub(r"\{\{.*?\}\}", "x", action.url, flags=re.DOTALL)
        try:
            parts = urlsplit(literal)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:
            ok = False
        if not ok:
            self.add(f"{path}.url", "url_invalid", "must be an http(s) address with a host")
        for name, value in action.headers.items():
            self.text(value, f"{path}.headers.{name}")
        for where, text in _strings(action.body, f"{path}.body"):
            self.text(text, where)

    # Names and expressions

    async def entity(self, entity_id: int, path: str) -> EntityRow | None:
        if entity_id not in self._rows:
            self._rows[entity_id] = await self._visible_entity(entity_id)
        row = self._rows[entity_id]
        if row is None:
            self.add(
                path,
                "entity_not_found",
                f"no entity {entity_id} this workflow may use",
                entity_id=entity_id,
            )
        return row

    async def _visible_entity(self, entity_id: int) -> EntityRow | None:
        try:
            row = await self.hub.entities.get(entity_id)
        except HubError:
            return None
        entry = self.hub.entries.get(row.entry_id)
        return row if entry is not None and visible_to(entry, self.viewer) else None

    def entry(self, entry_id: str, path: str) -> None:
        entry = self.hub.entries.get(entry_id)
        if entry is None or not visible_to(entry, self.viewer):
            self.add(
                path,
                "entry_not_found",
                f"no integration entry {entry_id!r} this workflow may use",
                entry_id=entry_id,
            )

    def expression(self, text: str, path: str) -> None:
        try:
            compile_expression(text)
        except ExpressionError as err:
            self.add(path, "expression_invalid", str(err), problem=str(err))

    def text(self, text: str, path: str) -> None:
        for expression in placeholders(text):
            self.expression(expression, path)


def _argument_problem(item: FieldDescriptor, text: str) -> tuple[str, str, dict[str, Param]]:
    """The ``validation.<type>`` of what ``check_args`` said about one argument, its words and
    the sentence's params."""
    words = _NAME_IN_PROBLEM.sub("", text, count=1)
    if item.type == "number":
        return "float_type", words, {}
    if item.type == "bool":
        return "bool_type", words, {}
    if item.type == "select" and "not one of" in words:
        expected = ", ".join(repr(option.value) for option in item.options or ())
        return "literal_error", words, {"expected": expected[:200]}
    if item.multiple or item.type == "select":
        return "list_type", words, {}
    return "string_type", words, {}


def _strings(value: Any, path: str, depth: int = 0) -> Iterator[tuple[str, str]]:
    """Every string inside a JSON value, with its path (bounded: bodies are limited already)."""
    if isinstance(value, str):
        yield path, value
    elif depth < 32 and isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}", depth + 1)
    elif depth < 32 and isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]", depth + 1)
