"""Messages reach one inbox through the listener, threaded, newest first, live, and markable."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.comms.conftest import StartCommsHub


async def wait_for(check: Any, seconds: float = 10.0) -> Any:
    """Poll ``check`` (a coroutine function) until it returns something truthy."""
    async with asyncio.timeout(seconds):
        while True:
            value = await check()
            if value:
                return value
            await asyncio.sleep(0.02)


async def test_a_delivered_message_reaches_the_inbox_through_the_listener(
    start_comms_hub: StartCommsHub,
) -> None:
    hub = await start_comms_hub()
    entry_id = await hub.add_courier()
    await wait_for(lambda: _listener_state(hub, entry_id, "running"))
    menu = {"filename": "menu.pdf", "content_type": "application/pdf", "size": 52_000}
    hub.channel.deliver("m1", subject="Lunch?", body="Shall we?", sender="Ada", attachments=[menu])

    async def threads() -> list[dict[str, Any]]:
        status, body = await hub.client.get("/api/inbox")
        assert status == 200, body
        return list(body["threads"])

    (thread,) = await wait_for(threads)
    assert thread["subject"] == "Lunch?"
    assert thread["entry_id"] == entry_id
    assert thread["domain"] == "courier"
    assert thread["unread"] == 1
    assert thread["count"] == 1
    assert thread["last"]["sender"] == "Ada"
    assert thread["last"]["snippet"] == "Shall we?"
    status, message = await hub.client.get(f"/api/inbox/messages/{thread['last']['id']}")
    assert status == 200
    assert message["attachments"] == [menu]  # what came with it, by name: never the file


async def test_threads_group_replies_and_sort_newest_first_with_paging(
    start_comms_hub: StartCommsHub,
) -> None:
    hub = await start_comms_hub()
    await hub.add_courier()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(5):
        hub.channel.deliver(f"t{n}", subject=f"Topic {n}", received_at=start + timedelta(hours=n))
    # A reply in thread t0, arriving last: its thread becomes the newest.
    hub.channel.deliver(
        "t0-reply", subject="Re: Topic 0", thread_id="t0", received_at=start + timedelta(hours=9)
    )

    async def everything() -> Any:
        _, body = await hub.client.get("/api/inbox")
        return body if sum(t["count"] for t in body["threads"]) == 6 else None

    body = await wait_for(everything)
    keys = [t["thread_key"].split(":", 1)[1] for t in body["threads"]]
    assert keys == ["t0", "t4", "t3", "t2", "t1"]
    assert body["threads"][0]["count"] == 2
    assert body["threads"][0]["last"]["id"] is not None

    _, page1 = await hub.client.get("/api/inbox?limit=2")
    _, page2 = await hub.client.get(f"/api/inbox?limit=2&before={page1['next']}")
    _, page3 = await hub.client.get(f"/api/inbox?limit=2&before={page2['next']}")
    paged = [t["thread_key"] for p in (page1, page2, page3) for t in p["threads"]]
    assert paged == [t["thread_key"] for t in body["threads"]]
    assert page3["next"] is None

    key = body["threads"][0]["thread_key"]
    status, thread = await hub.client.get("/api/inbox/thread", params={"key": key})
    assert status == 200, thread
    assert [m["external_id"] for m in thread["messages"]] == ["t0", "t0-reply"]


async def test_read_and_archive_marks_and_filters(start_comms_hub: StartCommsHub) -> None:
    hub = await start_comms_hub()
    await hub.add_courier()
    hub.channel.deliver("a", subject="One")
    hub.channel.deliver("b", subject="Two")

    async def two() -> Any:
        _, body = await hub.client.get("/api/inbox")
        return body if len(body["threads"]) == 2 else None

    body = await wait_for(two)
    assert body["counts"]["unread"] == 2
    first = body["threads"][0]["last"]["id"]
    status, message = await hub.client.post(f"/api/inbox/messages/{first}/mark", {"read": True})
    assert status == 200
    assert message["read"] is True
    _, unread = await hub.client.get("/api/inbox?unread=1")
    assert len(unread["threads"]) == 1
    assert unread["counts"]["unread"] == 1

    key = body["threads"][1]["thread_key"]
    status, _ = await hub.client.post("/api/inbox/thread/mark", {"key": key, "archived": True})
    assert status == 200
    _, inbox = await hub.client.get("/api/inbox")
    _, archive = await hub.client.get("/api/inbox?archived=1")
    assert [t["thread_key"] for t in inbox["threads"]] != [key]
    assert [t["thread_key"] for t in archive["threads"]] == [key]


async def test_bad_input_gets_a_typed_error(start_comms_hub: StartCommsHub) -> None:
    hub = await start_comms_hub()
    status, body = await hub.client.get("/api/inbox?before=nonsense")
    assert status == 400
    assert body["error"]["code"] == "bad_cursor"
    status, body = await hub.client.get("/api/inbox?importance=urgent")
    assert status == 400
    assert "importance" in body["error"]["message"]
    status, body = await hub.client.post("/api/inbox/messages/99/mark", {"read": True})
    assert status == 404
    assert body["error"]["code"] == "message_not_found"
    status, body = await hub.client.post("/api/inbox/messages/x/mark", {"read": True})
    assert status == 400
    status, body = await hub.client.post("/api/inbox/messages/1/mark", {})
    assert status == 400


async def test_another_person_never_sees_my_messages(start_comms_hub: StartCommsHub) -> None:
    hub = await start_comms_hub()
    await hub.add_courier(scope="user")
    hub.channel.deliver("private", subject="Mine")

    async def mine() -> Any:
        _, body = await hub.client.get("/api/inbox")
        return body["threads"]

    (thread,) = await wait_for(mine)
    bob = await hub.client.another_person("bob", "bob-password-123")
    status, body = await hub.client.get("/api/inbox", headers=bob)
    assert status == 200
    assert body["threads"] == []
    message_id = thread["last"]["id"]
    status, _ = await hub.client.get(f"/api/inbox/messages/{message_id}", headers=bob)
    assert status == 404
    status, _ = await hub.client.get(
        "/api/inbox/thread", params={"key": thread["thread_key"]}, headers=bob
    )
    assert status == 404


async def _listener_state(hub: Any, entry_id: str, state: str) -> bool:
    status = hub.comms.listeners.status(entry_id)
    return status is not None and status["state"] == state


async def test_a_new_message_is_pushed_to_a_websocket_subscriber(
    start_comms_hub: StartCommsHub,
) -> None:
    hub = await start_comms_hub()
    entry_id = await hub.add_courier()
    client = hub.client.client
    token = client.session.headers["Authorization"].removeprefix("Bearer ")
    async with client.ws_connect("/api/websocket") as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "auth_required"
        await ws.send_json({"type": "auth", "access_token": token})
        assert (await ws.receive_json(timeout=5))["type"] == "auth_ok"
        await ws.send_json({"id": 1, "type": "subscribe_events", "event_type": "inbox.*"})
        assert (await ws.receive_json(timeout=5))["success"] is True
        hub.channel.deliver("live-1", subject="Now")
        message = await ws.receive_json(timeout=10)
    event = message["event"]
    assert event["event_type"] == "inbox.message"
    assert event["data"]["change"] == "created"
    assert event["data"]["entry_id"] == entry_id
    status, body = await hub.client.get(f"/api/inbox/messages/{event['data']['entity_id']}")
    assert status == 200
    assert body["subject"] == "Now"


async def test_the_sync_button_of_a_message_account_pulls_its_new_messages(
    start_comms_hub: StartCommsHub,
) -> None:
    hub = await start_comms_hub(listener_watchdog_seconds=60)
    entry_id = await hub.add_courier()
    await hub.comms.ingest.pull(entry_id)
    # It arrives without waking the listener, as mail does while IDLE has lapsed.
    hub.channel.messages.append(_message("quiet"))
    status, body = await hub.client.post(f"/api/config-entries/{entry_id}/sync")
    assert status == 200, body
    assert body["sync"]["created"] == 1
    status, message = await hub.client.get("/api/inbox")
    assert [t["last"]["sender_address"] for t in message["threads"]] == ["ada@example.org"]


def _message(external_id: str) -> Any:
    from hub.integrations.capabilities import IncomingMessage

    return IncomingMessage(
        external_id=external_id, sender_address="ada@example.org", received_at=datetime.now(UTC)
    )
