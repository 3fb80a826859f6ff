"""Who sees which event, over the websocket and in ``GET /api/events``: one rule for both.

A member's own entry (a webhook here) is theirs alone, admins included; a household entry's events
are everyone's; the hub's own events are the admins'.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from hub.api.history import EVENT_LOG
from hub.api.state import BUS, CONFIG_ENTRIES
from hub.api.websocket import WEBSOCKETS
from hub.app import create_app
from hub.config import HubConfig
from hub.core.bus import EventType
from tests.api.test_websocket import PASSWORD, Site, Socket, events_until

NOTE = EventType[dict[str, Any]]("test.note")


@pytest.fixture
async def site(no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient) -> Site:
    """A hub with the bundled integrations (the webhook among them) and its signed-in owner."""
    app = create_app(tmp_path / "config", HubConfig(), env={})
    app[WEBSOCKETS].close_timeout = 0.2
    client = await aiohttp_client(app)
    resp = await client.post("/api/onboarding", json={"username": "owner", "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    return Site(client, app, (await resp.json())["access_token"])


async def webhook(site: Site, token: str, owner: str | None) -> tuple[str, str]:
    """A webhook entry (a member's own, or the household's) and the path its senders post to."""
    entry = await site.app[CONFIG_ENTRIES].create(
        domain="webhook",
        title="Hook",
        scope="global" if owner is None else "user",
        owner=owner,
        data={"name": "Hook"},
        secrets={},
        version=1,
    )
    info = await site.rest("GET", f"/api/config-entries/{entry.entry_id}/webhook", token)
    return entry.entry_id, str(info["path"])


async def deliver(site: Site, path: str, thing: str) -> None:
    body = {"entities": [{"id": thing, "state": 1}], "event": {"type": "seen", "data": {}}}
    async with site.client.post(path, json=body) as resp:
        assert resp.status == 200, await resp.text()


async def entries_of_events(sock: Socket, until_entry: str) -> list[tuple[str, Any]]:
    """``(event_type, entry_id)`` of the events received up to ``until_entry``'s second
    ``webhook.received``: the last delivery fires it after everything the ones before fired."""
    seen: list[tuple[str, Any]] = []
    while seen.count(("webhook.received", until_entry)) < 2:
        message = await sock.receive()
        assert message["type"] == "event", message
        event = message["event"]
        seen.append((event["event_type"], event["data"].get("entry_id")))
    return seen


async def logged(site: Site, token: str, query: str = "limit=1000") -> list[tuple[str, Any]]:
    await site.app[EVENT_LOG].flush()
    body = await site.rest("GET", f"/api/events?{query}", token)
    return [(event["event_type"], event["data"].get("entry_id")) for event in body["events"]]


async def test_a_members_webhook_events_reach_the_member_and_no_admin(site: Site) -> None:
    anna_id, anna_token, _ = await site.person("anna")
    _, boss_token, _ = await site.person("boss", is_admin=True)
    owner, anna = await site.connect(site.owner_token), await site.connect(anna_token)
    boss = await site.connect(boss_token)
    for sock in (owner, anna, boss):
        await sock.result("subscribe_events")
    private, private_path = await webhook(site, anna_token, anna_id)
    shared, shared_path = await webhook(site, site.owner_token, None)

    await deliver(site, private_path, "diary")
    await deliver(site, shared_path, "porch")
    await deliver(site, shared_path, "porch")

    seen_by_anna = await entries_of_events(anna, shared)
    assert ("webhook.received", private) in seen_by_anna
    assert ("entity.created", private) in seen_by_anna
    assert ("webhook.received", shared) in seen_by_anna
    for admin in (owner, boss):
        seen = await entries_of_events(admin, shared)
        assert private not in {entry for _, entry in seen}, seen
        assert ("entity.created", shared) in seen

    by_anna, by_owner = await logged(site, anna_token), await logged(site, site.owner_token)
    assert {("webhook.received", private), ("webhook.received", shared)} <= set(by_anna)
    assert ("webhook.received", shared) in by_owner
    assert private not in {entry for _, entry in by_owner}, by_owner
    assert await logged(site, boss_token) == by_owner


async def test_a_page_of_the_event_log_is_full_of_what_the_caller_may_see(site: Site) -> None:
    anna_id, anna_token, _ = await site.person("anna")
    private, private_path = await webhook(site, anna_token, anna_id)
    _, shared_path = await webhook(site, site.owner_token, None)
    for n in range(2):
        await deliver(site, shared_path, f"porch{n}")
    for n in range(5):  # newer than the household's events: a limit applied first would hide them
        await deliver(site, private_path, f"thing{n}")
    page = await logged(site, site.owner_token, "limit=2&event_type=webhook.received")
    assert len(page) == 2
    assert private not in {entry for _, entry in page}
    own = await logged(site, anna_token, "limit=3&event_type=webhook.received")
    assert own == [("webhook.received", private)] * 3


async def test_a_persons_own_events_are_theirs_and_the_hubs_are_the_admins(site: Site) -> None:
    anna_id, anna_token, _ = await site.person("anna")
    owner, anna = await site.connect(site.owner_token), await site.connect(anna_token)
    owner_id = (await owner.result("auth/current_user"))["id"]
    await owner.result("subscribe_events", event_type="test.*")
    await anna.result("subscribe_events", event_type="test.*")
    site.app[BUS].fire(NOTE, {"n": 1})
    site.app[BUS].fire(NOTE, {"n": 2, "person_id": anna_id})
    site.app[BUS].fire(NOTE, {"n": 3, "person_id": owner_id})
    assert [(await owner.receive())["event"]["data"]["n"] for _ in range(2)] == [1, 3]
    assert (await anna.receive())["event"]["data"]["n"] == 2
    assert await anna.call("ping") == {"id": anna.next_id, "type": "pong"}, "nothing else came"


async def test_a_removed_entrys_last_events_still_reach_only_its_owner(site: Site) -> None:
    anna_id, anna_token, _ = await site.person("anna")
    owner, anna = await site.connect(site.owner_token), await site.connect(anna_token)
    private, path = await webhook(site, anna_token, anna_id)
    await deliver(site, path, "diary")
    await owner.result("subscribe_events", event_type="config_entry.*")
    await anna.result("subscribe_events", event_type="config_entry.*")
    await site.rest("DELETE", f"/api/config-entries/{private}", anna_token)
    shared, _ = await webhook(site, site.owner_token, None)

    def created(event: dict[str, Any]) -> bool:
        return bool(event["event_type"] == "config_entry.created")

    seen_by_anna = [e["event_type"] for e in await events_until(anna, created)]
    assert "config_entry.removed" in seen_by_anna
    seen_by_owner = await events_until(owner, created)
    assert [e["data"]["entry_id"] for e in seen_by_owner] == [shared]
