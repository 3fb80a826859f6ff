"""What saving a workflow promises beyond the happy path: a sentence for every reason in every
language, a stored workflow this hub cannot read kept rather than lost, and live change events
that reach only those who may see the workflow."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse

from hub.workflows.problems import REASONS, reason_key
from tests.agent.conftest import start_agent_hub  # noqa: F401  # the fixture, for this module
from tests.agent.support import AgentHub
from tests.workflows.actions_hub import DIMMERS, StartHub
from tests.workflows.test_api import MEMBER, MEMBER_PASSWORD, body, create, put

pytestmark = pytest.mark.usefixtures("no_lingering_tasks")

TRANSLATIONS = Path(__file__).resolve().parents[2] / "hub" / "translations"


@pytest.fixture
def start(start_agent_hub: StartHub, tmp_path: Path) -> StartHub:  # noqa: F811
    target = tmp_path / "integrations" / "dimmers"
    if not target.exists():
        shutil.copytree(DIMMERS, target)
    return start_agent_hub


def test_every_reason_has_a_sentence_in_english_and_german_naming_the_path() -> None:
    english = json.loads((TRANSLATIONS / "en.json").read_text("utf-8"))["errors"]
    german = json.loads((TRANSLATIONS / "de.json").read_text("utf-8"))["errors"]
    assert len(REASONS) == 13
    for reason in REASONS:
        key = reason_key(reason).removeprefix("errors.")
        assert "{path}" in english[key], key
        placeholders = set(re.findall(r"\{(\w+)\}", english[key]))
        assert set(re.findall(r"\{(\w+)\}", german[key])) == placeholders, key


async def test_a_stored_workflow_this_hub_cannot_read_is_kept(start: StartHub) -> None:
    hub = await start()
    made = await create(hub, body())
    await hub.client.close()
    path = hub.config_dir / ".storage" / "workflows"
    stored = json.loads(path.read_text("utf-8"))
    future = {**stored["data"]["workflows"][0], "id": "f" * 16, "mode": "someday"}
    stored["data"]["workflows"].append(future)
    path.write_text(json.dumps(stored), "utf-8")

    hub = await start()
    status, listed = await hub.get("/api/workflows")
    assert status == 200
    assert [w["id"] for w in listed["workflows"]] == [made["id"]]
    status, _ = await put(hub, made["id"], body(name="Changed"))
    assert status == 200
    kept = json.loads(path.read_text("utf-8"))["data"]["workflows"]
    assert [(w["id"], w["name"]) for w in kept] == [(made["id"], "Changed"), ("f" * 16, "Evening")]


async def socket(hub: AgentHub, token: str) -> ClientWebSocketResponse:
    ws = await hub.client.ws_connect("/api/websocket")
    assert (await ws.receive_json(timeout=5))["type"] == "auth_required"
    await ws.send_json({"type": "auth", "access_token": token})
    assert (await ws.receive_json(timeout=5))["type"] == "auth_ok"
    await ws.send_json({"id": 1, "type": "subscribe_events", "event_type": "workflow.changed"})
    assert (await ws.receive_json(timeout=5))["success"] is True
    return ws


async def changes(ws: ClientWebSocketResponse, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while len(found) < count:
        message = await ws.receive_json(timeout=10)
        if message.get("type") == "event":
            found.append(message["event"]["data"])
    return found


async def test_change_events_reach_only_those_who_may_see_the_workflow(start: StartHub) -> None:
    hub = await start()
    member = await hub.another_person(MEMBER, MEMBER_PASSWORD)
    admin_ws = await socket(hub, hub.token)
    member_ws = await socket(hub, member["Authorization"].removeprefix("Bearer "))
    try:
        theirs = await create(hub, body(name="Robin's"), headers=member)
        shared = await create(hub, body(name="House", household=True))
        resp = await hub.client.delete(f"/api/workflows/{theirs['id']}", headers=member)
        assert resp.status == 204

        seen_by_member = await changes(member_ws, 2)
        assert [(e["workflow_id"], e["change"]) for e in seen_by_member] == [
            (theirs["id"], "created"),
            (theirs["id"], "deleted"),
        ]
        [seen_by_admin] = await changes(admin_ws, 1)
        assert seen_by_admin == {"workflow_id": shared["id"], "change": "created"}
    finally:
        await admin_ws.close()
        await member_ws.close()
