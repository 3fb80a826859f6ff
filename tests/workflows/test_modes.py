"""Modes under bursts, and the loop guard: a workflow that keeps triggering itself is switched off."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from hub.core.bus import EventType
from tests.workflows.engine_hub import WorkflowHub, event_action, start_hub

BURST = 5
RANG = EventType[dict[str, Any]]("chimes.rang")


def burst(hub: WorkflowHub, count: int = BURST) -> None:
    """Fire ``count`` chime events at once, as a busy integration does."""
    for index in range(count):
        hub.bus.fire(RANG, {"entry_id": hub.entry_id, "tune": str(index)})


def statuses(runs: list[dict[str, Any]]) -> list[str]:
    return sorted(run["status"] for run in runs)


@pytest.mark.parametrize(
    ("mode", "expected", "skipped"),
    [
        ("single", ["succeeded"], BURST - 1),
        ("restart", ["cancelled"] * (BURST - 1) + ["succeeded"], 0),
        ("queued", ["succeeded"] * 3, BURST - 3),  # one running, two waiting
        ("parallel", ["succeeded"] * 2, BURST - 2),
    ],
)
async def test_a_burst_of_triggers_runs_as_the_mode_says(
    no_lingering_tasks: None,
    tmp_path: Path,
    aiohttp_client: AiohttpClient,
    mode: str,
    expected: list[str],
    skipped: int,
) -> None:
    hub = await start_hub(tmp_path, aiohttp_client)
    made = await hub.create(
        triggers=[{"type": "event", "event_type": "chimes.rang"}],
        mode=mode,
        max_runs=2,
        actions=[{"type": "delay", "seconds": 0.3}, event_action()],
    )
    burst(hub)
    runs = await hub.finished(made["id"], len(expected))
    assert statuses(runs) == sorted(expected)
    view = await hub.view(made["id"])
    assert view["status"]["skipped"] == skipped
    assert view["status"]["running"] == 0
    if mode == "queued":
        # One after the other: each began after the one before had ended.
        ordered = sorted(runs, key=lambda run: run["started_at"])
        for before, after in itertools.pairwise(ordered):
            assert after["started_at"] >= before["finished_at"]
    if mode == "restart":
        # The last trigger's run is the one that went on.
        [last] = [run for run in runs if run["trigger"]["data"]["tune"] == str(BURST - 1)]
        assert last["status"] == "succeeded"


async def test_run_now_while_a_single_run_goes_is_recorded_as_not_run(
    no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start_hub(tmp_path, aiohttp_client)
    made = await hub.create(
        triggers=[{"type": "event", "event_type": "chimes.rang"}],
        actions=[{"type": "delay", "seconds": 0.5}],
    )
    status, first = await hub.client.post(f"/api/workflows/{made['id']}/run")
    assert status == 202, first
    status, second = await hub.client.post(f"/api/workflows/{made['id']}/run")
    assert status == 202, second
    runs = await hub.finished(made["id"], 2)
    by_id = {run["id"]: run for run in runs}
    assert by_id[first["run_id"]]["status"] == "succeeded"
    assert by_id[second["run_id"]]["status"] == "cancelled"
    assert by_id[second["run_id"]]["error"]["code"] == "workflow_busy"


async def test_a_workflow_firing_its_own_trigger_is_switched_off_as_looping(
    no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start_hub(tmp_path, aiohttp_client)
    made = await hub.create(
        name="Echo",
        triggers=[{"type": "event", "event_type": "test.echo"}],
        mode="parallel",
        actions=[event_action("test.echo")],
    )
    status, _ = await hub.client.post(f"/api/workflows/{made['id']}/run")
    assert status == 202

    runs = await hub.wait_runs(made["id"], lambda runs: any(r["status"] == "looped" for r in runs))
    [looped] = [run for run in runs if run["status"] == "looped"]
    assert looped["error"]["code"] == "workflow_looped"
    # The run now and the ten self-triggers the guard allows ran (one may have been cut short
    # when the guard stopped the workflow); the eleventh was stopped.
    ran = [run for run in runs if run["status"] != "looped"]
    assert len(ran) == 11
    assert {run["status"] for run in ran} <= {"succeeded", "cancelled"}
    view = await hub.wait_for_view(made["id"], lambda v: v["enabled"] is False)
    assert view["disabled_reason"] == "looped"
    assert view["status"]["last_run"]["status"] == "looped"
    page = await hub.wait_for_notifications(1)
    [note] = page["notifications"]
    assert note["title"] == "Workflow switched off: Echo"
    assert note["link"] == f"#/workflows/{made['id']}/runs/{looped['id']}"

    # Switched on again, it runs again (and its counter started afresh).
    status, answer = await hub.client.post(f"/api/workflows/{made['id']}/enable", {"enabled": True})
    assert status == 200, answer
    assert answer["disabled_reason"] is None


async def test_a_loop_through_an_entity_is_caught_too(
    no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    """The cause rides through the entity writer: the change an action made is the run's."""
    hub = await start_hub(tmp_path, aiohttp_client)
    bell = await hub.entity("bell")
    toggle = {
        "type": "entity_action",
        "entity_id": bell["id"],
        "action": "set",
        "args_from": {"state": "trigger.to == 'on' && 'off' || 'on'"},
    }
    made = await hub.create(
        triggers=[{"type": "state", "entity_id": bell["id"]}],
        mode="queued",
        actions=[toggle],
    )
    await hub.act(bell["id"], "set", state="on")
    await hub.wait_runs(made["id"], lambda runs: any(r["status"] == "looped" for r in runs))
    view = await hub.wait_for_view(made["id"], lambda v: v["enabled"] is False)
    assert view["disabled_reason"] == "looped"
