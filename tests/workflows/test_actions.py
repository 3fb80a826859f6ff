"""Workflow steps on a real hub: entity actions as the owner may use them, events, notifications,
delays and choices, each recorded with its input, result and error; a failing step stops the run
unless it continues on error, and a run stopped mid-step records that step as interrupted."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from hub.api.state import BUS, ENTITIES
from hub.core.bus import Event
from tests.agent.conftest import start_agent_hub  # noqa: F401  # the fixture, for this module
from tests.workflows.actions_hub import Bench, StartHub, bench, eventually, run_of, workflow

pytestmark = pytest.mark.usefixtures("no_lingering_tasks")

MEMBER, MEMBER_PASSWORD = "robin", "a long enough password"


@pytest.fixture
async def hub(start_agent_hub: StartHub, tmp_path: Path) -> Bench:  # noqa: F811
    return await bench(start_agent_hub, tmp_path)


async def entry(bench: Bench, scope: str = "global", **kw: Any) -> str:
    status, answer = await bench.hub.post(
        "/api/config-flows", {"domain": "dimmers", "scope": scope}, **kw
    )
    assert status == 200, answer
    assert answer["type"] == "create_entry", answer
    return str(answer["entry_id"])


def set_level(entity_id: int, **fields: Any) -> dict[str, Any]:
    return {"type": "entity_action", "entity_id": entity_id, "action": "set_level", **fields}


# Entity actions


async def test_an_entity_action_takes_arguments_from_the_trigger_and_records_the_step(
    hub: Bench,
) -> None:
    lights = await hub.lights(await entry(hub))
    flow = workflow(
        hub.owner,
        set_level(lights["Hall"], alias="Hall up", args_from={"level": "trigger.data.level"}),
    )
    run, failed = await hub.perform(flow, {"type": "event", "data": {"level": 40}})
    assert failed is None
    [step] = run.steps
    assert step["path"] == "actions[0]"
    assert step["type"] == "entity_action"
    assert step["alias"] == "Hall up"
    assert step["status"] == "succeeded"
    assert step["error"] is None
    assert step["input"] == {
        "entity_id": lights["Hall"],
        "action": "set_level",
        "args": {"level": 40},
    }
    assert step["result"]["message"] == "Hall is on"
    assert step["result"]["entity"]["state"] == "on"
    assert step["duration_ms"] >= 0
    assert step["started_at"].endswith("+00:00")
    assert run.context["steps"] == [step["result"]]
    row = await hub.hub.app[ENTITIES].get(lights["Hall"])
    assert (row.state, row.attributes) == ("on", {"level": 40.0})


async def test_a_wrong_argument_fails_the_step_and_stops_the_run(hub: Bench) -> None:
    lights = await hub.lights(await entry(hub))
    flow = workflow(
        hub.owner,
        set_level(lights["Hall"], args_from={"level": "trigger.data.word"}),
        set_level(lights["Porch"], args={"level": 10}),
    )
    run, failed = await hub.perform(flow, {"data": {"word": "bright"}})
    assert failed is not None
    assert (failed.path, failed.code) == ("actions[0]", "bad_request")
    assert "level: must be a number" in failed.message
    assert [s["status"] for s in run.steps] == ["failed"]
    assert run.steps[0]["error"] == {"code": "bad_request", "message": failed.message}
    assert (await hub.hub.app[ENTITIES].get(lights["Porch"])).state == "off"


async def test_a_step_that_continues_on_error_lets_the_run_go_on(hub: Bench) -> None:
    lights = await hub.lights(await entry(hub))
    flow = workflow(
        hub.owner,
        {
            "type": "entity_action",
            "entity_id": lights["Hall"],
            "action": "explode",
            "continue_on_error": True,
        },
        set_level(lights["Porch"], args={"level": 10}),
    )
    run, failed = await hub.perform(flow)
    assert failed is None
    assert [(s["status"], (s["error"] or {}).get("code")) for s in run.steps] == [
        ("failed", "action_not_declared"),
        ("succeeded", None),
    ]
    assert run.context["steps"][0] is None
    assert run.context["steps"][1]["entity"]["state"] == "on"


async def test_an_entity_the_owner_cannot_see_is_not_found(hub: Bench) -> None:
    member = await hub.hub.another_person(MEMBER, MEMBER_PASSWORD)
    theirs = await hub.lights(await entry(hub, "user", headers=member))
    mine = await hub.lights(await entry(hub, "user"))
    # Someone else's entity, for a personal workflow; the owner's own, for a household one.
    for flow in (
        workflow(hub.owner, set_level(theirs["Hall"], args={"level": 5})),
        workflow(hub.owner, set_level(mine["Hall"], args={"level": 5}), household=True),
    ):
        _, failed = await hub.perform(flow)
        assert failed is not None
        assert failed.code == "entity_not_found", failed
    for light in (theirs["Hall"], mine["Hall"]):
        assert (await hub.hub.app[ENTITIES].get(light)).state == "off"


async def test_an_expression_that_cannot_be_evaluated_fails_the_step(hub: Bench) -> None:
    lights = await hub.lights(await entry(hub))
    flow = workflow(hub.owner, set_level(lights["Hall"], args_from={"level": "abs(trigger.x)"}))
    _, failed = await hub.perform(flow, {"x": "not a number"})
    assert failed is not None
    assert failed.code == "expression_failed"
    assert "abs(trigger.x)" in failed.message


# Events


async def test_an_event_step_fires_the_event_as_the_workflow(hub: Bench) -> None:
    seen: list[Event[Any]] = []

    async def listener(event: Event[Any]) -> None:
        seen.append(event)

    handle = hub.hub.app[BUS].listen("garden.watered", listener)
    try:
        step = {"type": "event", "event_type": "garden.watered", "data": {"litres": 12}}
        personal = workflow(hub.owner, step)
        household = workflow(hub.owner, step, household=True)
        for flow in (personal, household):
            run, failed = await hub.perform(flow)
            assert failed is None
            assert run.steps[0]["input"]["event_type"] == "garden.watered"
        await eventually(lambda: asyncio.sleep(0, len(seen) == 2))
    finally:
        handle()
    assert seen[0].origin == f"workflow.{personal.id}"
    assert dict(seen[0].data) == {"litres": 12, "workflow_id": personal.id, "person_id": hub.owner}
    # A household workflow's event belongs to no one person.
    assert dict(seen[1].data) == {"litres": 12, "workflow_id": household.id}


# Notifications


async def notifications(bench: Bench, **kw: Any) -> list[dict[str, Any]]:
    status, body = await bench.hub.get("/api/notifications", **kw)
    assert status == 200, body
    return list(body["notifications"])


async def test_a_notification_goes_to_the_owner_with_its_text_rendered(hub: Bench) -> None:
    flow = workflow(
        hub.owner,
        {
            "type": "notify",
            "title": "Door {{ trigger.data.door }}",
            "message": "At {{ trigger.time }}",
        },
    )
    run, failed = await hub.perform(flow, {"time": "07:00", "data": {"door": "front"}})
    assert failed is None
    assert run.steps[0]["input"] == {
        "title": "Door front",
        "message": "At 07:00",
        "person_ids": [hub.owner],
    }
    [note] = await notifications(hub)
    assert (note["title"], note["message"]) == ("Door front", "At 07:00")
    assert note["source"] == f"workflow:{flow.id}"
    assert note["link"] == f"#/workflows/{flow.id}/runs/{run.run_id}"
    assert run.steps[0]["result"] == {"notification_ids": [note["id"]]}


async def test_a_household_notification_goes_to_every_admin_or_the_person_named(
    hub: Bench,
) -> None:
    member = await hub.hub.another_person(MEMBER, MEMBER_PASSWORD)
    everyone = workflow(hub.owner, {"type": "notify", "title": "To the admins"}, household=True)
    named = workflow(
        hub.owner,
        {"type": "notify", "title": "To Robin", "person_id": hub.person(MEMBER)},
        household=True,
    )
    for flow in (everyone, named):
        _, failed = await hub.perform(flow)
        assert failed is None
    assert [n["title"] for n in await notifications(hub)] == ["To the admins"]
    assert [n["title"] for n in await notifications(hub, headers=member)] == ["To Robin"]


async def test_notifying_a_person_who_is_gone_fails_the_step(hub: Bench) -> None:
    flow = workflow(
        hub.owner, {"type": "notify", "title": "Hello", "person_id": "nobody"}, household=True
    )
    run, failed = await hub.perform(flow)
    assert failed is not None
    assert failed.code.endswith("not_found"), failed
    assert run.steps[0]["status"] == "failed"


# Delays, choices and a run stopped mid-step


async def test_a_run_cancelled_during_a_delay_records_the_step_as_interrupted(
    hub: Bench,
) -> None:
    flow = workflow(
        hub.owner,
        {"type": "notify", "title": "before"},
        {"type": "delay", "seconds": 60},
        {"type": "notify", "title": "after"},
    )
    run = run_of(flow)
    task = asyncio.create_task(hub.actions.run(flow.actions, run))
    # Once the first step is recorded, the run waits in the delay: nothing else awaits between.
    await eventually(lambda: asyncio.sleep(0, run.steps))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    first, step = run.steps
    assert first["status"] == "succeeded"
    assert step["path"] == "actions[1]"
    assert step["input"] == {"seconds": 60}
    assert step["status"] == "failed"
    assert step["error"]["code"] == "workflow_step_interrupted"
    assert [n["title"] for n in await notifications(hub)] == ["before"]


async def test_a_short_delay_passes(hub: Bench) -> None:
    run, failed = await hub.perform(workflow(hub.owner, {"type": "delay", "seconds": 0.01}))
    assert failed is None
    assert run.steps[0]["status"] == "succeeded"


def choose(**fields: Any) -> dict[str, Any]:
    high = {"type": "numeric", "expression": "trigger.level", "above": 50}
    low = {"type": "numeric", "expression": "trigger.level", "below": 10}
    return {
        "type": "choose",
        "choices": [
            {"conditions": [high], "actions": [{"type": "notify", "title": "high"}]},
            {
                "conditions": [low],
                "actions": [
                    {"type": "delay", "seconds": 0.01},
                    {"type": "notify", "title": "low {{ trigger.level }}"},
                ],
            },
        ],
        "default": [{"type": "notify", "title": "middle"}],
        **fields,
    }


async def test_choose_runs_the_first_choice_that_holds_else_the_default(hub: Bench) -> None:
    flow = workflow(hub.owner, choose())
    run, failed = await hub.perform(flow, {"level": 3})
    assert failed is None
    assert [(s["path"], s["type"]) for s in run.steps] == [
        ("actions[0]", "choose"),
        ("actions[0].choices[1].actions[0]", "delay"),
        ("actions[0].choices[1].actions[1]", "notify"),
    ]
    assert run.steps[0]["result"] == {
        "choice": 1,
        "conditions": [
            {"path": "actions[0].choices[0].conditions[0]", "result": False},
            {"path": "actions[0].choices[1].conditions[0]", "result": True},
        ],
    }
    # Only the workflow's own steps are in the context, not the branch's.
    assert run.context["steps"] == [run.steps[0]["result"]]
    run, _ = await hub.perform(flow, {"level": 30})
    assert run.steps[0]["result"]["choice"] == "default"
    assert run.steps[1]["path"] == "actions[0].default[0]"
    assert [n["title"] for n in await notifications(hub)] == ["middle", "low 3"]


async def test_a_failing_step_in_a_branch_fails_the_choose_too(hub: Bench) -> None:
    failing = {"type": "notify", "title": "{{ abs(trigger.level) }}", "person_id": "nobody"}
    flow = workflow(
        hub.owner,
        {
            "type": "choose",
            "choices": [
                {
                    "conditions": [{"type": "expression", "expression": "trigger.go"}],
                    "actions": [failing],
                }
            ],
        },
        {"type": "notify", "title": "after"},
    )
    run, failed = await hub.perform(flow, {"go": True, "level": "x"})
    assert failed is not None
    assert (failed.path, failed.code) == ("actions[0].choices[0].actions[0]", "expression_failed")
    assert [s["status"] for s in run.steps] == ["failed", "failed"]
    assert run.steps[0]["error"]["code"] == "expression_failed"
    assert await notifications(hub) == []
