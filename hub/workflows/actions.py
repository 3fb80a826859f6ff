"""A run's actions, step by step: each one recorded with its input, result, duration and error.

Steps act as the workflow's owner: an entity action only on an entity the workflow may still see
(the owner's entries for a personal workflow, the household's for a household one), an agent step
in a new conversation of theirs under the tier gate and their approval rules, an http step under
their ``allow_local_fetch`` choice. A failing step stops the run with ``StepFailed`` unless it says
``continue_on_error``; a run cancelled during a step records that step as interrupted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from hub.core.bus import EventBus, EventType
from hub.core.errors import (
    AGENT_RUN_FAILED,
    EXPRESSION_FAILED,
    INTERNAL_ERROR,
    WORKFLOW_STEP_INTERRUPTED,
    HubError,
)
from hub.core.notifications import Notifications
from hub.core.redact import SECRETS
from hub.entities.actions import call_action
from hub.entities.service import EntityNotFoundError, EntityService
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.entry import visible_to
from hub.integrations.registry import IntegrationRegistry
from hub.workflows import outbound
from hub.workflows.expressions import ExpressionError, evaluate, render
from hub.workflows.model import (
    Action,
    AgentAction,
    ChooseAction,
    DelayAction,
    EntityActionAction,
    EventAction,
    HttpAction,
    NotifyAction,
    Workflow,
)

if TYPE_CHECKING:
    from hub.agent.conversations import Conversations
    from hub.agent.lazy import LazyChat
    from hub.agent.preferences import Preferences
    from hub.auth.service import AuthService
    from hub.config import WorkflowsConfig
    from hub.workflows.conditions import Conditions

_LOGGER = logging.getLogger(__name__)

TOP: Final = "actions"
"""The path of a workflow's own actions; only their results go into the context's ``steps``."""
MAX_MESSAGE: Final = 1_000


@dataclass
class RunContext:
    """One run as its steps see it; made by the engine for each run."""

    workflow: Workflow
    run_id: str
    context: dict[str, Any]
    """``{"trigger", "workflow", "steps"}``: what expressions and placeholders read."""
    steps: list[dict[str, Any]] = field(default_factory=list)
    """The records of the steps that ended, in the order they began."""

    @property
    def owner(self) -> str:
        """The person the steps act as."""
        return self.workflow.owner

    @property
    def household(self) -> bool:
        """Whether the workflow is the household's (it sees only household entries)."""
        return self.workflow.household


