"""The bundled OpenProject integration against a fake OpenProject on 127.0.0.1, in a real hub."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pydantic_ai.models
import pytest
from pydantic import BaseModel
from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pytest_aiohttp import AiohttpServer

from hub.api.state import BUS, CONFIG_ENTRIES, REGISTRY
from hub.integrations.entities import EventTypeDescriptor
from hub.integrations.integration import ConfigEntryAuthFailed
from hub.integrations.manifest import FieldDescriptor
from hub.integrations.toolsets import DeferredToolset, resolve_toolset
from integrations.openproject.entities import OverdueTracker
from integrations.openproject.model import Link, Status, WorkPackage
from tests.bundled.conftest import BundledHub
from tests.fakes.openproject import API_KEY, FakeOpenProject

TODAY = date.today()
YESTERDAY = (TODAY - timedelta(days=1)).isoformat()
ME, BOB = 1, 2
IN_PROGRESS, CLOSED = 7, 12


@pytest.fixture
def fake() -> FakeOpenProject:
    """Two projects; one overdue open, one overdue closed, one due later, one of Bob's."""
    fake = FakeOpenProject()
    house = fake.add_project("household", "Household")
    site = fake.add_project("website", "Website relaunch")
    fake.add_work_package(
        house, "Fix the boiler", status_id=IN_PROGRESS, assignee_id=ME, due_date=YESTERDAY
    )
    fake.add_work_package(
        house,
        "Buy paint",
        status_id=CLOSED,
        assignee_id=ME,
        due_date=(TODAY - timedelta(days=3)).isoformat(),
    )
    fake.add_work_package(
        site,
        "Write the launch post",
        description="Announce the **new site** on the blog.",
        assignee_id=ME,
        due_date=(TODAY + timedelta(days=10)).isoformat(),
        percentage_done=40,
    )
    fake.add_work_package(site, "Review the design", assignee_id=BOB)
    return fake


@pytest.fixture
async def op_url(fake: FakeOpenProject, aiohttp_server: AiohttpServer) -> str:
    """The fake instance's URL."""
    server = await aiohttp_server(fake.app())
    return str(server.make_url("/")).rstrip("/")


async def add_entry(hub: BundledHub, url: str, key: str = API_KEY) -> str:
    """An OpenProject entry made through the flow."""
    return await hub.create_entry("openproject", {"base_url": url, "api_key": key})


async def sync(hub: BundledHub, entry_id: str) -> dict[str, Any]:
    """``POST /api/config-entries/{id}/sync``; waits for a sync already running first."""
    status, body = await hub.post(f"/api/config-entries/{entry_id}/sync")
    assert status == 200, body
    return dict(body["sync"])


