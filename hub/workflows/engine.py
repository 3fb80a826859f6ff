"""The workflow engine: arms triggers, decides by mode, runs conditions and actions, guards loops.

One bus listener per event type that some armed trigger needs (not one per workflow), each a plain
function that looks the event up in ``TriggerIndex`` and starts runs as tasks: the hub never waits
on a run, and a run never waits on the disk before its first action (its record is queued).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, TypedDict

from hub.core.bus import CAUSE, Event, EventBus, EventType, ListenerHandle, RunCause
from hub.core.errors import (
    INTERNAL_ERROR,
    WORKFLOW_BUSY,
    WORKFLOW_LOOPED,
    WORKFLOW_TIMED_OUT,
    HubError,
    NotFoundError,
)
from hub.core.notifications import Notifications
from hub.core.scheduler import Scheduler
from hub.entities.service import EntityService
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.entry import EVERYONE
from hub.integrations.location import HomeSetting
from hub.integrations.registry import IntegrationRegistry
from hub.workflows import triggers as trig
from hub.workflows.actions import Actions, RunContext, StepFailed
from hub.workflows.conditions import Conditions, home_zone_name
from hub.workflows.model import (
    EventTrigger,
    ScheduleTrigger,
    StateTrigger,
    Workflow,
)
from hub.workflows.runs import RunLog, iso, summary_of

if TYPE_CHECKING:
    from hub.agent.conversations import Conversations
    from hub.agent.lazy import LazyChat
    from hub.agent.preferences import Preferences
    from hub.auth.service import AuthService
    from hub.comms.inbox import Inbox
    from hub.config import WorkflowsConfig
    from hub.integrations.translations import Translations

_LOGGER = logging.getLogger(__name__)

MAX_CHAIN: Final = 20
"""Workflows one event may have passed through (each triggering the next) before it stops."""
LISTENER_QUEUE: Final = 16_384
"""Events a trigger listener may fall behind by before the bus drops one: a burst of thousands
a second is matched, never lost."""
STOP_GRACE: Final = 5.0
SEEN_MESSAGES: Final = 4_096
"""New inbox messages remembered, so one that is triaged again does not fire twice."""
ADMINS: Final = "@admins"
"""``hub.api.access.ADMINS``, the audience of admin-only events (workflows may not import the API
layer; a test keeps the two equal)."""


class WorkflowRunData(TypedDict, total=False):
    """``workflow.run``: a run ended; ``person_id`` is the owner of a personal workflow."""

    workflow_id: str
    run_id: str
    status: str
    person_id: str


EVENT_WORKFLOW_RUN: Final = EventType[WorkflowRunData]("workflow.run")


@dataclass(frozen=True, slots=True)
class WorkflowStatus:
    """What the engine knows of a workflow now."""

    running: int
    last_run: dict[str, Any] | None
    skipped: int
    """Triggers its mode dropped (single while running, queue or parallel limit reached)."""
    next_fire: str | None
    missed_fires: int
    """Schedule times missed (the hub down or busy), each folded into a later run or dropped."""

    def as_dict(self) -> dict[str, Any]:
        """As the API shows it."""
        return {
            "running": self.running,
            "last_run": self.last_run,
            "skipped": self.skipped,
            "next_fire": self.next_fire,
            "missed_fires": self.missed_fires,
        }


@dataclass(slots=True)
class _Pending:
    run_id: str
    trigger: dict[str, Any]
    chain: tuple[str, ...]
    check: bool
    began: bool = False
    made: float = field(default_factory=time.time)


@dataclass(eq=False, slots=True)
class _Flow:
    """A workflow's life in the engine: its runs, its queue, its counters."""

    workflow: Workflow
    armed: bool = False
    dropped: bool = False
    """Deleted: its runs' ends are no longer recorded (its history is being deleted)."""
    tasks: dict[asyncio.Task[None], str] = field(default_factory=dict)
    endings: dict[asyncio.Task[None], str] = field(default_factory=dict)
    """Why a run task was cancelled: the status it records."""
    queue: deque[_Pending] = field(default_factory=deque)
    skipped: int = 0
    missed: int = 0
    last_run: dict[str, Any] | None = None
    self_triggers: deque[float] = field(default_factory=deque)
    timers: dict[int, asyncio.TimerHandle] = field(default_factory=dict)
    jobs: list[str] = field(default_factory=list)


