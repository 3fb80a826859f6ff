"""Workflows as people see them: who may see and change which, saved, armed and run.

The one ownership rule: a personal workflow is its owner's alone (admins included); a household
workflow is every admin's, and the admin who saves it last becomes its owner (its agent steps act
as them). Someone else's workflow is answered like a missing one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, NotRequired, Protocol, TypedDict

from hub.config import WorkflowsConfig
from hub.core.bus import EventBus, EventType
from hub.core.errors import (
    WORKFLOW_FORBIDDEN,
    WORKFLOW_LIMIT,
    WORKFLOW_NOT_FOUND,
    WORKFLOW_RUN_NOT_FOUND,
    WORKFLOW_VERSION_CONFLICT,
    BadRequestError,
    ForbiddenError,
    HubError,
    NotFoundError,
)
from hub.workflows.model import Workflow, WorkflowInput
from hub.workflows.runs import RunLog
from hub.workflows.store import Workflows, WorkflowStore
from hub.workflows.validate import Validator

_LOGGER = logging.getLogger(__name__)

LOOPED: Final = "looped"


class WorkflowChangedData(TypedDict):
    """``workflow.changed``: a personal workflow's carry its owner (only they hear of it); a
    household one's none, so it reaches the admins."""

    workflow_id: str
    change: str
    person_id: NotRequired[str]


EVENT_WORKFLOW_CHANGED: Final = EventType[WorkflowChangedData]("workflow.changed")


class Caller(Protocol):
    """Who asks (a ``Principal``): their id and whether they are an admin now."""

    @property
    def person_id(self) -> str: ...

    @property
    def is_admin(self) -> bool: ...


class Engine(Protocol):
    """What the service needs of ``hub.workflows.engine.Engine``."""

    async def start(self, workflows: Iterable[Workflow]) -> None: ...

    async def stop(self) -> None: ...

    def put(self, workflow: Workflow) -> None: ...

    def drop(self, workflow_id: str) -> None: ...

    def start_run(
        self, workflow: Workflow, trigger: Mapping[str, Any], *, conditions: bool = False
    ) -> str: ...

    def status(self, workflow_id: str) -> Any: ...


class WorkflowNotFoundError(NotFoundError):
    """No such workflow, or not one the caller may see."""

    code = WORKFLOW_NOT_FOUND


class WorkflowRunNotFoundError(NotFoundError):
    """The workflow has no such run (or it was pruned)."""

    code = WORKFLOW_RUN_NOT_FOUND


class WorkflowVersionConflictError(HubError):
    """The workflow changed since the editor read it."""

    code = WORKFLOW_VERSION_CONFLICT
    http_status = 409


class WorkflowLimitError(BadRequestError):
    """The person has as many workflows as ``workflows.max_per_person`` allows."""

    code = WORKFLOW_LIMIT


class WorkflowForbiddenError(ForbiddenError):
    """Only admins make household workflows."""

    code = WORKFLOW_FORBIDDEN


def may_see(workflow: Workflow, caller: Caller) -> bool:
    """The one rule: a household workflow is the admins', a personal one its owner's alone."""
    return caller.is_admin if workflow.household else workflow.owner == caller.person_id


