"""A real hub with the ``dimmers`` test integration, and workflow steps run on it as the engine does:
an ``Actions`` built from the app's own services, a ``RunContext`` per run."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.agent.conversations import Conversations
from hub.api.state import (
    AUTH,
    BUS,
    CHAT,
    CONFIG,
    CONFIG_ENTRIES,
    DATABASE,
    ENTITIES,
    HOME,
    NOTIFICATIONS,
    PREFERENCES,
    REGISTRY,
)
from hub.workflows.actions import Actions, RunContext, StepFailed
from hub.workflows.conditions import Conditions
from hub.workflows.model import Workflow
from tests.agent.support import AgentHub
from tests.auth_helpers import OWNER

DIMMERS = Path(__file__).parent / "dimmers"

StartHub = Callable[..., Awaitable[AgentHub]]


@dataclass
class Bench:
    """A started hub, the actions wired to it, and its owner's person id."""

    hub: AgentHub
    actions: Actions
    owner: str

    def person(self, username: str) -> str:
        """A person's id by their user name."""
        return next(p.person_id for p in self.hub.app[AUTH].people() if p.username == username)

    async def lights(self, entry_id: str) -> dict[str, int]:
        """The entity ids of an entry's lights, by name."""
        rows = await self.hub.app[ENTITIES].list_entities(entry_ids=[entry_id])
        return {row.name: row.id for row in rows}

    async def perform(
        self, workflow: Workflow, trigger: dict[str, Any] | None = None
    ) -> tuple[RunContext, StepFailed | None]:
        """Run the workflow's actions as the engine does; the run and how it stopped, if early."""
        run = run_of(workflow, trigger)
        try:
            await self.actions.run(workflow.actions, run)
        except StepFailed as err:
            return run, err
        return run, None


async def bench(start: StartHub, tmp_path: Path, **config: Any) -> Bench:
    """Start a hub (``config`` as ``HubConfig`` fields) with the dimmers integration available."""
    target = tmp_path / "integrations" / "dimmers"
    if not target.exists():
        shutil.copytree(DIMMERS, target)
    hub = await start(**config)
    app = hub.app
    entities, entries = app[ENTITIES], app[CONFIG_ENTRIES]
    actions = Actions(
        bus=app[BUS],
        entities=entities,
        entries=entries,
        registry=app[REGISTRY],
        notifications=app[NOTIFICATIONS],
        chat=app[CHAT],
        conversations_factory=lambda: Conversations(app[DATABASE]),
        preferences=app[PREFERENCES],
        auth=app[AUTH],
        config=app[CONFIG].workflows,
        conditions=Conditions(entities=entities, entries=entries, home=app[HOME]),
    )
    owner = next(p.person_id for p in app[AUTH].people() if p.username == OWNER)
    return Bench(hub, actions, owner)


def workflow(
    owner: str, *actions: dict[str, Any], household: bool = False, name: str = "Evening"
) -> Workflow:
    """A stored workflow of ``owner`` with these actions (triggered by a custom event)."""
    return Workflow.model_validate(
        {
            "id": "wf0123456789abcd",
            "owner": owner,
            "version": 1,
            "created_at": 0.0,
            "updated_at": 0.0,
            "name": name,
            "household": household,
            "triggers": [{"type": "event", "event_type": "test.go"}],
            "actions": list(actions),
        }
    )


def run_of(workflow: Workflow, trigger: dict[str, Any] | None = None) -> RunContext:
    """A run's context as the engine makes it."""
    context = {
        "trigger": trigger or {"type": "manual"},
        "workflow": {"id": workflow.id, "name": workflow.name},
        "steps": [],
    }
    return RunContext(workflow=workflow, run_id="run0123456789abc", context=context)


async def eventually(check: Callable[[], Awaitable[Any]], seconds: float = 10.0) -> Any:
    """``check()``'s first truthy answer, asked again until it gives one within ``seconds``."""
    async with asyncio.timeout(seconds):
        while True:
            answer = await check()
            if answer:
                return answer
            await asyncio.sleep(0.02)
