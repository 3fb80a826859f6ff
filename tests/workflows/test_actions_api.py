"""Steps through the whole hub: a workflow saved with ``POST /api/workflows``, run now, and its
trace read back with ``GET .../runs/{id}``: each step's input, result and error as stored, a failing
step stopping the run (or not, when it continues on error), and no credential in the trace or on
disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from hub.api.state import ENTITIES, STORAGE
from tests.agent.conftest import start_agent_hub  # noqa: F401  # the fixture, for this module
from tests.workflows.actions_hub import Bench, StartHub, bench, eventually

pytestmark = pytest.mark.usefixtures("no_lingering_tasks")

TOKEN = "t0ken-that-must-stay-hidden"


class Remote:
    """A web service the http steps call; it remembers what reached it."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", self.hook)
        app.router.add_post("/broken", self.broken)
        return app

    async def hook(self, request: web.Request) -> web.Response:
        self.seen.append(
            {"auth": request.headers.get("Authorization"), "body": await request.json()}
        )
        return web.json_response({"stored": True})

    async def broken(self, request: web.Request) -> web.Response:
        return web.Response(status=503, text="try later")


@pytest.fixture
async def remote(aiohttp_server: AiohttpServer) -> tuple[Remote, str]:
    service = Remote()
    server = await aiohttp_server(service.app())
    return service, str(server.make_url("")).rstrip("/")


@pytest.fixture
async def hub(start_agent_hub: StartHub, tmp_path: Path) -> Bench:  # noqa: F811
    started = await bench(start_agent_hub, tmp_path)
    resp = await started.hub.client.patch(
        "/api/agent/preferences", json={"allow_local_fetch": True}
    )
    assert resp.status == 200, await resp.text()
    return started


async def save(bench: Bench, *actions: dict[str, Any]) -> str:
    body = {
        "name": "Porch routine",
        "triggers": [{"type": "event", "event_type": "porch.arrived"}],
        "actions": list(actions),
    }
    status, answer = await bench.hub.post("/api/workflows", body)
    assert status == 201, answer
    return str(answer["id"])


async def run_now(bench: Bench, workflow_id: str) -> dict[str, Any]:
    """Run the workflow now; its run once it ended."""
    status, answer = await bench.hub.post(f"/api/workflows/{workflow_id}/run")
    assert status == 202, answer
    path = f"/api/workflows/{workflow_id}/runs/{answer['run_id']}"

    async def ended() -> dict[str, Any] | None:
        status, run = await bench.hub.get(path)
        return run if status == 200 and run["status"] != "running" else None

    return dict(await eventually(ended))


async def test_a_run_records_each_step_as_it_was_given_and_answered(
    hub: Bench, remote: tuple[Remote, str], tmp_path: Path
) -> None:
    service, base = remote
    status, answer = await hub.hub.post("/api/config-flows", {"domain": "dimmers"})
    assert status == 200, answer
    lights = await hub.lights(answer["entry_id"])
    workflow_id = await save(
        hub,
        {
            "type": "entity_action",
            "entity_id": lights["Porch"],
            "action": "set_level",
            "args": {"level": 60},
            "alias": "Porch on",
        },
        {
            "type": "http",
            "url": base + "/hook",
            "headers": {"Authorization": f"Bearer {TOKEN}"},
            "body": {"light": "porch"},
        },
        {"type": "notify", "title": "{{ workflow.name }}", "message": "{{ steps[0].message }}"},
    )
    run = await run_now(hub, workflow_id)
    assert run["status"] == "succeeded", run
    assert run["error"] is None
    steps = run["steps"]
    assert [(s["path"], s["type"], s["status"]) for s in steps] == [
        ("actions[0]", "entity_action", "succeeded"),
        ("actions[1]", "http", "succeeded"),
        ("actions[2]", "notify", "succeeded"),
    ]
    assert steps[0]["alias"] == "Porch on"
    assert steps[0]["result"]["entity"]["state"] == "on"
    assert steps[1]["input"]["headers"] == {"Authorization": "***"}
    assert steps[1]["result"]["body"] == {"stored": True}
    assert steps[2]["input"]["title"] == "Porch routine"
    assert steps[2]["input"]["message"] == "Porch is on"
    assert service.seen == [{"auth": f"Bearer {TOKEN}", "body": {"light": "porch"}}]
    assert (await hub.hub.app[ENTITIES].get(lights["Porch"])).state == "on"
    _, notes = await hub.hub.get("/api/notifications")
    [note] = notes["notifications"]
    assert note["link"] == f"#/workflows/{workflow_id}/runs/{run['id']}"
    # The credential went to the service, not into any file: the run history keeps it masked,
    # the stored workflow encrypted.
    await hub.hub.app[STORAGE].flush()
    files = [path for path in (tmp_path / "config").rglob("*") if path.is_file()]
    stored = [path.read_bytes() for path in files]
    assert any(b"/hook" in data for data in stored)  # the run and the workflow are on disk
    assert not any(TOKEN.encode() in data for data in stored)


async def test_a_failing_step_stops_the_run_unless_it_continues_on_error(
    hub: Bench, remote: tuple[Remote, str]
) -> None:
    _, base = remote
    for goes_on in (False, True):
        workflow_id = await save(
            hub,
            {"type": "http", "url": base + "/broken", "continue_on_error": goes_on},
            {"type": "notify", "title": "after"},
        )
        run = await run_now(hub, workflow_id)
        first = run["steps"][0]
        assert first["status"] == "failed"
        assert first["error"]["code"] == "http_status"
        assert first["result"]["status"] == 503
        if goes_on:
            assert run["status"] == "succeeded"
            assert [s["status"] for s in run["steps"]] == ["failed", "succeeded"]
        else:
            assert run["status"] == "failed"
            assert run["error"]["path"] == "actions[0]"
            assert run["error"]["code"] == "http_status"
            assert len(run["steps"]) == 1
    _, notes = await hub.hub.get("/api/notifications")
    assert [n["title"] for n in notes["notifications"]] == ["after"]