class WorkflowService:
    """Workflows by who may see them: saved (validated) in the store, armed in the engine."""

    def __init__(
        self,
        *,
        store: WorkflowStore,
        validator: Validator,
        engine: Engine,
        runs: RunLog,
        bus: EventBus,
        config: WorkflowsConfig,
        admins: Callable[[], list[str]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._validator = validator
        self.engine = engine
        self._runs = runs
        self._bus = bus
        self._config = config
        self._admins = admins
        """The ids of the admins now, oldest first: who inherits a removed owner's household ones."""
        self._clock = clock
        self._lock = asyncio.Lock()
        """Read, compare and write one at a time: two editors of one version cannot both win."""

    async def load(self) -> None:
        """Read the stored workflows."""
        await self._store.load()

    async def start(self) -> None:
        """Arm every enabled workflow (the store is loaded)."""
        await self.engine.start(self._store.workflows.values())

    async def stop(self) -> None:
        """Disarm everything; runs in flight are cancelled and recorded."""
        await self.engine.stop()

    # Reading

    def visible(self, caller: Caller) -> list[Workflow]:
        """The workflows ``caller`` may see, by name."""
        found = [w for w in self._store.workflows.values() if may_see(w, caller)]
        return sorted(found, key=lambda w: (w.name.casefold(), w.id))

    def get(self, caller: Caller, workflow_id: str) -> Workflow:
        """One workflow ``caller`` may see; anything else is ``WorkflowNotFoundError``."""
        workflow = self._store.get(workflow_id)
        if workflow is None or not may_see(workflow, caller):
            raise WorkflowNotFoundError(
                f"no workflow {workflow_id!r}", key="errors.workflow_not_found"
            )
        return workflow

    def view(self, workflow: Workflow) -> dict[str, Any]:
        """What a client sees: the workflow and its engine status."""
        data = workflow.model_dump(mode="json", by_alias=True)
        data["status"] = _public(self.engine.status(workflow.id))
        return data

    # Changing

    async def create(self, caller: Caller, data: WorkflowInput) -> Workflow:
        """Save a new workflow of ``caller``'s (a household one only by an admin)."""
        self._check_household(caller, data)
        await self._validator.check(data, caller.person_id)
        async with self._lock:
            owned = sum(1 for w in self._store.workflows.values() if w.owner == caller.person_id)
            limit = self._config.max_per_person
            if owned >= limit:
                raise WorkflowLimitError(
                    f"{caller.person_id} has {owned} workflows, the most allowed ({limit})",
                    key="errors.workflow_limit",
                    limit=limit,
                )
            now = self._clock()
            workflow = Workflow(
                **_fields(data),
                id=secrets.token_hex(8),
                owner=caller.person_id,
                version=1,
                created_at=now,
                updated_at=now,
            )
            await self._store.put(workflow)
        self._changed(workflow, "created")
        return workflow

    async def replace(
        self, caller: Caller, workflow_id: str, data: WorkflowInput, version: int | None
    ) -> Workflow:
        """Save a new version of a workflow; ``version`` (the one edited) must still be current."""
        current = self.get(caller, workflow_id)
        self._check_household(caller, data)
        owner = caller.person_id  # its owner, or (household) the admin saving it
        await self._validator.check(data, owner)
        async with self._lock:
            current = self.get(caller, workflow_id)
            self._check_version(current, version)
            workflow = Workflow(
                **_fields(data),
                id=current.id,
                owner=owner,
                version=current.version + 1,
                created_at=current.created_at,
                updated_at=self._clock(),
                disabled_reason=None if data.enabled else current.disabled_reason,
            )
            await self._store.put(workflow)
        self._changed(workflow, "updated", before=current)
        return workflow

    async def set_enabled(
        self, caller: Caller, workflow_id: str, enabled: bool, version: int | None = None
    ) -> Workflow:
        """Switch a workflow on or off; on clears why the hub switched it off."""
        async with self._lock:
            current = self.get(caller, workflow_id)
            self._check_version(current, version)
            workflow = current.model_copy(
                update={
                    "enabled": enabled,
                    "disabled_reason": current.disabled_reason if not enabled else None,
                    "version": current.version + 1,
                    "updated_at": self._clock(),
                }
            )
            await self._store.put(workflow)
        self._changed(workflow, "updated")
        return workflow

    async def delete(self, caller: Caller, workflow_id: str) -> None:
        """Delete a workflow with its runs."""
        async with self._lock:
            workflow = self.get(caller, workflow_id)
            await self._store.remove(workflow_id)
        self.engine.drop(workflow_id)
        await self._runs.delete_workflow(workflow_id)
        self._fire(workflow, "deleted")

    async def on_looped(self, workflow_id: str) -> None:
        """The engine's loop guard stopped a workflow: keep it off until a person switches it on."""
        async with self._lock:
            current = self._store.get(workflow_id)
            if current is None or (not current.enabled and current.disabled_reason == LOOPED):
                return
            workflow = current.model_copy(
                update={
                    "enabled": False,
                    "disabled_reason": LOOPED,
                    "version": current.version + 1,
                    "updated_at": self._clock(),
                }
            )
            await self._store.put(workflow)
        _LOGGER.warning("Workflow %s (%s) looped and was switched off", workflow.id, workflow.name)
        self._changed(workflow, "updated")

    async def forget_person(self, person_id: str) -> None:
        """A removed person: their personal workflows go with their runs, household ones they
        owned pass to another admin (or are deleted when none is left)."""
        heir = next((pid for pid in self._admins() if pid != person_id), None)
        now = self._clock()

        def change(items: Workflows) -> Workflows:
            kept: dict[str, Workflow] = {}
            for key, workflow in items.items():
                if workflow.owner != person_id:
                    kept[key] = workflow
                elif workflow.household and heir is not None:
                    kept[key] = workflow.model_copy(
                        update={"owner": heir, "version": workflow.version + 1, "updated_at": now}
                    )
            return kept

        async with self._lock:
            before = dict(self._store.workflows)
            after = await self._store.change(change)
        for workflow_id, workflow in before.items():
            if workflow_id not in after:
                self.engine.drop(workflow_id)
                await self._runs.delete_workflow(workflow_id)
                self._fire(workflow, "deleted")
            elif after[workflow_id] is not workflow:
                self._changed(after[workflow_id], "updated")

    # Running

    def run_now(self, caller: Caller, workflow_id: str) -> str:
        """Run a workflow's actions now (its conditions are skipped); the run's id."""
        workflow = self.get(caller, workflow_id)
        return self.engine.start_run(workflow, {"type": "manual", "by": caller.person_id})

    async def runs(
        self, caller: Caller, workflow_id: str, *, limit: int, before: str | None
    ) -> dict[str, Any]:
        """A page of the workflow's runs, newest first."""
        self.get(caller, workflow_id)
        return await self._runs.list(workflow_id, limit=limit, before=before)

    async def run(self, caller: Caller, workflow_id: str, run_id: str) -> dict[str, Any]:
        """One whole run record."""
        self.get(caller, workflow_id)
        found = await self._runs.get(workflow_id, run_id)
        if found is None:
            raise WorkflowRunNotFoundError(
                f"workflow {workflow_id} has no run {run_id!r}", key="errors.workflow_run_not_found"
            )
        return found

    async def rerun(self, caller: Caller, workflow_id: str, run_id: str) -> str:
        """Run a workflow again with a past run's trigger data; the new run's id."""
        past = await self.run(caller, workflow_id, run_id)
        trigger = past.get("trigger")
        trigger = dict(trigger) if isinstance(trigger, Mapping) else {}
        trigger["rerun_of"] = run_id
        return self.engine.start_run(self.get(caller, workflow_id), trigger)

    # Helpers

    def _check_household(self, caller: Caller, data: WorkflowInput) -> None:
        if data.household and not caller.is_admin:
            raise WorkflowForbiddenError(
                "only admins may make a household workflow", key="errors.workflow_forbidden"
            )

    def _check_version(self, current: Workflow, version: int | None) -> None:
        if version is not None and version != current.version:
            raise WorkflowVersionConflictError(
                f"workflow {current.id} is at version {current.version}, not {version}",
                key="errors.workflow_version_conflict",
                current=current.version,
            )

    def _changed(self, workflow: Workflow, change: str, before: Workflow | None = None) -> None:
        self.engine.put(workflow)
        if before is not None and before.household != workflow.household:
            # Who may see it changed: those who no longer may are told it is gone for them.
            self._fire(before, "deleted")
            change = "created"
        self._fire(workflow, change)

    def _fire(self, workflow: Workflow, change: str) -> None:
        data: WorkflowChangedData = {"workflow_id": workflow.id, "change": change}
        if not workflow.household:
            data["person_id"] = workflow.owner
        self._bus.fire(EVENT_WORKFLOW_CHANGED, data, origin="workflows")


def _fields(data: WorkflowInput) -> dict[str, Any]:
    """The input's fields as model values (not dumped: the nested models are kept)."""
    return {name: getattr(data, name) for name in WorkflowInput.model_fields}


def _public(status: Any) -> Any:
    """The engine's status as JSON."""
    for method in ("as_dict", "public"):
        convert = getattr(status, method, None)
        if callable(convert):
            return convert()
    if dataclasses.is_dataclass(status) and not isinstance(status, type):
        return dataclasses.asdict(status)
    if isinstance(status, Mapping):
        return dict(status)
    return status