def job_name(workflow_id: str, index: int) -> str:
    """The scheduler job of a workflow's schedule trigger."""
    return f"workflow:{workflow_id}:{index}"


def new_run_id() -> str:
    """A run's id."""
    return secrets.token_hex(8)


class Engine:
    """Arms enabled workflows' triggers and runs them."""

    def __init__(
        self,
        *,
        bus: EventBus,
        scheduler: Scheduler,
        entities: EntityService,
        entries: ConfigEntries,
        registry: IntegrationRegistry,
        runs: RunLog,
        notifications: Notifications,
        chat: LazyChat,
        conversations_factory: Callable[[], Conversations],
        preferences: Preferences,
        home: HomeSetting,
        auth: AuthService,
        audience: Callable[[Event[Mapping[str, Any]]], str | None],
        config: WorkflowsConfig,
        on_looped: Callable[[str], Awaitable[None]],
        inbox: Inbox | None = None,
        translations: Translations | None = None,
        webhook_body: Callable[[str, str], Awaitable[Any]] | None = None,
    ) -> None:
        self._bus = bus
        self._scheduler = scheduler
        self._runs = runs
        self.runs = runs
        """The run history this engine records to."""
        self._notifications = notifications
        self._home = home
        self._auth = auth
        self._audience = audience
        self._config = config
        self._on_looped = on_looped
        self._inbox = inbox
        self._translations = translations
        self._webhook_body = webhook_body
        """A delivery's parsed body by entry and delivery id (the delivery log keeps it)."""
        self.conditions = Conditions(entities=entities, entries=entries, home=home)
        self.actions = Actions(
            bus=bus,
            entities=entities,
            entries=entries,
            registry=registry,
            notifications=notifications,
            chat=chat,
            conversations_factory=conversations_factory,
            preferences=preferences,
            auth=auth,
            config=config,
            conditions=self.conditions,
        )
        self._flows: dict[str, _Flow] = {}
        self._index = trig.TriggerIndex()
        self._listeners: dict[str, ListenerHandle] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._seen_messages: OrderedDict[int, None] = OrderedDict()
        self._started = False

    # Lifecycle

    async def start(self, workflows: Iterable[Workflow]) -> None:
        """Arm every enabled workflow; fold schedule times missed while the hub was down."""
        interrupted, last_runs, fires = await self._runs.recover()
        if interrupted:
            _LOGGER.info("%d workflow run(s) were interrupted by the last stop", interrupted)
        zone = home_zone_name(self._home)
        await asyncio.to_thread(_warm_zone, zone)  # reading the zone file blocks
        self._started = True
        for workflow in workflows:
            flow = self._flows.setdefault(workflow.id, _Flow(workflow))
            flow.workflow = workflow
            flow.last_run = last_runs.get(workflow.id)
            if workflow.enabled:
                self._arm(flow, sync=False)
        self._sync_listeners()
        self._runs.schedule(self._scheduler)
        await self._catch_up(fires, zone)

    async def stop(self) -> None:
        """Disarm everything, stop runs in flight (recorded ``interrupted``), write the records."""
        self._started = False
        for flow in self._flows.values():
            self._disarm(flow, sync=False)
        self._sync_listeners()
        tasks: list[asyncio.Task[Any]] = []
        for flow in self._flows.values():
            flow.queue.clear()
            tasks.extend(self._cancel_runs(flow, "interrupted"))
        tasks.extend(self._background)
        for task in self._background:
            task.cancel()
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=STOP_GRACE)
            if stuck:
                _LOGGER.error("%d workflow run(s) ignored cancellation", len(stuck))
        await self.actions.close()
        await self._runs.close()

    # Changes

    def put(self, workflow: Workflow) -> None:
        """Arm (or re-arm) a saved workflow, or disarm it when disabled; runs in flight finish."""
        flow = self._flows.get(workflow.id)
        if flow is None:
            flow = self._flows[workflow.id] = _Flow(workflow)
        self._disarm(flow, sync=False)
        flow.workflow = workflow
        if workflow.enabled and self._started:
            self._arm(flow, sync=False)
        self._sync_listeners()

    def drop(self, workflow_id: str) -> None:
        """Disarm a deleted workflow and cancel its runs."""
        flow = self._flows.pop(workflow_id, None)
        if flow is None:
            return
        flow.dropped = True
        self._disarm(flow)
        flow.queue.clear()
        self._cancel_runs(flow, "cancelled")

    def start_run(
        self, workflow: Workflow, trigger: Mapping[str, Any], *, conditions: bool = False
    ) -> str:
        """Run now (or re-run): skips conditions unless asked, obeys the mode; the run's id."""
        flow = self._flows.get(workflow.id)
        if flow is None:
            flow = self._flows[workflow.id] = _Flow(workflow)
        elif flow.workflow.version <= workflow.version:
            flow.workflow = workflow
        data = {"time": trig.now_iso(), **trigger}
        run_id = self._decide(flow, data, (), check=conditions)
        if run_id is None:  # the mode dropped it: say so in the history rather than nothing
            run_id = new_run_id()
            self._record_ended(
                flow,
                run_id,
                data,
                "cancelled",
                {"path": None, "code": WORKFLOW_BUSY, "message": _busy(flow.workflow)},
            )
        return run_id

    def status(self, workflow_id: str) -> WorkflowStatus:
        """Running runs, the last run, what was skipped or missed, and the next schedule time."""
        flow = self._flows.get(workflow_id)
        if flow is None:
            return WorkflowStatus(0, None, 0, None, 0)
        missed = flow.missed
        upcoming: list[datetime] = []
        for name in flow.jobs:
            with contextlib.suppress(KeyError):
                missed += self._scheduler.stats(name).missed
            moment = self._scheduler.next_run(name)
            if moment is not None:
                upcoming.append(moment)
        next_fire = min(upcoming).astimezone(UTC).isoformat() if upcoming else None
        return WorkflowStatus(
            running=len(flow.tasks),
            last_run=flow.last_run,
            skipped=flow.skipped,
            next_fire=next_fire,
            missed_fires=missed,
        )

    # Arming

    def _arm(self, flow: _Flow, *, sync: bool = True) -> None:
        workflow = flow.workflow
        self._index.add(workflow)
        flow.armed = True
        for index, trigger in enumerate(workflow.triggers):
            if isinstance(trigger, ScheduleTrigger):
                self._schedule(flow, index, trigger)
        if sync:
            self._sync_listeners()

    def _disarm(self, flow: _Flow, *, sync: bool = True) -> None:
        if flow.armed:
            self._index.remove(flow.workflow.id)
            flow.armed = False
        for timer in flow.timers.values():
            timer.cancel()
        flow.timers.clear()
        for name in flow.jobs:
            self._scheduler.remove_job(name)
        flow.jobs.clear()
        if sync:
            self._sync_listeners()

    def _sync_listeners(self) -> None:
        wanted = self._index.patterns() if self._started else set()
        for pattern in list(self._listeners):
            if pattern not in wanted:
                self._listeners.pop(pattern)()
        for pattern in wanted - self._listeners.keys():
            self._listeners[pattern] = self._bus.listen(
                pattern, self._on_event, queue_size=LISTENER_QUEUE
            )

    def _schedule(self, flow: _Flow, index: int, trigger: ScheduleTrigger) -> None:
        workflow_id = flow.workflow.id
        name = job_name(workflow_id, index)
        spec = trig.schedule_spec(trigger)

        async def due() -> None:
            current = self._flows.get(workflow_id)
            if current is None or not current.armed:
                return
            try:
                scheduled = self._scheduler.stats(name).last_scheduled
            except KeyError:
                scheduled = None
            self._runs.note_fire(workflow_id, index, spec, time.time())
            armed = trig.Armed(workflow_id, index, trigger)
            self._decide(current, trig.schedule_data(armed, scheduled), ())

        try:
            if trigger.cron is not None:
                zone = home_zone_name(self._home)
                self._scheduler.add_cron_job(name, due, cron=trigger.cron, timezone=zone)
            elif trigger.interval_seconds is not None:
                self._scheduler.add_interval_job(name, due, seconds=trigger.interval_seconds)
        except ValueError as err:  # checked on save; a line that stopped parsing is logged
            _LOGGER.warning("Workflow %s: schedule %d not armed: %s", workflow_id, index, err)
            return
        flow.jobs.append(name)
        # Armed now, so nothing was missed up to now (``start`` read what was stored before).
        self._runs.note_fire(workflow_id, index, spec, time.time())

    async def _catch_up(
        self, fires: Mapping[tuple[str, int], tuple[str, float]], zone: str
    ) -> None:
        """Count schedule times missed while the hub was down; run each schedule once for them
        when the latest is within the grace (``start`` armed them, noting now as seen)."""
        now = time.time()
        waiting: list[tuple[trig.Armed, ScheduleTrigger, float]] = []
        for armed in self._index.schedules:
            trigger = armed.trigger
            assert isinstance(trigger, ScheduleTrigger)
            stored = fires.get((armed.workflow_id, armed.index))
            if stored is not None and stored[0] == trig.schedule_spec(trigger):
                waiting.append((armed, trigger, stored[1]))
        if not waiting:
            return
        # One hop off the loop for every cron line: a long downtime of a frequent one is CPU work.
        missed = await asyncio.to_thread(_missed_all, waiting, zone, now)
        grace = self._config.misfire_grace_seconds
        for (armed, _, _), (count, latest) in zip(waiting, missed, strict=True):
            flow = self._flows.get(armed.workflow_id)
            if not count or latest is None or flow is None:
                continue
            flow.missed += count
            if now - latest.timestamp() <= grace:
                self._decide(flow, trig.schedule_data(armed, latest, coalesced=count), ())
            else:
                _LOGGER.info(
                    "Workflow %s missed %d scheduled run(s), the latest past the grace time",
                    armed.workflow_id,
                    count,
                )

    # Events

    def _on_event(self, event: Event[Mapping[str, Any]]) -> None:
        """Every event of a type some trigger needs: find the triggers, start their runs."""
        index = self._index
        kind = event.type
        seen: list[str | None] = []  # the event's audience, asked once and only when needed
        for armed in index.events.get(kind, ()):
            trigger = armed.trigger
            assert isinstance(trigger, EventTrigger)
            if trig.event_fires(trigger, event):
                self._fire(armed, event, seen, trig.event_data(armed, event))
        if index.states and kind in trig.ENTITY_EVENTS:
            change = trig.StateChange.of(event)
            if change is not None:
                for armed in index.states.get(change.entity_id, ()):
                    self._on_state(armed, change, event, seen)
        if kind == trig.WEBHOOK_RECEIVED:
            entry_id = event.data.get("entry_id")
            matched = [
                armed
                for armed in index.webhooks.get(entry_id if isinstance(entry_id, str) else "", ())
                if trig.webhook_fires(armed.trigger, event)  # type: ignore[arg-type]
            ]
            if matched:
                self._spawn(self._webhook(event, matched), "workflow webhook trigger")
        if kind == trig.INBOX_MESSAGE and index.messages:
            self._on_message(event)

    def _fire(
        self,
        armed: trig.Armed,
        event: Event[Mapping[str, Any]],
        seen: list[str | None],
        data: dict[str, Any],
    ) -> None:
        flow = self._flows.get(armed.workflow_id)
        if flow is None or not flow.armed:
            return
        if not seen:
            seen.append(self._audience(event))
        if seen[0] not in self._keys(flow.workflow):
            return
        chain = event.cause.chain if event.cause is not None else ()
        self._decide(flow, data, chain)

    def _keys(self, workflow: Workflow) -> frozenset[str]:
        """Whose events reach the workflow: the household's, or its owner's as they may see them."""
        if workflow.household:
            return frozenset((EVERYONE, ADMINS))
        try:
            admin = self._auth.person(workflow.owner).is_admin
        except NotFoundError:
            return frozenset()
        keys = {EVERYONE, workflow.owner}
        if admin:
            keys.add(ADMINS)
        return frozenset(keys)

    def _on_state(
        self,
        armed: trig.Armed,
        change: trig.StateChange,
        event: Event[Mapping[str, Any]],
        seen: list[str | None],
    ) -> None:
        trigger = armed.trigger
        assert isinstance(trigger, StateTrigger)
        flow = self._flows.get(armed.workflow_id)
        if flow is None or not flow.armed:
            return
        before, after = trig.state_values(trigger, change)
        if before == after:
            return
        waiting = flow.timers.pop(armed.index, None)
        if waiting is not None:
            waiting.cancel()  # it changed again before staying long enough
        if not trig.state_fires(trigger, before, after):
            return
        data = trig.state_data(armed, change, before, after)
        if trigger.for_seconds is None:
            self._fire(armed, event, seen, data)
            return

        def stayed() -> None:
            flow.timers.pop(armed.index, None)
            if flow.armed:
                self._fire(armed, event, seen, {**data, "time": trig.now_iso()})

        flow.timers[armed.index] = asyncio.get_running_loop().call_later(
            trigger.for_seconds, stayed
        )

    def _on_message(self, event: Event[Mapping[str, Any]]) -> None:
        data = event.data
        entity_id = data.get("entity_id")
        if data.get("change") != trig.MESSAGE_READY or not isinstance(entity_id, int):
            return
        if entity_id in self._seen_messages:
            return
        self._seen_messages[entity_id] = None
        if len(self._seen_messages) > SEEN_MESSAGES:
            self._seen_messages.popitem(last=False)
        self._spawn(self._message(event, entity_id), f"workflow message {entity_id}")

    async def _webhook(self, event: Event[Mapping[str, Any]], matched: list[trig.Armed]) -> None:
        """Fire the matched webhook triggers with the delivery's body, read from its log."""
        body = None
        entry_id, delivery_id = event.data.get("entry_id"), event.data.get("delivery_id")
        known = isinstance(entry_id, str) and isinstance(delivery_id, str)
        if self._webhook_body is not None and known:
            body = await self._webhook_body(str(entry_id), str(delivery_id))
        seen: list[str | None] = []
        for armed in matched:
            self._fire(armed, event, seen, trig.webhook_data(armed, event, body))

    async def _message(self, event: Event[Mapping[str, Any]], entity_id: int) -> None:
        if self._inbox is None:
            return
        try:
            message = await self._inbox.get(entity_id)
        except HubError:
            return  # removed meanwhile
        if message.from_me:
            return  # sent, not arrived
        fields = trig.message_fields(message)
        seen: list[str | None] = []
        for armed in list(self._index.messages):
            if trig.message_fires(armed.trigger, fields):  # type: ignore[arg-type]
                self._fire(armed, event, seen, trig.message_data(armed, fields))

    # Runs

    def _decide(
        self, flow: _Flow, trigger: dict[str, Any], chain: tuple[str, ...], *, check: bool = True
    ) -> str | None:
        """The mode and the loop guard decide; the run's id, or ``None`` when dropped."""
        workflow = flow.workflow
        if workflow.id in chain and self._looping(flow):
            self._looped(flow, trigger)
            return None
        if len(chain) >= MAX_CHAIN:
            message = f"stopped after a chain of {len(chain)} workflows triggering each other"
            self._record_ended(
                flow,
                new_run_id(),
                trigger,
                "looped",
                {"path": None, "code": WORKFLOW_LOOPED, "message": message},
            )
            return None
        pending = _Pending(new_run_id(), trigger, chain, check)
        running = len(flow.tasks)
        mode = workflow.mode
        if running and mode == "single":
            flow.skipped += 1
            return None
        if running and mode == "restart":
            self._cancel_runs(flow, "cancelled")
        elif running and mode == "queued":
            if len(flow.queue) >= workflow.max_runs:
                flow.skipped += 1
                return None
            flow.queue.append(pending)
            return pending.run_id
        elif mode == "parallel" and running >= workflow.max_runs:
            flow.skipped += 1
            return None
        self._start(flow, pending)
        return pending.run_id

    def _looping(self, flow: _Flow) -> bool:
        """Count a self-trigger; whether there were more than the limit within the window."""
        now = time.monotonic()
        window = flow.self_triggers
        window.append(now)
        while window and now - window[0] > self._config.loop_window_seconds:
            window.popleft()
        return len(window) > self._config.loop_limit

    def _looped(self, flow: _Flow, trigger: dict[str, Any]) -> None:
        """Stop a workflow that keeps triggering itself: record it, disarm it, tell its people."""
        workflow = flow.workflow
        run_id = new_run_id()
        limit, window = self._config.loop_limit, self._config.loop_window_seconds
        message = f"triggered itself more than {limit} times within {window:g} s"
        _LOGGER.warning("Workflow %s (%s) %s: switched off", workflow.id, workflow.name, message)
        self._record_ended(
            flow,
            run_id,
            trigger,
            "looped",
            {"path": None, "code": WORKFLOW_LOOPED, "message": message},
        )
        self._disarm(flow)
        flow.queue.clear()
        flow.self_triggers.clear()
        self._cancel_runs(flow, "cancelled")
        self._spawn(self._after_loop(workflow, run_id), f"workflow looped {workflow.id}")

    async def _after_loop(self, workflow: Workflow, run_id: str) -> None:
        try:
            await self._on_looped(workflow.id)
        except Exception:
            _LOGGER.exception("Switching off looping workflow %s failed", workflow.id)
        try:
            await self._notify_looped(workflow, run_id)
        except Exception:
            _LOGGER.exception("Telling about looping workflow %s failed", workflow.id)

    async def _notify_looped(self, workflow: Workflow, run_id: str) -> None:
        by_language: dict[str, list[str]] = {}
        for person_id in self._recipients(workflow):
            try:
                language = self._auth.person(person_id).language or "en"
            except NotFoundError:
                continue
            by_language.setdefault(language, []).append(person_id)
        for language, people in by_language.items():
            title, message = self._looped_text(language, workflow.name)
            await self._notifications.send(
                people,
                title,
                message,
                source=f"workflow:{workflow.id}",
                link=f"#/workflows/{workflow.id}/runs/{run_id}",
            )

    def _looped_text(self, language: str, name: str) -> tuple[str, str]:
        keys = ("workflows.looped.title", "workflows.looped.message")
        if self._translations is None:
            return keys
        title, message = (self._translations.lookup(None, language, key) for key in keys)
        return title.replace("{name}", name), message.replace("{name}", name)

    def _recipients(self, workflow: Workflow) -> list[str]:
        if not workflow.household:
            return [workflow.owner]
        return [person.person_id for person in self._auth.people() if person.is_admin]

    def _start(self, flow: _Flow, pending: _Pending) -> None:
        task = asyncio.get_running_loop().create_task(
            self._run(flow, pending), name=f"workflow run {flow.workflow.id}"
        )
        flow.tasks[task] = pending.run_id
        task.add_done_callback(lambda done: self._settled(flow, pending, done))

    def _settled(self, flow: _Flow, pending: _Pending, task: asyncio.Task[None]) -> None:
        """A run task cancelled before it began: record it as its own ``_run`` would have."""
        if pending.began:
            return
        flow.tasks.pop(task, None)
        status = flow.endings.pop(task, "cancelled")
        self._record_ended(
            flow, pending.run_id, pending.trigger, status, None, started=pending.made
        )
        self._next(flow)

    def _next(self, flow: _Flow) -> None:
        if flow.queue and not flow.tasks and self._started:
            self._start(flow, flow.queue.popleft())

    def _cancel_runs(self, flow: _Flow, status: str) -> list[asyncio.Task[None]]:
        tasks = list(flow.tasks)
        for task in tasks:
            flow.endings.setdefault(task, status)
            task.cancel()
        return tasks

    async def _run(self, flow: _Flow, pending: _Pending) -> None:
        pending.began = True
        workflow = flow.workflow
        task = asyncio.current_task()
        started = time.time()
        clock = time.perf_counter()
        trigger = pending.trigger
        run: dict[str, Any] = {
            "id": pending.run_id,
            "workflow_id": workflow.id,
            "workflow_version": workflow.version,
            "status": "running",
            "trigger": trigger,
            "started_at": iso(started),
            "finished_at": None,
            "duration_ms": None,
            "rerun_of": trigger.get("rerun_of"),
            "conditions": [],
            "steps": [],
            "error": None,
        }
        context = RunContext(
            workflow=workflow,
            run_id=pending.run_id,
            context={
                "trigger": trigger,
                "workflow": {"id": workflow.id, "name": workflow.name},
                "steps": [],
            },
            steps=run["steps"],
        )
        CAUSE.set(RunCause(pending.run_id, workflow.id, (*pending.chain, workflow.id)))
        self._runs.record(run)
        status = "succeeded"
        deadline = asyncio.timeout(workflow.timeout_seconds)
        try:
            async with deadline:
                if pending.check and workflow.conditions:
                    held, results = await self.conditions.check(
                        workflow.conditions, context, "conditions"
                    )
                    run["conditions"] = results
                    if not held:
                        status = "not_met"
                if status == "succeeded":
                    await self.actions.run(workflow.actions, context)
        except StepFailed as err:
            status = "failed"
            run["error"] = {"path": err.path, "code": err.code, "message": err.message}
        except TimeoutError:
            if not deadline.expired():
                raise
            status = "timed_out"
            message = f"did not finish within {workflow.timeout_seconds:g} s"
            run["error"] = {"path": None, "code": WORKFLOW_TIMED_OUT, "message": message}
        except asyncio.CancelledError:
            status = flow.endings.pop(task, "cancelled") if task is not None else "cancelled"
        except Exception:
            _LOGGER.exception("Workflow %s run %s failed", workflow.id, pending.run_id)
            status = "failed"
            run["error"] = {"path": None, "code": INTERNAL_ERROR, "message": "internal error"}
        finally:
            if task is not None:
                flow.tasks.pop(task, None)
                flow.endings.pop(task, None)
        run["status"] = status
        run["finished_at"] = iso(time.time())
        run["duration_ms"] = round((time.perf_counter() - clock) * 1000, 3)
        self._ended(flow, run)
        self._next(flow)

    def _record_ended(
        self,
        flow: _Flow,
        run_id: str,
        trigger: dict[str, Any],
        status: str,
        error: dict[str, Any] | None,
        *,
        started: float | None = None,
    ) -> None:
        moment = iso(time.time())
        run: dict[str, Any] = {
            "id": run_id,
            "workflow_id": flow.workflow.id,
            "workflow_version": flow.workflow.version,
            "status": status,
            "trigger": trigger,
            "started_at": moment if started is None else iso(started),
            "finished_at": moment,
            "duration_ms": 0.0,
            "rerun_of": trigger.get("rerun_of"),
            "conditions": [],
            "steps": [],
            "error": error,
        }
        self._ended(flow, run)

    def _ended(self, flow: _Flow, run: dict[str, Any]) -> None:
        if not flow.dropped:
            self._runs.record(run)
        flow.last_run = summary_of(run)
        workflow = flow.workflow
        data = WorkflowRunData(workflow_id=workflow.id, run_id=run["id"], status=run["status"])
        if not workflow.household:
            data["person_id"] = workflow.owner
        self._bus.fire(EVENT_WORKFLOW_RUN, data)

    def _spawn(self, work: Awaitable[None], name: str) -> None:
        task = asyncio.ensure_future(work)
        task.set_name(name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _missed_all(
    waiting: list[tuple[trig.Armed, ScheduleTrigger, float]], zone: str, now: float
) -> list[tuple[int, datetime | None]]:
    found: list[tuple[int, datetime | None]] = []
    for _, trigger, last in waiting:
        try:
            found.append(trig.missed(trigger, zone, last, now))
        except ValueError:  # a line that no longer parses was not armed either
            found.append((0, None))
    return found


def _warm_zone(name: str) -> None:
    from hub.workflows.conditions import _zone

    _zone(name)


def _busy(workflow: Workflow) -> str:
    if workflow.mode == "single":
        return "the workflow is already running (mode single)"
    return f"the workflow has {workflow.max_runs} run(s) going or waiting (mode {workflow.mode})"
