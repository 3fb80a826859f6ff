"""The Signal account in a real hub: messages arrive through the listener, replies go out approved."""

from __future__ import annotations

import base64
from typing import Any

from tests.bundled.conftest import BundledHub

from .conftest import ADA, NUMBER, Bridge, entry, link, listening, wait_for

BOB = "+4917099999999"


async def threads(hub: BundledHub) -> list[dict[str, Any]]:
    status, body = await hub.get("/api/inbox")
    assert status == 200, body
    return list(body["threads"])


async def messages(hub: BundledHub, entry_id: str, count: int) -> list[dict[str, Any]]:
    """Wait (bounded) until the entry holds ``count`` messages; them, oldest first."""

    async def found() -> list[dict[str, Any]] | None:
        items = await hub.entities(entry_id=entry_id, entity_type="signal_message")
        return items if len(items) >= count else None

    items: list[dict[str, Any]] = await wait_for(found)
    return sorted(items, key=lambda item: item["attributes"]["received_at"])


async def test_the_account_is_a_personal_regulated_channel_without_tools(
    hub: BundledHub, bridge: Bridge
) -> None:
    status, catalog = await hub.get("/api/integrations")
    assert status == 200, catalog
    [item] = [item for item in catalog["integrations"] if item["domain"] == "signal"]
    assert item["single_instance"] is False
    assert item["default_scope"] == "user"
    assert item["icon"] == "/integration-icons/signal.svg"
    assert set(item["manifest"]["provides"]) == {
        "message_reader",
        "message_sender",
        "message_listener",
    }
    entry_id = await link(hub, bridge)
    await listening(hub, entry_id)

    async def healthy() -> dict[str, Any] | None:
        health = (await entry(hub, entry_id)).get("health")
        return health if health else None

    health = await wait_for(healthy)
    assert (health["status"], health["detail"]) == ("ok", f"Linked as {NUMBER}")
    assert await hub.entities(entry_id=entry_id) == []  # messages only, and none yet


async def test_a_message_reaches_the_inbox_through_the_listener_and_is_searchable(
    hub: BundledHub, bridge: Bridge
) -> None:
    entry_id = await link(hub, bridge)
    await listening(hub, entry_id)
    bridge.fake.message(NUMBER, ADA, "The plumber comes on Tuesday.", name="Ada")
    [message] = await messages(hub, entry_id, 1)
    assert message["attributes"]["sender"] == "Ada"
    assert message["attributes"]["sender_address"] == ADA
    assert message["attributes"]["thread_id"] == ADA
    assert message["attributes"]["from_me"] is False
    assert bridge.fake.queued(NUMBER) == 0  # the bridge forgot it: the hub holds it now
    [thread] = await wait_for(lambda: threads(hub))
    assert thread["domain"] == "signal"
    assert thread["last"]["snippet"] == "The plumber comes on Tuesday."
    status, found = await hub.get("/api/entities/search", params={"q": "plumber"})
    assert status == 200, found
    assert message["id"] in [hit["entity"]["id"] for hit in found["results"]]


async def test_a_chat_is_one_thread_and_a_group_another(hub: BundledHub, bridge: Bridge) -> None:
    entry_id = await link(hub, bridge)
    await listening(hub, entry_id)
    bridge.fake.message(NUMBER, ADA, "Lunch?", name="Ada")
    bridge.fake.message(NUMBER, ADA, "At noon?", name="Ada")
    bridge.fake.message(NUMBER, ADA, "Hello all", name="Ada", group_id="Z3JvdXAtaWQ=")
    bridge.fake.message(NUMBER, BOB, "Hi!", name="Bob", group_id="Z3JvdXAtaWQ=")
    bridge.fake.deliver(NUMBER, {"envelope": {"source": ADA, "receiptMessage": {"when": 1}}})
    bridge.fake.deliver(NUMBER, {"envelope": "garbled"})
    await messages(hub, entry_id, 4)

    async def both() -> list[dict[str, Any]] | None:
        found = await threads(hub)
        return found if sum(t["count"] for t in found) == 4 else None

    found = await wait_for(both)
    group = "group." + base64.b64encode(b"Z3JvdXAtaWQ=").decode()
    counts = {t["thread_key"].split(":", 1)[1]: t["count"] for t in found}
    assert counts == {ADA: 2, group: 2}


