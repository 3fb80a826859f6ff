"""A real hub for engine tests: the ``chimes`` integration set up, workflows made over REST.

Runs are waited for by reading ``GET /api/workflows/{id}/runs`` until they show (with a timeout),
never by sleeping a fixed time.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from pytest_aiohttp import AiohttpClient

from hub.api.state import BUS, SCHEDULER
from hub.api.workflows import WORKFLOWS
from hub.app import create_app
from hub.config import SOURCE_ROOT, HubConfig, IntegrationsConfig, WorkflowsConfig
from hub.core.bus import EventBus
from hub.core.scheduler import Scheduler
from hub.workflows.engine import Engine
from hub.workflows.runs import RunLog
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.hub_client import HubClient
from tests.integrations.on_disk import install

WAIT = 10.0


@dataclass
class WorkflowHub:
    """A signed-in client of a real hub with ``chimes`` set up."""

    client: HubClient
    app: web.Application
    entry_id: str

    @property
    def bus(self) -> EventBus:
        return self.app[BUS]

    @property
    def scheduler(self) -> Scheduler:
        return self.app[SCHEDULER]

    @property
    def engine(self) -> Engine:
        service = self.app[WORKFLOWS].built  # built by the first workflow this hub made
        assert service is not None
        engine = service.engine
        assert isinstance(engine, Engine)
        return engine

    @property
    def runs_log(self) -> RunLog:
        return self.engine.runs

    async def create(self, **body: Any) -> dict[str, Any]:
        """Save a workflow; its view."""
        body.setdefault("name", "Test workflow")
        status, answer = await self.client.post("/api/workflows", body)
        assert status == 201, answer
        return dict(answer)

    async def view(self, workflow_id: str) -> dict[str, Any]:
        status, answer = await self.client.get(f"/api/workflows/{workflow_id}")
        assert status == 200, answer
        return dict(answer)

    async def runs(self, workflow_id: str, **kw: Any) -> list[dict[str, Any]]:
        """The workflow's runs, newest first (``kw``: request options, such as another's headers)."""
        path = f"/api/workflows/{workflow_id}/runs?limit=200"
        status, answer = await self.client.get(path, **kw)
        assert status == 200, answer
        return list(answer["runs"])

    async def run(self, workflow_id: str, run_id: str) -> dict[str, Any]:
        status, answer = await self.client.get(f"/api/workflows/{workflow_id}/runs/{run_id}")
        assert status == 200, answer
        return dict(answer)

    async def wait_runs(
        self,
        workflow_id: str,
        done: Callable[[list[dict[str, Any]]], bool],
        within: float = WAIT,
        **kw: Any,
    ) -> list[dict[str, Any]]:
        """Read the runs until ``done`` says they are what the test waits for."""
        async with asyncio.timeout(within):
            while True:
                runs = await self.runs(workflow_id, **kw)
                if done(runs):
                    return runs
                await asyncio.sleep(0.02)

    async def finished(
        self, workflow_id: str, count: int = 1, within: float = WAIT, **kw: Any
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` runs have ended; they, newest first."""
        return await self.wait_runs(
            workflow_id,
            lambda runs: len([r for r in runs if r["status"] != "running"]) >= count,
            within,
            **kw,
        )

    async def wait_for_view(
        self, workflow_id: str, done: Callable[[dict[str, Any]], bool], within: float = WAIT
    ) -> dict[str, Any]:
        """Read the workflow until ``done`` says it is what the test waits for."""
        async with asyncio.timeout(within):
            while True:
                view = await self.view(workflow_id)
                if done(view):
                    return view
                await asyncio.sleep(0.02)

    async def wait_for_notifications(self, count: int, within: float = WAIT) -> dict[str, Any]:
        """The signed-in person's notifications, once there are ``count``."""
        async with asyncio.timeout(within):
            while True:
                status, page = await self.client.get("/api/notifications")
                assert status == 200, page
                if len(page["notifications"]) >= count:
                    return dict(page)
                await asyncio.sleep(0.02)

    async def entity(self, external_id: str) -> dict[str, Any]:
        """A ``chimes`` entity's view."""
        status, answer = await self.client.get("/api/entities", params={"domain": "chimes"})
        assert status == 200, answer
        [found] = [e for e in answer["entities"] if e["external_id"] == external_id]
        return dict(found)

    async def act(self, entity_id: int, action: str, **args: Any) -> dict[str, Any]:
        """Call an entity action as a person does."""
        body = {"action": action, "args": args}
        status, answer = await self.client.post(f"/api/entities/{entity_id}/action", body)
        assert status == 200, answer
        return dict(answer)


async def start_hub(
    tmp_path: Path,
    aiohttp_client: AiohttpClient,
    *,
    workflows: WorkflowsConfig | None = None,
    config_dir: Path | None = None,
    also: Callable[[Path], None] | None = None,
) -> WorkflowHub:
    """Start a hub whose bundled folder holds ``chimes`` (and what ``also`` puts there); set an
    entry of it up on the first start."""
    bundled = tmp_path / "integrations"
    if not bundled.exists():
        install(bundled, "chimes")
        if also is not None:
            also(bundled)
    config = HubConfig(
        integrations=IntegrationsConfig(bundled_dir=bundled),
        workflows=workflows or WorkflowsConfig(),
    )
    app = create_app(config_dir or tmp_path / "config", config, env={})
    client = HubClient(await aiohttp_client(app), app)
    await sign_in(client.client, OWNER, OWNER_PASSWORD)
    status, entries = await client.get("/api/config-entries")
    assert status == 200, entries
    found = [e for e in entries["entries"] if e["domain"] == "chimes"] if entries else []
    if found:
        entry_id = str(found[0]["entry_id"])
    else:
        answer = await client.start_flow("chimes")
        assert answer["type"] == "create_entry", answer
        entry_id = str(answer["entry_id"])
    return WorkflowHub(client, app, entry_id)


def with_webhook(bundled: Path) -> None:
    """The bundled ``webhook`` integration, as the repository ships it."""
    shutil.copytree(
        SOURCE_ROOT / "integrations" / "webhook",
        bundled / "webhook",
        ignore=shutil.ignore_patterns("__pycache__"),
    )


def event_action(event_type: str = "test.done", **data: Any) -> dict[str, Any]:
    """An ``event`` action: what most tests watch for."""
    return {"type": "event", "event_type": event_type, "data": data}