class StepFailed(Exception):
    """A step failed and does not continue on error: the run stops here."""

    def __init__(self, path: str, code: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.code = code
        self.message = message


class AgentRunFailedError(HubError):
    """The agent run ended without completing (cancelled from the chat, or the hub stopping)."""

    code = AGENT_RUN_FAILED
    http_status = 502


class Actions:
    """Runs a workflow's actions for the engine."""

    def __init__(
        self,
        *,
        bus: EventBus,
        entities: EntityService,
        entries: ConfigEntries,
        registry: IntegrationRegistry,
        notifications: Notifications,
        chat: LazyChat,
        conversations_factory: Callable[[], Conversations],
        preferences: Preferences,
        auth: AuthService,
        config: WorkflowsConfig,
        conditions: Conditions,
    ) -> None:
        self._bus = bus
        self._entities = entities
        self._entries = entries
        self._registry = registry
        self._notifications = notifications
        self._chat = chat
        self._conversations = conversations_factory
        self._preferences = preferences
        self._auth = auth
        self._config = config
        self._conditions = conditions
        self._preferences_read = False

    async def run(self, actions: Sequence[Action], run: RunContext, path: str = TOP) -> None:
        """Each step in order, recorded in ``run.steps``; ``StepFailed`` when one fails and
        does not continue on error."""
        for index, action in enumerate(actions):
            await self._step(action, run, f"{path}[{index}]", top=path == TOP)

    async def close(self) -> None:
        """Nothing to release: each http step opens and closes its own session."""

    # One step

    async def _step(self, action: Action, run: RunContext, path: str, *, top: bool) -> None:
        record: dict[str, Any] = {
            "path": path,
            "type": action.type,
            "alias": action.alias,
            "status": "succeeded",
            "started_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "duration_ms": None,
            "input": {},
            "result": None,
            "error": None,
        }
        position = len(run.steps)
        started = time.perf_counter()
        failure: StepFailed | None = None
        try:
            record["result"] = await self._do(action, run, path, record)
        except StepFailed as err:  # a step inside a choose: the choose fails with it
            failure = err
        except asyncio.CancelledError:
            record["status"] = "failed"
            record["error"] = {
                "code": WORKFLOW_STEP_INTERRUPTED,
                "message": "the run stopped during this step",
            }
            raise
        except Exception as err:  # noqa: BLE001  # a step's failure is the run's record, not the hub's
            failure = StepFailed(path, *_describe(err))
        finally:
            record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
            # Recorded once it ended, ahead of a choose's own steps, so the trace reads in order.
            run.steps.insert(position, record)
        if failure is not None:
            record["status"] = "failed"
            record["error"] = {"code": failure.code, "message": failure.message}
        if top:
            run.context["steps"].append(record["result"])
        if failure is not None and not action.continue_on_error:
            raise failure

    async def _do(self, action: Action, run: RunContext, path: str, record: dict[str, Any]) -> Any:
        if isinstance(action, EntityActionAction):
            return await self._entity_action(action, run, record)
        if isinstance(action, EventAction):
            return self._event(action, run, record)
        if isinstance(action, NotifyAction):
            return await self._notify(action, run, record)
        if isinstance(action, AgentAction):
            return await self._agent(action, run, record)
        if isinstance(action, HttpAction):
            return await self._http(action, run, record)
        if isinstance(action, DelayAction):
            record["input"] = {"seconds": action.seconds}
            await asyncio.sleep(action.seconds)
            return None
        return await self._choose(action, run, path, record)

    # The kinds of step

    async def _entity_action(
        self, action: EntityActionAction, run: RunContext, record: dict[str, Any]
    ) -> dict[str, Any]:
        args = dict(action.args)
        for name, expression in action.args_from.items():
            args[name] = evaluate(expression, run.context)
        record["input"] = {"entity_id": action.entity_id, "action": action.action, "args": args}
        row = await self._entities.get(action.entity_id)
        entry = self._entries.get(row.entry_id)
        # Visibility is checked again at run time: the entry may have changed hands since saving.
        if entry is None or not visible_to(entry, None if run.household else run.owner):
            raise EntityNotFoundError(f"no entity {action.entity_id}")
        updated, message = await call_action(
            row,
            action.action,
            args,
            service=self._entities,
            entries=self._entries,
            registry=self._registry,
        )
        return {"entity": self._entities.view(updated), "message": message}

    def _event(self, action: EventAction, run: RunContext, record: dict[str, Any]) -> Any:
        data = {**action.data, "workflow_id": run.workflow.id}
        if not run.household:
            data["person_id"] = run.owner
        record["input"] = {"event_type": action.event_type, "data": data}
        event_type = EventType[dict[str, Any]](action.event_type)
        self._bus.fire(event_type, data, origin=f"workflow.{run.workflow.id}")
        return {"event_type": action.event_type, "data": data}

    async def _notify(
        self, action: NotifyAction, run: RunContext, record: dict[str, Any]
    ) -> dict[str, Any]:
        title = render(action.title, run.context)
        message = render(action.message, run.context)
        people = self._recipients(action, run)
        record["input"] = {"title": title, "message": message, "person_ids": people}
        ids = await self._notifications.send(
            people,
            title,
            message,
            source=f"workflow:{run.workflow.id}",
            link=f"#/workflows/{run.workflow.id}/runs/{run.run_id}",
        )
        return {"notification_ids": ids}

    def _recipients(self, action: NotifyAction, run: RunContext) -> list[str]:
        if not run.household:
            return [run.owner]
        if action.person_id is not None:
            return [self._auth.person(action.person_id).person_id]  # NotFoundError once gone
        return [p.person_id for p in self._auth.people() if p.is_admin and not p.removing]

    async def _agent(
        self, action: AgentAction, run: RunContext, record: dict[str, Any]
    ) -> dict[str, Any]:
        prompt = render(action.prompt, run.context)
        record["input"] = {"prompt": prompt, "model": action.model}
        chat = await self._chat.get()
        if action.model is not None:
            chat.models.get(action.model)  # a model removed since saving: model_not_found
        conversation = await self._conversations().create(
            run.owner, title=run.workflow.name, model=action.model
        )
        done: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        text: list[str] = []
        errors: list[dict[str, Any]] = []

        def emit(event: dict[str, Any]) -> None:
            kind = event.get("kind")
            if kind == "text":
                text.append(str(event.get("delta", "")))
            elif kind == "error":
                errors.append(event)
            elif kind == "done" and not done.done():
                done.set_result(event)

        try:
            await chat.start(run.owner, conversation.id, prompt, emit)
        except HubError:  # no model, an empty prompt: leave no empty conversation behind
            await self._conversations().delete(conversation.id, run.owner)
            raise
        try:
            # The chat's own clock applies, paused while the owner answers an approval.
            ended = await done
        except asyncio.CancelledError:
            chat.cancel(conversation.id, run.owner)  # the chat stores the turn as cancelled
            raise
        status = str(ended.get("status"))
        result = {"conversation_id": conversation.id, "text": "".join(text), "status": status}
        if status != "completed":
            record["result"] = result
            if errors:
                error = errors[-1]
                code, message = str(error.get("code")), str(error.get("message"))
                raise HubError(message, code=code)
            raise AgentRunFailedError(f"the agent run ended {status}", status=status)
        return result

    async def _http(
        self, action: HttpAction, run: RunContext, record: dict[str, Any]
    ) -> dict[str, Any]:
        request = outbound.Request(
            method=action.method,
            url=render(action.url, run.context).strip(),
            headers=action.headers,
            body=action.body,
        )
        record["input"] = request.shown()
        try:
            return await outbound.send(
                request,
                allow_local=await self._allow_local(run.owner),
                seconds=self._config.http_timeout_seconds,
                max_bytes=self._config.http_max_response_kib * 1024,
            )
        except outbound.HttpStatusError as err:
            record["result"] = err.answer
            raise

    async def _allow_local(self, person_id: str) -> bool:
        chat = self._chat.built
        if chat is None and not self._preferences_read:
            # Until the agent is built nothing has read the stored preferences; read them once.
            await self._preferences.load()
            self._preferences_read = True
        return self._preferences.of(person_id).allow_local_fetch

    async def _choose(
        self, action: ChooseAction, run: RunContext, path: str, record: dict[str, Any]
    ) -> dict[str, Any]:
        record["input"] = {"choices": len(action.choices), "default": bool(action.default)}
        checked: list[dict[str, Any]] = []
        for index, choice in enumerate(action.choices):
            where = f"{path}.choices[{index}]"
            holds, results = await self._conditions.check(
                choice.conditions, run, f"{where}.conditions"
            )
            checked.extend(results)
            if holds:
                record["result"] = {"choice": index, "conditions": checked}
                await self.run(choice.actions, run, f"{where}.actions")
                return {"choice": index, "conditions": checked}
        chosen = "default" if action.default else None
        record["result"] = {"choice": chosen, "conditions": checked}
        await self.run(action.default, run, f"{path}.default")
        return {"choice": chosen, "conditions": checked}


def _describe(err: Exception) -> tuple[str, str]:
    """A step error's code and English message, secrets masked."""
    if isinstance(err, HubError):
        return err.code, _message(err.message)
    if isinstance(err, ExpressionError):
        return EXPRESSION_FAILED, _message(f"{err.expression}: {err}")
    _LOGGER.exception("A workflow step failed unexpectedly")
    return INTERNAL_ERROR, "the step failed unexpectedly; the hub's log has the details"


def _message(text: str) -> str:
    return SECRETS.redact(text)[:MAX_MESSAGE]