async def test_an_approved_reply_is_sent_once_and_a_group_reply_to_the_group(
    hub: BundledHub, bridge: Bridge
) -> None:
    entry_id = await link(hub, bridge)
    await listening(hub, entry_id)
    bridge.fake.message(NUMBER, ADA, "Dinner on Friday?", name="Ada")
    bridge.fake.message(NUMBER, BOB, "Who brings drinks?", group_id="Z3JvdXAtaWQ=")
    direct, in_group = await messages(hub, entry_id, 2)
    status, draft = await hub.post("/api/drafts", {"in_reply_to": direct["id"], "body": "Yes!"})
    assert status == 201, draft
    assert bridge.fake.sent == []  # a draft waits for a person
    status, sent = await hub.post(f"/api/drafts/{draft['id']}/approve", {})
    assert status == 200, sent
    assert sent["state"] == "sent", sent
    status, again = await hub.post(f"/api/drafts/{draft['id']}/approve", {})
    assert status in (200, 409), again
    [out] = bridge.fake.sent
    assert (out["number"], out["recipients"], out["message"]) == (NUMBER, [ADA], "Yes!")

    status, draft = await hub.post("/api/drafts", {"in_reply_to": in_group["id"], "body": "Me"})
    assert status == 201, draft
    status, sent = await hub.post(f"/api/drafts/{draft['id']}/approve", {})
    assert sent["state"] == "sent", sent
    group = "group." + base64.b64encode(b"Z3JvdXAtaWQ=").decode()
    assert bridge.fake.sent[-1]["recipients"] == [group]
    assert len(bridge.fake.sent) == 2


async def test_a_reply_the_bridge_refuses_fails_with_a_reason(
    hub: BundledHub, bridge: Bridge
) -> None:
    entry_id = await link(hub, bridge)
    await listening(hub, entry_id)
    bridge.fake.message(NUMBER, ADA, "Still there?")
    [message] = await messages(hub, entry_id, 1)
    status, draft = await hub.post("/api/drafts", {"in_reply_to": message["id"], "body": "Yes"})
    assert status == 201, draft
    bridge.fake.down = True
    status, failed = await hub.post(f"/api/drafts/{draft['id']}/approve", {})
    assert failed.get("state") != "sent", failed
    assert bridge.fake.sent == []


async def test_a_bridge_that_goes_down_is_waited_out_and_nothing_is_lost_or_doubled(
    hub: BundledHub, bridge: Bridge
) -> None:
    entry_id = await link(hub, bridge)
    await listening(hub, entry_id)
    bridge.fake.message(NUMBER, ADA, "before")
    await messages(hub, entry_id, 1)
    bridge.fake.down = True

    async def backing_off() -> bool:
        listener = (await entry(hub, entry_id)).get("listener", {})
        return bool(listener.get("state") == "backing_off" and listener.get("last_error"))

    await wait_for(backing_off)
    for n in range(3):  # queued on the bridge while the hub cannot reach it
        bridge.fake.message(NUMBER, ADA, f"while down {n}")
    bridge.fake.down = False
    found = await messages(hub, entry_id, 4)
    bridge.fake.message(NUMBER, ADA, "after")
    found = await messages(hub, entry_id, 5)
    assert [m["attributes"]["body"] for m in found] == [
        "before",
        "while down 0",
        "while down 1",
        "while down 2",
        "after",
    ]
    await listening(hub, entry_id)
    assert (await entry(hub, entry_id))["listener"]["restarts"] >= 1


async def test_a_burst_larger_than_a_batch_arrives_whole(hub: BundledHub, bridge: Bridge) -> None:
    entry_id = await link(hub, bridge)
    await listening(hub, entry_id)
    for n in range(450):  # one receive; the hub takes 200 at a time
        bridge.fake.message(NUMBER, ADA, f"burst {n}")
    found = await messages(hub, entry_id, 450)
    assert len({m["external_id"] for m in found}) == 450
    assert bridge.fake.queued(NUMBER) == 0


async def test_a_number_unlinked_on_the_phone_shows_on_the_entry(
    hub: BundledHub, bridge: Bridge
) -> None:
    entry_id = await link(hub, bridge)
    bridge.fake.accounts.remove(NUMBER)
    await hub.post(f"/api/config-entries/{entry_id}/sync")  # whatever it answers, health follows

    async def unlinked() -> dict[str, Any] | None:
        health = (await entry(hub, entry_id)).get("health") or {}
        return health if health.get("status") == "error" else None

    health = await wait_for(unlinked)
    assert "no longer linked" in health["detail"]


async def test_a_bridge_down_at_start_leaves_the_entry_retrying(
    hub: BundledHub, bridge: Bridge
) -> None:
    entry_id = await link(hub, bridge)
    status, _ = await hub.post(f"/api/config-entries/{entry_id}/disable")
    assert status == 200
    bridge.fake.down = True
    status, _ = await hub.post(f"/api/config-entries/{entry_id}/enable")
    assert status == 200

    async def retrying() -> dict[str, Any] | None:
        found = await entry(hub, entry_id)
        return found if found["state"] == "setup_retry" else None

    found = await wait_for(retrying)
    assert "cannot be reached" in str(found)
