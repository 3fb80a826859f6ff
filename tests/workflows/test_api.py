"""Workflows over REST on a real hub: saving, versions, who sees which, running, the history,
the catalog, the per-person limit, removing a person, and a restart."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from hub.api.state import AUTH, CONFIG, DATABASE, STORAGE
from hub.api.workflows import WORKFLOWS
from hub.workflows.runs import RunLog
from tests.agent.conftest import start_agent_hub  # noqa: F401  # the fixture, for this module
from tests.agent.support import AgentHub
from tests.workflows.actions_hub import DIMMERS, StartHub, eventually

pytestmark = pytest.mark.usefixtures("no_lingering_tasks")

MEMBER, MEMBER_PASSWORD = "robin", "a long enough password"
ADMIN2, ADMIN2_PASSWORD = "sam", "another long password"

Headers = dict[str, str]


@pytest.fixture
def start(start_agent_hub: StartHub, tmp_path: Path) -> StartHub:  # noqa: F811
    """Start (or restart) a hub with the dimmers test integration available."""
    target = tmp_path / "integrations" / "dimmers"
    if not target.exists():
        shutil.copytree(DIMMERS, target)
    return start_agent_hub


@pytest.fixture
async def hub(start: StartHub) -> AgentHub:
    return await start()


async def entry(hub: AgentHub, scope: str = "global", **kw: Any) -> str:
    status, answer = await hub.post(
        "/api/config-flows", {"domain": "dimmers", "scope": scope}, **kw
    )
    assert status == 200, answer
    assert answer["type"] == "create_entry", answer
    return str(answer["entry_id"])


async def lights(hub: AgentHub, entry_id: str, **kw: Any) -> dict[str, int]:
    status, answer = await hub.get(f"/api/entities?entry_id={entry_id}", **kw)
    assert status == 200, answer
    return {e["name"]: e["id"] for e in answer["entities"]}


async def admin(hub: AgentHub, username: str = ADMIN2, password: str = ADMIN2_PASSWORD) -> Headers:
    body = {"username": username, "password": password, "is_admin": True}
    status, answer = await hub.post("/api/people", body)
    assert status in (200, 201), answer
    status, tokens = await hub.post("/api/auth/login", {"username": username, "password": password})
    assert status == 200, tokens
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def person_id(hub: AgentHub, username: str) -> str:
    return next(p.person_id for p in hub.app[AUTH].people() if p.username == username)


def body(**fields: Any) -> dict[str, Any]:
    """A valid workflow body: a custom event notifies its owner."""
    return {
        "name": "Evening",
        "triggers": [{"type": "event", "event_type": "test.go"}],
        "actions": [{"type": "notify", "title": "Hi {{ trigger.data.who }}"}],
        **fields,
    }


async def create(hub: AgentHub, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
    status, answer = await hub.post("/api/workflows", data, **kw)
    assert status == 201, answer
    return dict(answer)


async def put(hub: AgentHub, workflow_id: str, data: dict[str, Any], **kw: Any) -> Any:
    resp = await hub.client.put(f"/api/workflows/{workflow_id}", json=data, **kw)
    return resp.status, await resp.json()


async def invalid(hub: AgentHub, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
    status, answer = await hub.post("/api/workflows", data, **kw)
    assert status == 400, answer
    error = answer["error"]
    assert error["code"] == "workflow_invalid", error
    return dict(error)


def problems(error: dict[str, Any]) -> set[tuple[str, str]]:
    return {(p["path"], p["reason"]) for p in error["problems"]}


# Saving and versions


async def test_a_workflow_is_created_read_replaced_and_deleted(hub: AgentHub) -> None:
    made = await create(hub, body(description="say hello"))
    assert len(made["id"]) == 16
    assert made["owner"] == person_id(hub, "owner")
    assert (made["version"], made["enabled"], made["household"]) == (1, True, False)
    assert made["mode"] == "single"
    assert made["status"]["running"] == 0
    assert made["status"]["last_run"] is None

    status, listed = await hub.get("/api/workflows")
    assert status == 200
    assert [w["id"] for w in listed["workflows"]] == [made["id"]]
    status, got = await hub.get(f"/api/workflows/{made['id']}")
    assert (status, got["description"]) == (200, "say hello")

    # An editor may send the view back as it got it, with the version it edited.
    status, replaced = await put(hub, made["id"], {**made, "name": "Night"})
    assert status == 200, replaced
    assert (replaced["name"], replaced["version"]) == ("Night", 2)
    assert replaced["created_at"] == made["created_at"]
    status, bad = await put(hub, made["id"], {**body(), "version": "2"})
    assert (status, bad["error"]["code"]) == (400, "bad_request")

    resp = await hub.client.delete(f"/api/workflows/{made['id']}")
    assert resp.status == 204
    status, gone = await hub.get(f"/api/workflows/{made['id']}")
    assert (status, gone["error"]["code"]) == (404, "workflow_not_found")


async def test_saving_over_a_newer_version_is_refused(hub: AgentHub) -> None:
    made = await create(hub, body())
    status, _ = await put(hub, made["id"], {**body(name="First"), "version": 1})
    assert status == 200
    status, stale = await put(hub, made["id"], {**body(name="Second"), "version": 1})
    assert status == 409
    assert stale["error"]["code"] == "workflow_version_conflict"
    assert stale["error"]["params"]["current"] == 2
    _, got = await hub.get(f"/api/workflows/{made['id']}")
    assert got["name"] == "First"
    # Without a version the last save wins, as a script expects.
    status, forced = await put(hub, made["id"], body(name="Third"))
    assert (status, forced["version"]) == (200, 3)


async def test_switching_off_and_on_and_a_looped_workflow(hub: AgentHub) -> None:
    made = await create(hub, body())
    status, off = await hub.post(f"/api/workflows/{made['id']}/enable", {"enabled": False})
    assert status == 200, off
    assert (off["enabled"], off["version"]) == (False, 2)
    # The loop guard switches a workflow off and says why, until a person switches it on.
    await (await hub.app[WORKFLOWS].get()).on_looped(made["id"])
    _, looped = await hub.get(f"/api/workflows/{made['id']}")
    assert (looped["enabled"], looped["disabled_reason"]) == (False, "looped")
    status, on = await hub.post(f"/api/workflows/{made['id']}/enable", {"enabled": True})
    assert status == 200
    assert (on["enabled"], on["disabled_reason"]) == (True, None)
    status, bad = await hub.post(f"/api/workflows/{made['id']}/enable", {"enabled": "sometimes"})
    assert (status, bad["error"]["code"]) == (400, "bad_request")


async def test_workflows_survive_a_restart(start: StartHub) -> None:
    hub = await start()
    # A hub without workflows starts without their code; the first use of them loads it.
    assert hub.app[WORKFLOWS].built is None
    made = await create(hub, body(mode="queued", max_runs=3))
    assert hub.app[WORKFLOWS].built is not None
    await put(hub, made["id"], body(name="Renamed", mode="queued", max_runs=3))
    await hub.client.close()
    hub = await start()
    # With workflows stored, the service is running from the start (its triggers armed).
    assert hub.app[WORKFLOWS].built is not None
    status, got = await hub.get(f"/api/workflows/{made['id']}")
    assert status == 200, got
    assert (got["name"], got["version"], got["mode"], got["max_runs"]) == (
        "Renamed",
        2,
        "queued",
        3,
    )
    assert got["actions"] == [
        {
            "type": "notify",
            "alias": None,
            "continue_on_error": False,
            "title": "Hi {{ trigger.data.who }}",
            "message": "",
            "person_id": None,
        }
    ]


async def test_http_header_values_are_stored_encrypted_and_read_back(
    start: StartHub, tmp_path: Path
) -> None:
    token = "s3cr3t-api-key-for-the-porch-service"
    call = {"type": "http", "url": "https://example.com/hook", "headers": {"X-Api-Key": token}}
    holds = [{"type": "expression", "expression": "trigger"}]
    branch = {"type": "choose", "choices": [{"conditions": holds, "actions": [call]}]}
    hub = await start()
    made = await create(hub, body(actions=[call, branch]))
    await hub.client.close()  # written and flushed on the way out
    on_disk = [p.read_bytes() for p in (tmp_path / "config").rglob("*") if p.is_file()]
    assert not any(token.encode() in data for data in on_disk)
    hub = await start()
    status, got = await hub.get(f"/api/workflows/{made['id']}")
    assert status == 200, got
    assert got["actions"][0]["headers"] == {"X-Api-Key": token}
    assert got["actions"][1]["choices"][0]["actions"][0]["headers"] == {"X-Api-Key": token}
    # Deleting the workflow shreds the key its headers were encrypted with.
    keyring = tmp_path / "config" / ".storage" / "core.keyring"
    assert f"workflow:{made['id']}" in keyring.read_text()
    resp = await hub.client.delete(f"/api/workflows/{made['id']}")
    assert resp.status in (200, 204)
    await hub.app[STORAGE].flush()
    assert f"workflow:{made['id']}" not in keyring.read_text()


async def test_a_person_may_have_only_so_many(start: StartHub) -> None:
    from hub.config import WorkflowsConfig

    hub = await start(workflows=WorkflowsConfig(max_per_person=2))
    await create(hub, body())
    await create(hub, body())
    status, refused = await hub.post("/api/workflows", body())
    assert status == 400
    assert refused["error"]["code"] == "workflow_limit"
    assert refused["error"]["params"]["limit"] == 2


# Who sees which


async def test_personal_workflows_are_their_owners_alone(hub: AgentHub) -> None:
    member = await hub.another_person(MEMBER, MEMBER_PASSWORD)
    mine = await create(hub, body(name="Admin's own"))
    theirs = await create(hub, body(name="Robin's"), headers=member)
    assert theirs["owner"] == person_id(hub, MEMBER)

    _, listed = await hub.get("/api/workflows")
    assert [w["name"] for w in listed["workflows"]] == ["Admin's own"]
    _, listed = await hub.get("/api/workflows", headers=member)
    assert [w["name"] for w in listed["workflows"]] == ["Robin's"]
    # An admin cannot read, change, run or delete another person's: it is not there for them.
    for method, path in (
        ("GET", f"/api/workflows/{theirs['id']}"),
        ("PUT", f"/api/workflows/{theirs['id']}"),
        ("DELETE", f"/api/workflows/{theirs['id']}"),
        ("POST", f"/api/workflows/{theirs['id']}/run"),
        ("POST", f"/api/workflows/{theirs['id']}/enable"),
        ("GET", f"/api/workflows/{theirs['id']}/runs"),
    ):
        resp = await hub.client.request(method, path, json=body())
        answer = await resp.json()
        assert (resp.status, answer["error"]["code"]) == (404, "workflow_not_found"), path
    status, _ = await hub.get(f"/api/workflows/{mine['id']}", headers=member)
    assert status == 404


async def test_household_workflows_are_every_admins_and_only_admins_make_them(
    hub: AgentHub,
) -> None:
    member = await hub.another_person(MEMBER, MEMBER_PASSWORD)
    second = await admin(hub)
    status, refused = await hub.post("/api/workflows", body(household=True), headers=member)
    assert (status, refused["error"]["code"]) == (403, "workflow_forbidden")

    shared = await create(hub, body(name="House", household=True))
    _, listed = await hub.get("/api/workflows", headers=second)
    assert [w["name"] for w in listed["workflows"]] == ["House"]
    _, listed = await hub.get("/api/workflows", headers=member)
    assert listed["workflows"] == []
    status, _ = await hub.get(f"/api/workflows/{shared['id']}", headers=member)
    assert status == 404

    # The admin who saves it last becomes its owner: its agent steps act as them.
    status, saved = await put(
        hub, shared["id"], body(name="House 2", household=True), headers=second
    )
    assert status == 200, saved
    assert saved["owner"] == person_id(hub, ADMIN2)
    # A member cannot turn their own into a household one either.
    theirs = await create(hub, body(), headers=member)
    status, refused = await put(hub, theirs["id"], body(household=True), headers=member)
    assert (status, refused["error"]["code"]) == (403, "workflow_forbidden")


async def test_a_personal_workflow_names_only_what_its_owner_may_see(hub: AgentHub) -> None:
    member = await hub.another_person(MEMBER, MEMBER_PASSWORD)
    own = await lights(hub, await entry(hub, "user"))  # the admin's own entry
    household = await lights(hub, await entry(hub))
    theirs = await lights(hub, await entry(hub, "user", headers=member), headers=member)
    level = {"type": "entity_action", "action": "set_level", "args": {"level": 5}}

    # A member may use the household's lights and their own, never the admin's own.
    await create(hub, body(actions=[{**level, "entity_id": household["Hall"]}]), headers=member)
    await create(hub, body(actions=[{**level, "entity_id": theirs["Hall"]}]), headers=member)
    error = await invalid(hub, body(actions=[{**level, "entity_id": own["Hall"]}]), headers=member)
    assert problems(error) == {("actions[0].entity_id", "entity_not_found")}
    # A household workflow sees only household entries, even the saving admin's own are out.
    error = await invalid(hub, body(household=True, actions=[{**level, "entity_id": own["Hall"]}]))
    assert problems(error) == {("actions[0].entity_id", "entity_not_found")}
    await create(hub, body(household=True, actions=[{**level, "entity_id": household["Hall"]}]))


# Validation names the step and the field


async def test_every_reason_is_named_with_its_step_and_field(hub: AgentHub) -> None:
    entry_id = await entry(hub)
    hall = (await lights(hub, entry_id))["Hall"]
    member_id = None  # a personal workflow may notify only its owner
    await hub.another_person(MEMBER, MEMBER_PASSWORD)
    member_id = person_id(hub, MEMBER)
    data = body(
        triggers=[
            {"type": "schedule", "cron": "61 * * * *"},
            {"type": "schedule", "cron": "0 7 * * *", "interval_seconds": 60},
            {"type": "webhook", "entry_id": "no-such-entry"},
            {"type": "state", "entity_id": 999_999},
            {"type": "message", "entry_id": entry_id},
        ],
        conditions=[
            {"type": "numeric", "above": 3},
            {"type": "expression", "expression": "trigger.data["},
            {"type": "not", "conditions": [{"type": "state", "entity_id": hall, "state": ["on"]}]},
        ],
        actions=[
            {"type": "entity_action", "entity_id": hall, "action": "explode"},
            {
                "type": "entity_action",
                "entity_id": hall,
                "action": "set_level",
                "args": {"level": "high", "colour": "red"},
                "args_from": {"speed": "trigger.data.speed"},
            },
            {"type": "entity_action", "entity_id": hall, "action": "set_level"},
            {"type": "event", "event_type": "entity.updated"},
            {"type": "event", "event_type": "dimmers.spoofed"},
            {"type": "notify", "title": "ok", "message": "{{ trigger.[ }}"},
            {"type": "notify", "title": "to Robin", "person_id": member_id},
            {"type": "http", "url": "ftp://example.com/x"},
            {"type": "http", "url": "https:///no-host"},
            {"type": "agent", "prompt": "Summarize", "model": "nonexistent"},
            {
                "type": "choose",
                "choices": [
                    {
                        "conditions": [{"type": "expression", "expression": "a ||| b"}],
                        "actions": [{"type": "notify", "title": "{{ x[ }}"}],
                    }
                ],
                "default": [{"type": "entity_action", "entity_id": 424_242, "action": "turn_off"}],
            },
        ],
    )
    error = await invalid(hub, data)
    assert problems(error) == {
        ("triggers[0].cron", "cron_invalid"),
        ("triggers[1]", "schedule_needs_one"),
        ("triggers[2].entry_id", "entry_not_found"),
        ("triggers[3].entity_id", "entity_not_found"),
        ("conditions[0]", "numeric_needs_one"),
        ("conditions[1].expression", "expression_invalid"),
        ("actions[0].action", "action_not_declared"),
        ("actions[1].args.level", "argument_invalid"),
        ("actions[1].args.colour", "argument_invalid"),
        ("actions[1].args_from.speed", "argument_invalid"),
        ("actions[2].args.level", "argument_invalid"),
        ("actions[3].event_type", "event_type_reserved"),
        ("actions[4].event_type", "event_type_reserved"),
        ("actions[5].message", "expression_invalid"),
        ("actions[6].person_id", "person_not_found"),
        ("actions[7].url", "url_invalid"),
        ("actions[8].url", "url_invalid"),
        ("actions[9].model", "model_not_found"),
        ("actions[10].choices[0].conditions[0].expression", "expression_invalid"),
        ("actions[10].choices[0].actions[0].title", "expression_invalid"),
        ("actions[10].default[0].entity_id", "entity_not_found"),
    }
    # The envelope is the first problem's, with its own sentence key.
    first = error["problems"][0]
    assert (error["params"]["path"], error["params"]["reason"]) == (
        "triggers[0].cron",
        "cron_invalid",
    )
    assert error["key"] == "errors.workflow_invalid_cron_invalid"
    assert error["message"] == first["message"]
    assert first["message"].startswith('triggers[0].cron: "61 * * * *" is not a cron line')
    by_path = {p["path"]: p["message"] for p in error["problems"]}
    assert by_path["actions[1].args.level"] == "actions[1].args.level: must be a number"
    assert by_path["actions[2].args.level"] == "actions[2].args.level: is required"
    assert by_path["actions[0].action"] == 'actions[0].action: the entity has no action "explode".'
    assert "column" in by_path["conditions[1].expression"]


async def test_a_household_workflow_notifies_people_who_exist(hub: AgentHub) -> None:
    await hub.another_person(MEMBER, MEMBER_PASSWORD)
    notify = {"type": "notify", "title": "Bins out"}
    await create(
        hub, body(household=True, actions=[{**notify, "person_id": person_id(hub, MEMBER)}])
    )
    error = await invalid(hub, body(household=True, actions=[{**notify, "person_id": "nobody"}]))
    assert problems(error) == {("actions[0].person_id", "person_not_found")}
    # A personal workflow may notify its owner by name, too.
    await create(hub, body(actions=[{**notify, "person_id": person_id(hub, "owner")}]))


async def test_a_known_model_and_an_interval_schedule_are_accepted(hub: AgentHub) -> None:
    made = await create(
        hub,
        body(
            triggers=[
                {"type": "schedule", "interval_seconds": 3600},
                {"type": "schedule", "cron": "30 7 * * mon-fri"},
            ],
            actions=[{"type": "agent", "prompt": "Plan my day", "model": "hosted"}],
        ),
    )
    assert made["status"]["next_fire"] is not None


async def test_the_shape_is_checked_with_paths_without_union_tags(hub: AgentHub) -> None:
    data = body(
        name="",
        mode="sometimes",
        triggers=[{"type": "state", "entity_id": 0, "from": 3}],
        actions=[
            {"type": "delay"},
            {"type": "teleport"},
            {
                "type": "choose",
                "choices": [{"conditions": [], "actions": [{"type": "delay", "seconds": 1}]}],
            },
        ],
    )
    error = await invalid(hub, data)
    assert problems(error) == {
        ("name", "field"),
        ("mode", "field"),
        ("triggers[0].entity_id", "field"),
        ("triggers[0].from", "field"),
        ("actions[0].seconds", "field"),
        ("actions[1]", "field"),
        ("actions[2].choices[0].conditions", "field"),
    }
    by_path = {p["path"]: p["message"] for p in error["problems"]}
    assert by_path["actions[0].seconds"] == "actions[0].seconds: is required"
    assert by_path["triggers[0].entity_id"] == "triggers[0].entity_id: must be at least 1"
    # Not JSON at all, or not an object: the usual typed 400s.
    resp = await hub.client.post(
        "/api/workflows", data=b"[1, 2", headers={"Content-Type": "application/json"}
    )
    assert (resp.status, (await resp.json())["error"]["code"]) == (400, "bad_request")
    status, answer = await hub.post("/api/workflows", [1, 2])
    assert (status, answer["error"]["code"]) == (400, "bad_request")


async def test_nesting_is_bounded(hub: AgentHub) -> None:
    condition: dict[str, Any] = {"type": "expression", "expression": "`true`"}
    for _ in range(6):
        condition = {"type": "and", "conditions": [condition]}
    error = await invalid(hub, body(conditions=[condition]))
    assert error["problems"][0]["reason"] == "field"
    assert "5 levels" in error["problems"][0]["message"]


async def test_problems_are_said_in_the_readers_language(hub: AgentHub) -> None:
    data = body(
        name="",
        triggers=[{"type": "schedule", "cron": "every day"}],
        actions=[{"type": "event", "event_type": "hub.started"}],
    )
    error = await invalid(hub, data, headers={"Accept-Language": "de"})
    assert error["message"] == "name: muss mindestens 1 Zeichen haben"
    data = body(
        triggers=[{"type": "schedule", "cron": "every day"}],
        actions=[{"type": "event", "event_type": "hub.started"}],
    )
    error = await invalid(hub, data, headers={"Accept-Language": "de"})
    messages = [p["message"] for p in error["problems"]]
    assert messages == [
        "triggers[0].cron: „every day“ ist keine Cron-Zeile "
        "(fünf Felder: Minute Stunde Tag Monat Wochentag).",
        "actions[0].event_type: hub.started ist ein eigenes Ereignis des Hubs; "
        "gib deinem einen anderen Namen.",
    ]
    assert error["message"] == messages[0]


# Running and the history


async def test_run_now_and_rerun_are_recorded(hub: AgentHub) -> None:
    made = await create(hub, body(conditions=[{"type": "expression", "expression": "`false`"}]))
    status, started = await hub.post(f"/api/workflows/{made['id']}/run")
    assert status == 202, started
    run_id = started["run_id"]

    async def ended() -> Any:
        _, page = await hub.get(f"/api/workflows/{made['id']}/runs")
        return [r for r in page["runs"] if r["id"] == run_id and r["status"] != "running"]

    [summary] = await eventually(ended)
    assert summary["status"] == "succeeded"  # run now skips the conditions
    status, run = await hub.get(f"/api/workflows/{made['id']}/runs/{run_id}")
    assert status == 200, run
    assert run["trigger"]["type"] == "manual"
    assert run["trigger"]["by"] == person_id(hub, "owner")
    assert run["steps"][0]["type"] == "notify"

    status, again = await hub.post(f"/api/workflows/{made['id']}/runs/{run_id}/rerun")
    assert status == 202, again

    async def rerun_recorded() -> Any:
        status, record = await hub.get(f"/api/workflows/{made['id']}/runs/{again['run_id']}")
        return record if status == 200 and record["status"] != "running" else None

    record = await eventually(rerun_recorded)
    assert record["trigger"]["rerun_of"] == run_id
    assert record["trigger"]["by"] == person_id(hub, "owner")

    status, missing = await hub.get(f"/api/workflows/{made['id']}/runs/nope")
    assert (status, missing["error"]["code"]) == (404, "workflow_run_not_found")
    status, missing = await hub.post(f"/api/workflows/{made['id']}/runs/nope/rerun")
    assert (status, missing["error"]["code"]) == (404, "workflow_run_not_found")


async def test_the_catalog_offers_types_events_and_for_admins_people(hub: AgentHub) -> None:
    member = await hub.another_person(MEMBER, MEMBER_PASSWORD)
    status, catalog = await hub.get("/api/workflows/catalog")
    assert status == 200, catalog
    assert catalog["trigger_types"] == ["event", "state", "schedule", "webhook", "message"]
    assert catalog["condition_types"] == [
        "state",
        "numeric",
        "time",
        "expression",
        "and",
        "or",
        "not",
    ]
    assert catalog["action_types"] == [
        "entity_action",
        "event",
        "notify",
        "agent",
        "http",
        "delay",
        "choose",
    ]
    assert catalog["modes"] == ["single", "restart", "queued", "parallel"]
    events = {e["type"]: e["source"] for e in catalog["event_types"]}
    assert events["entity.updated"] == "hub"
    assert "hub.started" in events
    assert {p["name"] for p in catalog["people"]} >= {"owner", MEMBER}
    _, theirs = await hub.get("/api/workflows/catalog", headers=member)
    assert theirs["people"] == []
    assert "hub.started" not in {e["type"] for e in theirs["event_types"]}


# People leaving


async def test_removing_a_person_removes_their_workflows_and_hands_household_ones_on(
    hub: AgentHub,
) -> None:
    second = await admin(hub)
    await hub.another_person(MEMBER, MEMBER_PASSWORD)
    theirs = await create(hub, body(name="Sam's own"), headers=second)
    shared = await create(hub, body(name="House", household=True), headers=second)
    status, started = await hub.post(f"/api/workflows/{theirs['id']}/run", headers=second)
    assert status == 202

    resp = await hub.client.delete(f"/api/people/{person_id(hub, ADMIN2)}")
    assert resp.status in (200, 204), await resp.text()

    owner = person_id(hub, "owner")
    _, listed = await hub.get("/api/workflows")
    assert [(w["name"], w["owner"]) for w in listed["workflows"]] == [("House", owner)]
    assert shared["id"] in {w["id"] for w in listed["workflows"]}
    # Their run history went with it (read as a restart would read it).
    history = RunLog(hub.app[DATABASE], hub.app[CONFIG].workflows)
    assert (await history.list(theirs["id"]))["runs"] == []
    assert started["run_id"]