def by_external_id(entities: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Entities keyed by their OpenProject id."""
    return {entity["external_id"]: entity for entity in entities}


def files_under(root: Path) -> dict[Path, bytes]:
    """Every file below ``root`` with its bytes."""
    return {path: path.read_bytes() for path in root.rglob("*") if path.is_file()}


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The manifest and the wording


async def test_the_card_template_and_the_tier_are_declared(hub: BundledHub) -> None:
    loaded = hub.app[REGISTRY].get("openproject")
    assert loaded is not None
    manifest = loaded.manifest
    assert (manifest.required_tier.name, manifest.single_instance) == ("INTERNAL", False)
    assert manifest.iot_class == "cloud_polling"
    status, body = await hub.get("/api/cards")
    assert status == 200, body
    [card] = [card for card in body["cards"] if card["domain"] == "openproject"]
    assert card["key"] == "work_packages"
    assert card["card"]["type"] == "entities"
    assert card["card"]["filter"] == {"domain": "openproject", "entity_type": "work_package"}
    overdue = EventTypeDescriptor(
        event_type="openproject.wp_overdue",
        name="Work package overdue",
        payload_schema=(
            FieldDescriptor(name="work_package_id", label="Work package"),
            FieldDescriptor(name="due_date", label="Due date", type="date"),
        ),
    )
    assert loaded.integration.event_types() == {"openproject.wp_overdue": overdue}
    types = loaded.integration.entity_types()
    assert (types["project"].world_kind, types["project"].rag) == ("project", False)
    assert (types["work_package"].world_kind, types["work_package"].rag) == ("task", True)


def package(wp_id: int, due: date | None, status_id: int = 1) -> WorkPackage:
    """A parsed work package with only what the overdue rule reads."""
    return WorkPackage(
        id=wp_id,
        subject=f"#{wp_id}",
        description="",
        status=Link(f"/api/v3/statuses/{status_id}"),
        project=Link("/api/v3/projects/1"),
        type=Link(None),
        assignee=Link(None),
        due_date=due,
        percentage_done=None,
        updated_at=None,
    )


def test_the_overdue_rule_announces_each_due_date_once() -> None:
    statuses = {1: Status(1, "New", False), 12: Status(12, "Closed", True)}
    today = date(2025, 3, 10)
    tracker = OverdueTracker()
    past, later = date(2025, 3, 9), date(2025, 3, 20)
    assert tracker.newly_overdue([package(1, past), package(2, today)], statuses, today) == [
        (1, past)
    ], "due today is not overdue yet"
    assert tracker.newly_overdue([package(1, past)], statuses, today) == []
    assert tracker.newly_overdue([package(1, past, 12)], statuses, today) == [], "closed"
    assert tracker.newly_overdue([package(1, past)], statuses, today) == [], "reopening is no news"
    assert tracker.newly_overdue([package(1, later)], statuses, today) == []
    assert tracker.newly_overdue([package(1, past)], statuses, today) == [(1, past)], "moved back"
    assert tracker.newly_overdue([], statuses, today, complete=False) == []
    assert tracker.newly_overdue([package(1, past)], statuses, today) == [], (
        "a partial poll forgets nothing"
    )
    assert tracker.newly_overdue([], statuses, today) == []
    assert tracker.newly_overdue([package(1, past)], statuses, today) == [(1, past)], "was deleted"


# The flow


async def test_the_flow_checks_the_url_and_the_key(hub: BundledHub, op_url: str) -> None:
    form = await hub.start_flow("openproject")
    labels = {field["name"]: field["label"] for field in form["data_schema"]}
    assert labels == {"base_url": "OpenProject URL", "api_key": "API key"}
    german = await hub.start_flow("openproject", language="de")
    assert german["title"] == "OpenProject verbinden"

    bad_url = await hub.submit(form["flow_id"], {"base_url": "openproject.lan", "api_key": "x"})
    assert bad_url["error_keys"] == {"base_url": "invalid_url"}
    wrong_key = await hub.submit(form["flow_id"], {"base_url": op_url, "api_key": "wrong"})
    assert wrong_key["error_keys"] == {"base": "auth_failed"}
    assert wrong_key["errors"]["base"].startswith("Authentication failed")

    done = await hub.submit(
        form["flow_id"], {"base_url": f" {op_url}/api/v3/ ", "api_key": f" {API_KEY} "}
    )
    assert done["type"] == "create_entry", done
    assert done["title"] == op_url, "a pasted /api/v3 and blanks are dropped"
    _, entry = await hub.get(f"/api/config-entries/{done['entry_id']}")
    assert (entry["data"], entry["secret_fields"]) == ({"base_url": op_url}, ["api_key"])
    assert entry["state"] == "loaded"


async def test_an_unreachable_server_asks_and_can_be_added_anyway(
    hub: BundledHub, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    form = await hub.start_flow("openproject")
    asked = await hub.submit(form["flow_id"], {"base_url": f"{url}/api/v3", "api_key": API_KEY})
    assert asked["type"] == "menu", asked
    assert asked["title"] == "OpenProject did not answer"
    assert url in asked["description"], "it names the address that did not answer"
    assert asked["errors"] == {"base": "Nothing answered at this address."}
    assert asked["menu_options"] == [
        {"id": "add_anyway", "label": "Add anyway"},
        {"id": "user", "label": "Back"},
    ]
    german = await hub.submit(
        form["flow_id"], {"next_step_id": "user"}, headers={"Accept-Language": "de"}
    )
    assert german["type"] == "form", "Back shows the form again, with the address kept"
    assert {f["name"]: f.get("default") for f in german["data_schema"]}[
        "base_url"
    ] == f"{url}/api/v3"
    asked = await hub.submit(
        german["flow_id"], {"base_url": url, "api_key": API_KEY}, headers={"Accept-Language": "de"}
    )
    assert asked["title"] == "OpenProject antwortet nicht"
    assert asked["errors"] == {"base": "Unter dieser Adresse antwortet nichts."}
    assert [option["label"] for option in asked["menu_options"]] == [
        "Trotzdem hinzufügen",
        "Zurück",
    ]
    status, refused = await hub.post(
        f"/api/config-flows/{form['flow_id']}", {"user_input": {"next_step_id": "nowhere"}}
    )
    assert (status, refused["error"]["code"]) == (400, "bad_request")

    caplog.clear()
    done = await hub.submit(form["flow_id"], {"next_step_id": "add_anyway"})
    assert (done["type"], done["title"]) == ("create_entry", url)
    _, entry = await hub.get(f"/api/config-entries/{done['entry_id']}")
    assert entry["state"] == "setup_retry", "one state: it connects when the server answers"
    assert entry["reason"].startswith("cannot reach OpenProject")
    # One warning line naming the entry and the reason; no traceback for an expected condition.
    lines = [r for r in caplog.records if done["entry_id"] in r.getMessage()]
    assert [r.levelname for r in lines] == ["WARNING"]
    assert "cannot reach OpenProject" in lines[0].getMessage()
    assert all(record.exc_info is None for record in caplog.records)
    assert "Traceback" not in caplog.text


async def test_a_sync_of_a_server_gone_away_logs_one_line(
    hub: BundledHub,
    fake: FakeOpenProject,
    aiohttp_server: AiohttpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = await aiohttp_server(fake.app())
    entry_id = await add_entry(hub, str(server.make_url("/")).rstrip("/"))
    await sync(hub, entry_id)  # after the first sync setup started, while the server answers
    await server.close()
    caplog.clear()
    record = await sync(hub, entry_id)
    assert "cannot reach OpenProject" in record["error"]
    assert "Traceback" not in caplog.text
    warnings = [r for r in caplog.records if entry_id in r.getMessage()]
    assert [r.levelname for r in warnings] == ["WARNING"], [r.getMessage() for r in warnings]


async def test_the_key_reaches_no_answer_and_no_file(
    hub: BundledHub, fake: FakeOpenProject, op_url: str, tmp_path: Path
) -> None:
    entry_id = await add_entry(hub, op_url)
    await sync(hub, entry_id)
    fake.key = "rotated"
    await sync(hub, entry_id)  # the refusal is recorded on the entry, without the key
    status, body = await hub.get("/api/config-entries")
    assert status == 200
    assert any(entry["entry_id"] == entry_id for entry in body["entries"])
    assert API_KEY not in json.dumps(body)
    await hub.client.close()  # flushes storage and closes the database
    files = files_under(tmp_path)
    assert any(".storage" in path.parts for path in files)
    for path, content in files.items():
        assert API_KEY.encode() not in content, f"{path} holds the API key"


# Syncing


async def test_a_sync_stores_projects_and_work_packages_and_deletes_removed_ones(
    hub: BundledHub, fake: FakeOpenProject, op_url: str
) -> None:
    fake.max_page_size = 2  # four work packages take two pages
    entry_id = await add_entry(hub, op_url)
    await sync(hub, entry_id)
    assert any("offset=2" in line for line in fake.requests if "work_packages" in line)

    stored = by_external_id(await hub.entities(entry_id=entry_id, entity_type="project"))
    assert {entity["name"] for entity in stored.values()} == {"Household", "Website relaunch"}
    site = next(entity for entity in stored.values() if entity["name"] == "Website relaunch")
    assert site["attributes"]["identifier"] == "website"
    assert site["attributes"]["url"] == f"{op_url}/projects/website"

    packages = await hub.entities(entry_id=entry_id, entity_type="work_package")
    named = {entity["name"]: entity for entity in packages}
    assert set(named) == {
        "Fix the boiler",
        "Buy paint",
        "Write the launch post",
        "Review the design",
    }
    post = named["Write the launch post"]
    assert post["state"] == "New"
    assert post["parent_id"] == site["id"]
    assert post["device_class"] == "task"
    assert post["attributes"] == {
        "subject": "Write the launch post",
        "status": "New",
        "closed": False,
        "due_date": (TODAY + timedelta(days=10)).isoformat(),
        "assignee": "Alice Admin",
        "project": "Website relaunch",
        "type": "Task",
        "percentage_done": 40,
        "description": "Announce the **new site** on the blog.",
        "url": f"{op_url}/work_packages/{post['external_id']}",
        "updated_at": fake.work_packages[int(post["external_id"])].updated_at,
    }
    assert named["Buy paint"]["attributes"]["closed"] is True
    assert named["Review the design"]["attributes"]["due_date"] is None

    status, found = await hub.get("/api/entities/search", params={"q": "new site blog"})
    assert status == 200, found
    assert found["results"][0]["entity"]["name"] == "Write the launch post"

    del fake.work_packages[int(named["Buy paint"]["external_id"])]
    record = await sync(hub, entry_id)
    assert record["deleted"] == 1
    left = {e["name"] for e in await hub.entities(entry_id=entry_id, entity_type="work_package")}
    assert "Buy paint" not in left
    assert len(left) == 3


async def test_overdue_fires_once_for_an_open_work_package_and_again_for_a_new_date(
    hub: BundledHub, fake: FakeOpenProject, op_url: str
) -> None:
    boiler = next(wp for wp in fake.work_packages.values() if wp.subject == "Fix the boiler")
    async with hub.app[BUS].subscribe("openproject.*") as events:
        entry_id = await add_entry(hub, op_url)
        await sync(hub, entry_id)  # after the sync that setting up started
        await sync(hub, entry_id)
        first = await asyncio.wait_for(events.get(), 2)
        assert events.pending() == 0, "once per due date, and never for the closed one"
        assert first.type == "openproject.wp_overdue"
        assert dict(first.data) == {
            "work_package_id": str(boiler.id),
            "due_date": YESTERDAY,
            "entry_id": entry_id,  # stamped by the hub: who may see the event follows the entry
        }
        assert first.origin == "integration.openproject"

        moved = (TODAY - timedelta(days=2)).isoformat()
        boiler.due_date = moved
        await sync(hub, entry_id)
        again = await asyncio.wait_for(events.get(), 2)
        assert dict(again.data) == {
            "work_package_id": str(boiler.id),
            "due_date": moved,
            "entry_id": entry_id,
        }

        boiler.status_id = CLOSED
        boiler.due_date = YESTERDAY
        await sync(hub, entry_id)
        await asyncio.sleep(0.05)
        assert events.pending() == 0, "closed work packages are never overdue"


async def test_a_webhook_repolls_and_refuses_a_body_that_is_not_an_object(
    hub: BundledHub, fake: FakeOpenProject, op_url: str
) -> None:
    entry_id = await add_entry(hub, op_url)
    await sync(hub, entry_id)
    added = fake.add_work_package(fake.projects[1], "Bleed the radiators", assignee_id=ME)
    body = {"action": "work_package:created", "work_package": {"_type": "WorkPackage", "id": 1}}
    status, answer = await hub.post(hub.webhook_path(entry_id), body)
    assert status == 200, answer
    assert answer["created"] == 1
    stored = by_external_id(await hub.entities(entry_id=entry_id, entity_type="work_package"))
    assert stored[str(added.id)]["name"] == "Bleed the radiators"

    status, answer = await hub.post(hub.webhook_path(entry_id), [1, 2])
    assert status == 400
    assert answer["error"]["code"] == "webhook_payload_invalid"
    assert answer["error"]["message"].startswith("body: must be a JSON object")


async def test_a_refused_key_asks_the_person_for_a_new_one(
    hub: BundledHub, fake: FakeOpenProject, op_url: str
) -> None:
    entry_id = await add_entry(hub, op_url)
    await sync(hub, entry_id)
    fake.key = "rotated"
    record = await sync(hub, entry_id)
    assert record["error"] == "credentials refused: OpenProject refused the API key"
    _, entry = await hub.get(f"/api/config-entries/{entry_id}")
    assert entry["state"] == "reauth_required"
    assert API_KEY not in str(entry)


async def test_a_webhook_that_meets_a_refused_key_asks_for_reauth(
    hub: BundledHub, fake: FakeOpenProject, op_url: str
) -> None:
    entry_id = await add_entry(hub, op_url)
    await sync(hub, entry_id)  # the first sync is done: only the webhook meets the new key
    fake.key = "rotated"
    status, answer = await hub.post(hub.webhook_path(entry_id), {"action": "work_package:updated"})
    assert (status, answer["error"]["code"]) == (503, "entry_needs_reauth")
    _, entry = await hub.get(f"/api/config-entries/{entry_id}")
    assert entry["state"] == "reauth_required"
    assert entry["reason"] == "credentials refused: OpenProject refused the API key"

    entries = hub.app[CONFIG_ENTRIES]
    loaded = hub.app[REGISTRY].get("openproject")
    assert loaded is not None
    ctx = entries.context(entries.require(entry_id))
    with pytest.raises(ConfigEntryAuthFailed, match="refused the API key") as caught:
        await loaded.integration.async_sync_entities(ctx)
    assert API_KEY not in str(caught.value)


# The agent's tools


def dumped(part: ToolReturnPart) -> dict[str, Any]:
    """A tool's typed result as the JSON the model is sent."""
    assert isinstance(part.content, BaseModel), part.content
    return part.content.model_dump(mode="json")


def tool_returns(messages: list[ModelMessage]) -> list[ToolReturnPart]:
    """The tool results in the last request to the model."""
    last = messages[-1]
    if not isinstance(last, ModelRequest):
        return []
    return [part for part in last.parts if isinstance(part, ToolReturnPart)]


async def test_an_agent_creates_a_work_package_and_lists_mine(
    hub: BundledHub, fake: FakeOpenProject, op_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pydantic_ai.models, "ALLOW_MODEL_REQUESTS", False)
    entry_id = await add_entry(hub, op_url)
    [deferred] = hub.app[CONFIG_ENTRIES].toolsets(entry_id)
    assert isinstance(deferred, DeferredToolset), "pydantic-ai is not needed to set the entry up"
    toolset = resolve_toolset(deferred)

    due = TODAY + timedelta(days=7)
    script = [
        ToolCallPart(
            "openproject_create_work_package",
            {
                "project": "household",
                "subject": "Clean the gutters",
                "description": "Before the **autumn** rain.",
                "due_date": due.isoformat(),
                "assign_to_me": True,
            },
        ),
        ToolCallPart("openproject_my_work_packages", {}),
    ]
    seen_tools: list[str] = []
    results: list[ToolReturnPart] = []

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen_tools[:] = [tool.name for tool in info.function_tools]
        results.extend(tool_returns(messages))
        if script:
            return ModelResponse(parts=[script.pop(0)])
        return ModelResponse(parts=[TextPart("Added, and here is your list.")])

    agent = Agent(FunctionModel(model), toolsets=[toolset])
    run = await agent.run("Remind me to clean the gutters next week.")
    assert run.output == "Added, and here is your list."
    assert sorted(seen_tools) == [
        "openproject_create_work_package",
        "openproject_list_projects",
        "openproject_my_work_packages",
    ]

    [sent] = fake.created
    assert sent == {
        "subject": "Clean the gutters",
        "description": {"format": "markdown", "raw": "Before the **autumn** rain."},
        "dueDate": due.isoformat(),
        "_links": {"type": {"href": "/api/v3/types/1"}, "assignee": {"href": "/api/v3/users/1"}},
    }
    created = next(wp for wp in fake.work_packages.values() if wp.subject == "Clean the gutters")
    assert (created.project_id, created.assignee_id) == (1, ME)

    made, listed = (dumped(part) for part in results)
    assert made["id"] == created.id
    assert (made["project"], made["status"], made["closed"]) == ("Household", "New", False)
    assert made["url"] == f"{op_url}/work_packages/{created.id}"
    subjects = [wp["subject"] for wp in listed["work_packages"]]
    assert subjects == ["Fix the boiler", "Clean the gutters", "Write the launch post"]
    assert (listed["total"], listed["truncated"]) == (3, False)
    assert listed["work_packages"][0]["overdue"] is True


async def test_tools_fail_clearly_without_revealing_the_key(
    hub: BundledHub, fake: FakeOpenProject, op_url: str
) -> None:
    entry_id = await add_entry(hub, op_url)
    await sync(hub, entry_id)  # the first sync is over: nothing else asks OpenProject below
    [toolset] = [resolve_toolset(t) for t in hub.app[CONFIG_ENTRIES].toolsets(entry_id)]
    list_projects = toolset.tools["openproject_list_projects"].function
    projects = await list_projects(limit=1)
    assert ([p.identifier for p in projects.projects], projects.truncated) == (["household"], True)

    fake.key = "rotated"
    with pytest.raises(Exception, match="OpenProject refused the API key") as caught:
        await list_projects()
    assert type(caught.value).__name__ == "OpenProjectAuthError"
    assert API_KEY not in repr(caught.value)
    missing = toolset.tools["openproject_create_work_package"].function
    fake.key = API_KEY
    with pytest.raises(Exception, match="could not be found") as not_found:
        await missing(project="nowhere", subject="Lost")
    assert type(not_found.value).__name__ == "OpenProjectError"


async def test_an_edit_to_an_address_that_does_not_answer_can_be_saved_anyway(
    hub: BundledHub, op_url: str
) -> None:
    entry_id = await add_entry(hub, op_url)
    status, form = await hub.post(f"/api/config-entries/{entry_id}/reconfigure", {})
    assert status == 200, form
    assert form["title"] == f"Edit {op_url}", "the title names the entry being changed"
    url = f"http://127.0.0.1:{closed_port()}"
    asked = await hub.submit(form["flow_id"], {"base_url": url})
    assert (asked["type"], asked["step_id"]) == ("menu", "unreachable_edit")
    assert [o["label"] for o in asked["menu_options"]] == ["Save anyway", "Back"]
    done = await hub.submit(form["flow_id"], {"next_step_id": "save_anyway"})
    assert (done["type"], done["entry_id"]) == ("create_entry", entry_id)
    _, entry = await hub.get(f"/api/config-entries/{entry_id}")
    assert (entry["data"], entry["state"]) == ({"base_url": url}, "setup_retry")
