"""The engine through a real hub: triggers fire runs whose actions act, runs are recorded and kept.

Every workflow is made over ``POST /api/workflows``; what a run did is read back over the runs API
or seen on the bus, as a client would.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from hub.api.access import ADMINS as API_ADMINS
from hub.config import WorkflowsConfig
from hub.workflows import engine
from hub.workflows.conditions import within
from hub.workflows.model import TimeCondition
from tests.workflows.engine_hub import event_action, start_hub


async def test_an_integrations_custom_event_runs_a_workflow_with_its_data(
    no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start_hub(tmp_path, aiohttp_client)
    made = await hub.create(
        triggers=[{"type": "event", "event_type": "chimes.rang", "data": {"tune": "westminster"}}],
        actions=[
            {
                "type": "notify",
                "title": "Door",
                "message": "It rang: {{ trigger.data.tune }}",
            }
        ],
    )
    bell = await hub.entity("bell")
    await hub.act(bell["id"], "ring", tune="ding")  # filtered out by the trigger's data
    await hub.act(bell["id"], "ring", tune="westminster")

    [run] = await hub.finished(made["id"])
    assert run["status"] == "succeeded"
    assert run["trigger"]["type"] == "event"
    assert run["trigger"]["event_type"] == "chimes.rang"
    assert run["trigger"]["data"]["tune"] == "westminster"
    assert run["trigger"]["origin"] == "integration.chimes"
    whole = await hub.run(made["id"], run["id"])
    [step] = whole["steps"]
    assert (step["path"], step["type"], step["status"]) == ("actions[0]", "notify", "succeeded")
    status, page = await hub.client.get("/api/notifications")
    assert status == 200, page
    [note] = page["notifications"]
    assert (note["title"], note["message"]) == ("Door", "It rang: westminster")


async def test_a_state_trigger_fires_on_the_change_it_names(
    no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start_hub(tmp_path, aiohttp_client)
    bell = await hub.entity("bell")
    made = await hub.create(
        triggers=[{"type": "state", "entity_id": bell["id"], "from": "off", "to": "on"}],
        actions=[event_action()],
    )
    done = hub.bus.subscribe("test.done")
    await hub.act(bell["id"], "set", state="idle")  # off → idle: not the change it waits for
    await hub.act(bell["id"], "set", state="off")
    await hub.act(bell["id"], "set", state="on")

    [run] = await hub.finished(made["id"])
    event = await done.get()
    done.close()
    assert event.data["workflow_id"] == made["id"]
    trigger = run["trigger"]
    assert (trigger["from"], trigger["to"], trigger["entity_id"]) == ("off", "on", bell["id"])
    assert trigger["from_state"]["state"] == "off"
    assert trigger["to_state"]["state"] == "on"


async def test_a_state_trigger_with_a_duration_waits_and_a_change_back_cancels_it(
    no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start_hub(tmp_path, aiohttp_client)
    bell = await hub.entity("bell")
    made = await hub.create(
        triggers=[{"type": "state", "entity_id": bell["id"], "to": "on", "for_seconds": 0.3}],
        actions=[event_action()],
    )
    # On, and off again before 0.3 s: the wait is cancelled.
    await hub.act(bell["id"], "set", state="on")
    await hub.act(bell["id"], "set", state="off")
    # On, and left on: it fires once the 0.3 s have passed.
    left_on = (await hub.act(bell["id"], "set", state="on"))["entity"]
    [run] = await hub.finished(made["id"])
    assert run["status"] == "succeeded"
    # The run is the second change's: the first one's wait was cancelled.
    assert run["trigger"]["to_state"]["last_changed"] == left_on["last_changed"]


async def test_conditions_decide_and_a_run_that_they_stop_says_which(
    no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start_hub(tmp_path, aiohttp_client)
    bell, volume = await hub.entity("bell"), await hub.entity("volume")
    conditions = [
        {"type": "state", "entity_id": bell["id"], "state": ["on", "ringing"]},
        {"type": "numeric", "entity_id": volume["id"], "above": 10, "below": 50},
        {"type": "time", "after": "00:00", "before": "23:59:59"},
        {"type": "expression", "expression": "trigger.data.tune == 'ding'"},
        {
            "type": "or",
            "conditions": [
                {"type": "numeric", "expression": "`3`", "above": 5},
                {
                    "type": "not",
                    "conditions": [{"type": "state", "entity_id": bell["id"], "state": ["off"]}],
                },
            ],
        },
    ]
    made = await hub.create(
        triggers=[{"type": "event", "event_type": "chimes.rang"}],
        conditions=conditions,
        actions=[event_action()],
    )
    await hub.act(bell["id"], "ring", tune="ding")  # the bell is off: the first one fails
    [first] = await hub.finished(made["id"])
    assert first["status"] == "not_met"
    whole = await hub.run(made["id"], first["id"])
    assert whole["conditions"] == [{"path": "conditions[0]", "result": False}]
    assert whole["steps"] == []

    await hub.act(bell["id"], "set", state="on")
    await hub.act(volume["id"], "set_level", level=80)  # above 50: the second one fails
    await hub.act(bell["id"], "ring", tune="ding")
    second = (await hub.finished(made["id"], 2))[0]
    whole = await hub.run(made["id"], second["id"])
    assert [c["result"] for c in whole["conditions"]] == [True, False]

    await hub.act(volume["id"], "set_level", level=30)
    await hub.act(bell["id"], "ring", tune="dong")  # the expression fails
    third = (await hub.finished(made["id"], 3))[0]
    whole = await hub.run(made["id"], third["id"])
    assert [c["result"] for c in whole["conditions"]] == [True, True, True, False]

    await hub.act(bell["id"], "ring", tune="ding")
    fourth = (await hub.finished(made["id"], 4))[0]
    assert fourth["status"] == "succeeded"
    whole = await hub.run(made["id"], fourth["id"])
    assert [c["result"] for c in whole["conditions"]] == [True] * 5


async def test_a_condition_on_a_missing_value_does_not_hold_and_says_why(
    no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start_hub(tmp_path, aiohttp_client)
    bell = await hub.entity("bell")
    made = await hub.create(
        triggers=[{"type": "event", "event_type": "chimes.rang"}],
        conditions=[{"type": "numeric", "entity_id": bell["id"], "above": 1}],
        actions=[event_action()],
    )
    await hub.act(bell["id"], "ring")
    [run] = await hub.finished(made["id"])
    whole = await hub.run(made["id"], run["id"])
    [result] = whole["conditions"]
    assert result["result"] is False
    assert "not a number" in result["error"]


async def test_run_now_skips_conditions_and_rerun_keeps_the_trigger(
    no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start_hub(tmp_path, aiohttp_client)
    made = await hub.create(
        triggers=[{"type": "event", "event_type": "chimes.rang"}],
        conditions=[{"type": "expression", "expression": "`false`"}],
        actions=[event_action()],
    )
    status, answer = await hub.client.post(f"/api/workflows/{made['id']}/run")
    assert status == 202, answer
    [run] = await hub.finished(made["id"])
    assert run["id"] == answer["run_id"]
    assert run["status"] == "succeeded"
    assert run["trigger"]["type"] == "manual"

    status, again = await hub.client.post(f"/api/workflows/{made['id']}/runs/{run['id']}/rerun")
    assert status == 202, again
    runs = await hub.finished(made["id"], 2)
    assert runs[0]["rerun_of"] == run["id"]
    assert runs[0]["trigger"]["type"] == "manual"


async def test_a_failing_step_stops_the_run_unless_it_continues_on_error(
    no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start_hub(tmp_path, aiohttp_client)
    bell = await hub.entity("bell")
    failing = {
        "type": "entity_action",
        "entity_id": bell["id"],
        "action": "set",
        "args_from": {"state": "trigger.nothing.here"},
    }
    made = await hub.create(
        triggers=[{"type": "event", "event_type": "chimes.rang"}],
        actions=[failing, event_action()],
    )
    goes_on = await hub.create(
        triggers=[{"type": "event", "event_type": "chimes.rang"}],
        actions=[{**failing, "continue_on_error": True}, event_action()],
    )
    await hub.act(bell["id"], "ring")
    [stopped] = await hub.finished(made["id"])
    [went_on] = await hub.finished(goes_on["id"])
    assert stopped["status"] == "failed"
    assert stopped["error"]["path"] == "actions[0]"
    assert went_on["status"] == "succeeded"
    whole = await hub.run(goes_on["id"], went_on["id"])
    assert [s["status"] for s in whole["steps"]] == ["failed", "succeeded"]


async def test_a_run_that_outlasts_its_timeout_is_stopped(
    no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start_hub(tmp_path, aiohttp_client)
    made = await hub.create(
        triggers=[{"type": "event", "event_type": "chimes.rang"}],
        timeout_seconds=0.2,
        actions=[{"type": "delay", "seconds": 30}, event_action()],
    )
    bell = await hub.entity("bell")
    await hub.act(bell["id"], "ring")
    [run] = await hub.finished(made["id"])
    assert run["status"] == "timed_out"
    whole = await hub.run(made["id"], run["id"])
    assert len(whole["steps"]) == 1


async def test_runs_survive_a_restart_and_a_run_cut_short_says_interrupted(
    no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start_hub(tmp_path, aiohttp_client)
    made = await hub.create(
        triggers=[{"type": "event", "event_type": "chimes.rang"}],
        mode="parallel",
        actions=[{"type": "delay", "seconds": 0.01}, event_action()],
    )
    slow = await hub.create(
        triggers=[{"type": "event", "event_type": "chimes.rang"}],
        actions=[{"type": "delay", "seconds": 600}],
    )
    bell = await hub.entity("bell")
    await hub.act(bell["id"], "ring")
    await hub.act(bell["id"], "ring")
    before = await hub.finished(made["id"], 2)
    await hub.wait_runs(slow["id"], lambda runs: len(runs) == 1)
    await hub.client.client.close()  # the hub stops with the slow run in flight

    again = await start_hub(tmp_path, aiohttp_client)
    after = await again.runs(made["id"])
    assert [r["id"] for r in after] == [r["id"] for r in before]
    assert {r["status"] for r in after} == {"succeeded"}
    [cut] = await again.runs(slow["id"])
    assert cut["status"] == "interrupted"
    view = await again.view(slow["id"])
    assert view["status"]["last_run"]["status"] == "interrupted"


async def test_the_engine_uses_the_apis_admin_audience() -> None:
    assert engine.ADMINS == API_ADMINS


async def test_only_the_newest_runs_per_workflow_are_kept(
    no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start_hub(tmp_path, aiohttp_client, workflows=WorkflowsConfig(runs_per_workflow=3))
    made = await hub.create(
        triggers=[{"type": "event", "event_type": "chimes.rang"}],
        mode="queued",
        actions=[event_action()],
    )
    ids = []
    for _ in range(5):
        status, answer = await hub.client.post(f"/api/workflows/{made['id']}/run")
        assert status == 202, answer
        ids.append(answer["run_id"])
        await hub.wait_runs(made["id"], partial(_ended, run_id=answer["run_id"]))
    kept = await hub.runs(made["id"])
    assert [run["id"] for run in kept] == ids[:1:-1]
    status, gone = await hub.client.get(f"/api/workflows/{made['id']}/runs/{ids[0]}")
    assert status == 404, gone
    assert gone["error"]["code"] == "workflow_run_not_found"


def _ended(runs: list[dict[str, Any]], run_id: str) -> bool:
    return any(run["id"] == run_id and run["status"] != "running" for run in runs)


async def test_a_deleted_workflow_stops_and_leaves_no_runs(
    no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start_hub(tmp_path, aiohttp_client)
    made = await hub.create(
        triggers=[{"type": "event", "event_type": "chimes.rang"}],
        actions=[{"type": "delay", "seconds": 600}],
    )
    status, _ = await hub.client.post(f"/api/workflows/{made['id']}/run")
    assert status == 202
    await hub.wait_runs(made["id"], lambda runs: len(runs) == 1)
    resp = await hub.client.client.delete(f"/api/workflows/{made['id']}")
    assert resp.status in (200, 204), await resp.text()
    await hub.runs_log.flush()
    assert await hub.runs_log.list(made["id"]) == {"runs": [], "next": None}


@pytest.mark.parametrize(
    ("after", "before", "weekdays", "moment", "holds"),
    [
        ("22:00", "06:00", [], "2026-01-05T23:30", True),  # across midnight
        ("22:00", "06:00", [], "2026-01-05T05:59:59", True),
        ("22:00", "06:00", [], "2026-01-05T06:00", False),
        ("08:00", "17:00", ["sat", "sun"], "2026-01-05T09:00", False),  # a Monday
        ("08:00", "17:00", ["mon"], "2026-01-05T09:00", True),
        (None, "12:00", [], "2026-01-05T12:00", False),
        ("12:00", None, [], "2026-01-05T12:00", True),
    ],
)
def test_a_time_condition_reads_the_local_clock(
    after: str | None, before: str | None, weekdays: list[str], moment: str, holds: bool
) -> None:
    condition = TimeCondition.model_validate(
        {"type": "time", "after": after, "before": before, "weekdays": weekdays}
    )
    assert within(condition, datetime.fromisoformat(moment)) is holds


async def test_a_personal_workflow_hears_only_the_events_its_owner_may_see(
    no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start_hub(tmp_path, aiohttp_client)
    bob = await hub.client.another_person("bob", "bobs long password")
    status, flow = await hub.client.post("/api/config-flows", {"domain": "chimes"}, headers=bob)
    assert status == 200, flow
    assert flow["type"] == "create_entry", flow
    body = {
        "name": "Rang",
        "triggers": [{"type": "event", "event_type": "chimes.rang"}],
        "actions": [event_action()],
    }
    mine = await hub.create(**body)
    status, bobs = await hub.client.post("/api/workflows", body, headers=bob)
    assert status == 201, bobs
    status, listed = await hub.client.get("/api/entities", params={"domain": "chimes"}, headers=bob)
    assert status == 200, listed
    [bobs_bell] = [
        e
        for e in listed["entities"]
        if e["entry_id"] == flow["entry_id"] and e["external_id"] == "bell"
    ]
    status, _ = await hub.client.post(
        f"/api/entities/{bobs_bell['id']}/action", {"action": "ring", "args": {}}, headers=bob
    )
    assert status == 200
    [heard] = await hub.finished(bobs["id"], headers=bob)
    assert heard["trigger"]["data"]["entry_id"] == flow["entry_id"]
    # The household's bell rings for both; Bob's own bell only for Bob, admins included.
    household_bell = await hub.entity("bell")
    await hub.act(household_bell["id"], "ring")
    [run] = await hub.finished(mine["id"])
    assert run["trigger"]["data"]["entry_id"] == hub.entry_id
    await hub.wait_runs(bobs["id"], lambda runs: len(runs) == 2, headers=bob)
    assert len(await hub.runs(mine["id"])) == 1
