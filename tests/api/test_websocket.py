"""The websocket on a real hub over loopback: sign-in, commands, bad input, subscriptions, limits."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import os
import re
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from hub.api.state import AUTH, BUS, CONFIG_ENTRIES, ENTITIES
from hub.api.websocket import WEBSOCKETS, Fanout
from hub.app import create_app
from hub.config import HubConfig, IntegrationsConfig
from hub.core.bus import EventType
from hub.entities.service import EVENT_ENTITY_UPDATED, EntityEventData
from tests.integrations.helpers import make_integration

PANEL = """
from typing import Any

from hub.integrations.config_flow import ConfigFlow, FlowResult
from hub.integrations.entities import (
    EntityStateActionDescriptor,
    EntityStateActionResult,
    EntityStateRecord,
    EntityStateTypeDescriptor,
)
from hub.integrations.integration import Integration
from hub.integrations.manifest import FieldDescriptor

SWITCH = EntityStateTypeDescriptor(
    key="switch", name="Switch", actions=(EntityStateActionDescriptor(name="toggle", label="Toggle"),)
)


class Flow(ConfigFlow):
    async def async_step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            fields = [FieldDescriptor(name="room", label="Room")]
            return self.async_show_form(step_id="user", data_schema=fields)
        return self.async_create_entry(title=user_input["room"], data={"switches": 1})


class Panel(Integration):
    config_flow_cls = Flow

    def entity_types(self):
        return {"switch": SWITCH}

    async def async_initial_entities(self, ctx):
        return [
            EntityStateRecord(entity_type="switch", external_id=f"s{i}", name=f"Switch {i}", state="off")
            for i in range(ctx.data.get("switches", 1))
        ]

    async def async_call_action(self, ctx, *, entity_type, external_id, action, args, current):
        new = "on" if current.state == "off" else "off"
        return EntityStateActionResult(records=(current.model_copy(update={"state": new}),))


INTEGRATION = Panel()
"""

PASSWORD = "correct horse battery"
BIG = EventType[dict[str, Any]]("test.big")
Client = TestClient[web.Request, web.Application]


class Socket:
    """A signed-in client socket that numbers its commands."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0

    async def send(self, kind: str, **fields: Any) -> int:
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "type": kind, **fields})
        return self.next_id

    async def receive(self) -> dict[str, Any]:
        message = await self.ws.receive_json(timeout=5)
        assert isinstance(message, dict)
        return message

    async def call(self, kind: str, **fields: Any) -> dict[str, Any]:
        msg_id = await self.send(kind, **fields)
        reply = await self.receive()
        assert reply["id"] == msg_id, reply
        return reply

    async def result(self, kind: str, **fields: Any) -> Any:
        reply = await self.call(kind, **fields)
        assert reply["type"] == "result", reply
        assert reply["success"], reply
        return reply["result"]


class Site:
    """The hub under test and its signed-in owner."""

    def __init__(self, client: Client, app: web.Application, owner_token: str) -> None:
        self.client = client
        self.app = app
        self.owner_token = owner_token

    async def person(self, username: str, *, is_admin: bool = False) -> tuple[str, str, str]:
        """A new person's id, access token and the id of the token that access descends from."""
        auth = self.app[AUTH]
        person = await auth.create_person(username, PASSWORD, is_admin=is_admin)
        pair = await auth.login(username, PASSWORD, "test")
        return person.person_id, pair.access_token, pair.token_id

    async def connect(self, token: str) -> Socket:
        ws = await self.client.ws_connect("/api/websocket")
        first = await ws.receive_json(timeout=5)
        assert first["type"] == "auth_required"
        assert first["hub_version"]
        await ws.send_json({"type": "auth", "access_token": token})
        assert (await ws.receive_json(timeout=5))["type"] == "auth_ok"
        return Socket(ws)

    async def rest(self, method: str, path: str, token: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        async with self.client.request(method, path, json=body, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def panel(self, *, owner: str | None = None, switches: int = 1) -> str:
        entry = await self.app[CONFIG_ENTRIES].create(
            domain="panel",
            title="Panel",
            scope="global" if owner is None else "user",
            owner=owner,
            data={"switches": switches},
            secrets={},
            version=1,
        )
        return entry.entry_id

    async def entity_ids(self, entry_id: str) -> list[int]:
        rows = await self.app[ENTITIES].list_entities(entry_ids=[entry_id])
        return [row.id for row in rows]

    async def toggle(self, entity_id: int, token: str | None = None) -> dict[str, Any]:
        path = f"/api/entities/{entity_id}/action"
        body = await self.rest("POST", path, token or self.owner_token, {"action": "toggle"})
        return dict(body)


@pytest.fixture
async def site(no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient) -> Site:
    bundled = tmp_path / "integrations"
    make_integration(bundled, "panel", init=PANEL, config_flow=True, single_instance=False)
    config = HubConfig(integrations=IntegrationsConfig(bundled_dir=bundled))
    app = create_app(tmp_path / "config", config, env={})
    app[WEBSOCKETS].close_timeout = 0.2
    client = await aiohttp_client(app)
    resp = await client.post("/api/onboarding", json={"username": "owner", "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    return Site(client, app, (await resp.json())["access_token"])


async def until(condition: Callable[[], bool]) -> None:
    """Wait (up to five seconds) until ``condition()`` holds."""
    for _ in range(5000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition not met in time")


async def events_until(sock: Socket, done: Any) -> list[dict[str, Any]]:
    """Events received until ``done(event)`` is true for one (included)."""
    seen = []
    while True:
        message = await sock.receive()
        assert message["type"] == "event", message
        seen.append(message["event"])
        if done(message["event"]):
            return seen


# Signing in


async def test_a_wrong_token_gets_auth_invalid_and_the_socket_closes(site: Site) -> None:
    ws = await site.client.ws_connect("/api/websocket")
    assert (await ws.receive_json())["type"] == "auth_required"
    await ws.send_json({"type": "auth", "access_token": "hat1.nope.0.bad"})
    invalid = await ws.receive_json(timeout=5)
    assert invalid["type"] == "auth_invalid"
    assert invalid["message"]
    closing = await ws.receive(timeout=5)
    assert closing.type is WSMsgType.CLOSE
    assert (closing.data, closing.extra) == (1008, "auth_invalid")


async def test_a_first_message_that_is_not_auth_is_refused(site: Site) -> None:
    ws = await site.client.ws_connect("/api/websocket")
    await ws.receive_json()
    await ws.send_json({"id": 1, "type": "ping"})
    invalid = await ws.receive_json(timeout=5)
    assert invalid["type"] == "auth_invalid"
    assert '"type": "auth"' in invalid["message"]
    assert (await ws.receive(timeout=5)).type is WSMsgType.CLOSE


# Commands


async def test_ping_and_the_shape_of_results(site: Site) -> None:
    sock = await site.connect(site.owner_token)
    assert await sock.call("ping") == {"id": 1, "type": "pong"}
    user = await sock.call("auth/current_user")
    assert user == {
        "id": 2,
        "type": "result",
        "success": True,
        "result": {
            "id": user["result"]["id"],
            "username": "owner",
            "display_name": "owner",
            "language": None,
            "is_admin": True,
        },
    }
    integrations = await sock.result("integrations/list")
    rest = await site.rest("GET", "/api/integrations", site.owner_token)
    assert integrations == rest
    entry_id = await site.panel(switches=2)
    entries = await sock.result("config_entries/list")
    assert [entry["entry_id"] for entry in entries["entries"]] == [entry_id]
    listed = await sock.result("entities/list", entry_id=entry_id, form="views")
    rest = await site.rest("GET", f"/api/entities?entry_id={entry_id}", site.owner_token)
    assert listed == rest
    assert len(listed["entities"]) == 2
    assert await site.rest("GET", "/api/ping", site.owner_token) == {"type": "pong"}


async def test_bad_messages_get_an_error_result_and_the_socket_stays_open(site: Site) -> None:
    sock = await site.connect(site.owner_token)
    ws = sock.ws

    async def error() -> tuple[Any, str, str]:
        reply = await sock.receive()
        assert reply["type"] == "result", reply
        assert reply["success"] is False, reply
        return reply["id"], reply["error"]["code"], reply["error"]["message"]

    await ws.send_str("{not json")
    assert (await error())[:2] == (None, "invalid_format")
    await ws.send_str("[1, 2]")
    assert (await error())[:2] == (None, "invalid_format")
    await ws.send_json({"type": "ping"})
    assert (await error())[:2] == (None, "invalid_format")
    await ws.send_json({"id": "7", "type": "ping"})
    assert (await error())[:2] == (None, "invalid_format")
    await ws.send_bytes(b'{"id": 1, "type": "ping"}')
    assert (await error())[:2] == (None, "invalid_format")
    await ws.send_json({"id": 5, "type": "ping"})
    assert await sock.receive() == {"id": 5, "type": "pong"}
    await ws.send_json({"id": 5, "type": "ping"})
    assert await error() == (5, "id_reuse", "id 5 is not greater than the previous id 5")
    await ws.send_json({"id": 3, "type": "ping"})
    assert (await error())[:2] == (3, "id_reuse")
    await ws.send_json({"id": 6, "type": "lights/on"})
    assert await error() == (6, "unknown_command", "unknown command 'lights/on'")
    await ws.send_json({"id": 7, "type": "ping", "extra": 1})
    assert await error() == (7, "invalid_format", "ping: extra: Extra inputs are not permitted")
    await ws.send_json({"id": 8, "type": "entities/action", "entity_id": 99, "action": "x"})
    assert (await error())[:2] == (8, "entity_not_found")
    await ws.send_json({"id": 9, "type": "subscribe_events", "event_type": "a*b"})
    assert (await error())[:2] == (9, "bad_request")
    await ws.send_json({"id": 10, "type": "unsubscribe_events", "subscription": 4})
    assert (await error())[:2] == (10, "not_found")
    await ws.send_json({"id": 11, "type": "ping"})
    assert await sock.receive() == {"id": 11, "type": "pong"}


async def test_a_message_over_the_limit_closes_the_socket_with_a_reason(site: Site) -> None:
    sock = await site.connect(site.owner_token)
    await sock.ws.send_str(json.dumps({"id": 1, "type": "ping", "pad": "x" * 140_000}))
    closing = await sock.ws.receive(timeout=5)
    assert closing.type is WSMsgType.CLOSE
    assert closing.data == 1009
    assert closing.extra == "message too big: the limit is 131072 bytes"


async def test_config_flows_over_the_socket(site: Site) -> None:
    sock = await site.connect(site.owner_token)
    form = await sock.result("config_flow/start", domain="panel")
    assert (form["type"], form["step_id"]) == ("form", "user")
    assert await sock.result("config_flow/abort", flow_id=form["flow_id"]) == {
        "flow_id": form["flow_id"],
        "aborted": True,
    }
    form = await sock.result("config_flow/start", domain="panel")
    _, bob_token, _ = await site.person("bob")
    bob = await site.connect(bob_token)
    stolen = await bob.call("config_flow/advance", flow_id=form["flow_id"], user_input={})
    assert stolen["error"]["code"] == "flow_not_found"
    refused = await bob.call("config_flow/start", domain="panel", scope="global")
    assert refused["error"]["code"] == "forbidden"
    done = await sock.result(
        "config_flow/advance", flow_id=form["flow_id"], user_input={"room": "Hall"}
    )
    assert (done["type"], done["title"]) == ("create_entry", "Hall")
    assert site.app[CONFIG_ENTRIES].require(done["entry_id"]).scope == "global"


# Events


async def test_subscribe_events_sees_an_action_and_unsubscribe_stops_them(site: Site) -> None:
    [entity_id] = await site.entity_ids(await site.panel())
    sock = await site.connect(site.owner_token)
    sub = await sock.send("subscribe_events", event_type="entity.updated")
    assert await sock.receive() == {"id": sub, "type": "result", "success": True, "result": None}
    await site.toggle(entity_id)
    message = await sock.receive()
    assert (message["id"], message["type"]) == (sub, "event")
    event = message["event"]
    assert event["event_type"] == "entity.updated"
    assert event["data"]["entity_id"] == entity_id
    assert (event["data"]["old_state"]["state"], event["data"]["new_state"]["state"]) == (
        "off",
        "on",
    )
    assert event["time_fired"]
    assert event["origin"] == "integration.panel"
    assert await sock.result("unsubscribe_events", subscription=sub) is None
    await site.toggle(entity_id)
    assert await sock.call("ping") == {"id": sock.next_id, "type": "pong"}


async def test_a_ping_in_any_json_spelling_gets_the_same_pong_and_ids_still_rise(
    site: Site,
) -> None:
    sock = await site.connect(site.owner_token)
    for text, msg_id in [
        ('{"id":1,"type":"ping"}', 1),
        (' {\n "id" : 2 ,\t"type": "ping" }\r\n', 2),
        ('{"type": "ping", "id": 3}', 3),  # another order: the parser's way, the same answer
    ]:
        await sock.ws.send_str(text)
        assert await sock.receive() == {"id": msg_id, "type": "pong"}
    await sock.ws.send_str('{"id": 3, "type": "ping"}')
    reused = await sock.receive()
    assert (reused["id"], reused["success"]) == (3, False)
    assert reused["error"]["code"] == "id_reuse"
    await sock.ws.send_str('{"id": 4, "type": "ping", "extra": 1}')
    refused = await sock.receive()
    assert (refused["id"], refused["success"]) == (4, False)
    await sock.ws.send_str('{"id": 5,\u000c"type": "ping"}')  # not JSON's whitespace
    assert (await sock.receive())["error"]["code"] == "invalid_format"
    sock.next_id = 5
    assert await sock.call("ping") == {"id": 6, "type": "pong"}


async def test_small_and_large_messages_keep_their_order_whichever_way_they_go_out(
    site: Site,
) -> None:
    # Small messages are written at once while nothing waits, large ones and those behind a busy
    # transport through the queue: a client sees them in the order they were sent either way.
    sock = await site.connect(site.owner_token)
    await sock.result("subscribe_events", event_type="test.big")
    sub = sock.next_id
    big, small = "x" * 40_000, "y"
    sizes = [small, big, small, small, big, big, small] * 30
    for n, pad in enumerate(sizes):
        site.app[BUS].fire(BIG, {"n": n, "pad": pad})
        if n % 7 == 3:
            await sock.send("ping")
    events: list[int] = []
    pongs: list[int] = []
    while len(events) < len(sizes) or len(pongs) < 30:
        message = await sock.receive()
        if message["type"] == "pong":
            pongs.append(message["id"])
        else:
            assert message["id"] == sub
            data = message["event"]["data"]
            assert data["pad"] == sizes[data["n"]]
            events.append(data["n"])
    assert events == list(range(len(sizes)))
    assert pongs == sorted(pongs)


async def test_events_written_at_once_parse_on_either_side_of_the_64_kib_frame_form(
    site: Site,
) -> None:
    # Events on either side of the frame's 16- and 64-bit length forms arrive whole and in order.
    sock = await site.connect(site.owner_token)
    await sock.result("subscribe_events", event_type="test.big")
    site.app[BUS].fire(BIG, {"n": -1, "pad": ""})
    overhead = len(json.dumps(await sock.receive(), separators=(",", ":")))
    for size in range(65_536 - 8, 65_536 + 8):  # n and the time stamp may take a few more
        pad = "z" * (size - overhead)
        site.app[BUS].fire(BIG, {"n": size, "pad": pad})
        message = await sock.receive()
        assert message["event"]["data"] == {"n": size, "pad": pad}
    assert await sock.call("ping") == {"id": sock.next_id, "type": "pong"}


async def test_a_person_never_sees_another_persons_user_entries(site: Site) -> None:
    anna_id, anna_token, _ = await site.person("anna")
    _, bert_token, _ = await site.person("bert")
    anna, bert = await site.connect(anna_token), await site.connect(bert_token)
    await anna.result("subscribe_events")
    await bert.result("subscribe_events")
    [private] = await site.entity_ids(await site.panel(owner=anna_id))
    await site.toggle(private, anna_token)
    shared_entry = await site.panel()
    [shared] = await site.entity_ids(shared_entry)
    await site.toggle(shared, bert_token)

    def shared_toggled(event: dict[str, Any]) -> bool:
        return bool(
            event["event_type"] == "entity.updated" and event["data"]["entity_id"] == shared
        )

    seen_by_bert = await events_until(bert, shared_toggled)
    assert {event["data"]["entry_id"] for event in seen_by_bert} == {shared_entry}
    seen_by_anna = await events_until(anna, shared_toggled)
    assert any(event["data"].get("entity_id") == private for event in seen_by_anna)

    listed = await bert.result("entities/list", form="views")
    assert [view["id"] for view in listed["entities"]] == [shared]
    refused = await bert.call("entities/action", entity_id=private, action="toggle")
    assert refused["error"]["code"] == "entity_not_found"
    entries = await bert.result("config_entries/list")
    assert [entry["entry_id"] for entry in entries["entries"]] == [shared_entry]


# Entities


async def test_subscribe_entities_sends_a_snapshot_then_compact_diffs(site: Site) -> None:
    entry_id = await site.panel(switches=2)
    first, second = await site.entity_ids(entry_id)
    sock = await site.connect(site.owner_token)
    sub = await sock.send("subscribe_entities")
    assert await sock.receive() == {"id": sub, "type": "result", "success": True, "result": None}
    snapshot = await sock.receive()
    assert (snapshot["id"], snapshot["type"]) == (sub, "event")
    added = snapshot["event"]["a"]
    assert set(added) == {str(first), str(second)}
    view = added[str(first)]
    assert (view["s"], view["n"], view["e"], view["t"], view["a"]) == (
        "off",
        "Switch 0",
        entry_id,
        "switch",
        {},
    )

    await site.toggle(first)
    diff = (await sock.receive())["event"]
    assert list(diff) == ["c"]
    changed = diff["c"][str(first)]["+"]
    assert changed["s"] == "on"
    assert "lc" in changed
    assert "n" not in changed

    [third] = await site.entity_ids(await site.panel())
    assert (await sock.receive())["event"]["a"][str(third)]["s"] == "off"
    await site.app[ENTITIES].remove(entry_id, "panel", "switch", "s1")
    assert (await sock.receive())["event"] == {"r": [second]}


async def test_entity_changes_are_coalesced_while_a_client_is_behind(site: Site) -> None:
    entry_id = await site.panel()
    [entity_id] = await site.entity_ids(entry_id)
    row = await site.app[ENTITIES].get(entity_id)
    view = site.app[ENTITIES].view(row)
    sock = await site.connect(site.owner_token)
    sub = await sock.send("subscribe_entities")
    await sock.receive()
    await sock.receive()
    old = view
    for state in ("1", "2", "3"):  # all fired before the socket's writer gets a turn
        new = {**old, "state": state, "attributes": {"step": state}}
        data = EntityEventData(
            entity_id=entity_id,
            entry_id=entry_id,
            domain="panel",
            entity_type="switch",
            external_id="s0",
            old_state=old,
            new_state=new,
        )
        site.app[BUS].fire(EVENT_ENTITY_UPDATED, data)
        old = new
    message = await sock.receive()
    assert message == {
        "id": sub,
        "type": "event",
        "event": {"c": {str(entity_id): {"+": {"s": "3", "a": {"step": "3"}}}}},
    }
    assert await sock.call("ping") == {"id": sock.next_id, "type": "pong"}


# Token lifetime


async def test_revoking_the_token_closes_its_sockets(site: Site) -> None:
    _, token, token_id = await site.person("anna")
    sock, other = await site.connect(token), await site.connect(site.owner_token)
    await site.app[AUTH].revoke(token_id)
    closing = await sock.ws.receive(timeout=5)
    assert (closing.type, closing.data, closing.extra) == (WSMsgType.CLOSE, 1008, "token revoked")
    assert await other.call("ping") == {"id": 1, "type": "pong"}


async def test_an_expired_access_token_closes_its_socket(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hub.auth.access_tokens.ACCESS_TOKEN_SECONDS", 2)
    _, token, _ = await site.person("anna")
    sock = await site.connect(token)
    closing = await sock.ws.receive(timeout=5)
    assert (closing.type, closing.data, closing.extra) == (WSMsgType.CLOSE, 1008, "token expired")


async def test_stopping_the_hub_closes_its_sockets(site: Site) -> None:
    sock = await site.connect(site.owner_token)
    closing = asyncio.create_task(sock.ws.receive(timeout=5))
    await site.client.server.close()
    message = await closing
    assert (message.type, message.data, message.extra) == (
        WSMsgType.CLOSE,
        1001,
        "the hub is stopping",
    )


# Slow clients


async def flood(site: Site, fast: Socket) -> int:
    """Fire big events, paced by ``fast``, until another socket is being closed; how many."""
    fanout = site.app[WEBSOCKETS]
    received: list[int] = []

    async def read_fast() -> None:
        while True:
            received.append((await fast.receive())["event"]["data"]["n"])

    reader = asyncio.create_task(read_fast())
    pad = "x" * 16_384
    sent = 0
    try:
        while not any(conn.closer for conn in fanout.connections):
            assert sent < 5_000, "the slow client was never dropped"
            for _ in range(8):
                site.app[BUS].fire(BIG, {"n": sent, "pad": pad})
                sent += 1
            await until(functools.partial(caught_up, received, sent))
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    assert received == list(range(sent))
    return sent


def caught_up(received: list[int], sent: int) -> bool:
    return len(received) == sent


async def test_a_client_that_falls_behind_is_closed_with_a_reason(site: Site) -> None:
    site.app[WEBSOCKETS].queue_bytes = 64 * 1024
    fast, slow = await site.connect(site.owner_token), await site.connect(site.owner_token)
    await fast.result("subscribe_events", event_type="test.big")
    await slow.result("subscribe_events", event_type="test.big")
    await flood(site, fast)
    async with asyncio.timeout(5):  # the reason arrives if the client reads within the grace
        while (message := await slow.ws.receive()).type is WSMsgType.TEXT:
            pass
    assert (message.type, message.data) == (WSMsgType.CLOSE, 1013)
    assert message.extra == "too slow: the outgoing queue is full"
    await until(lambda: len(site.app[WEBSOCKETS].connections) == 1)
    assert await fast.call("ping") == {"id": 2, "type": "pong"}


async def test_a_client_that_never_reads_is_cut_off(site: Site) -> None:
    site.app[WEBSOCKETS].queue_bytes = 64 * 1024
    fast = await site.connect(site.owner_token)
    await fast.result("subscribe_events", event_type="test.big")
    async with raw_socket(site, site.owner_token) as (reader, writer):
        writer.write(frame({"id": 1, "type": "subscribe_events", "event_type": "test.big"}))
        assert (await read_frame(reader))["success"] is True
        await flood(site, fast)  # the raw socket reads nothing from here on
        await until(lambda: len(site.app[WEBSOCKETS].connections) == 1)
        async with asyncio.timeout(5):
            with contextlib.suppress(ConnectionError):
                while await reader.read(65_536):
                    pass
    assert await fast.call("ping") == {"id": 2, "type": "pong"}


@contextlib.asynccontextmanager
async def raw_socket(
    site: Site, token: str
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A signed-in websocket over a bare TCP socket with tiny buffers, to stop reading for real;
    closed on leaving, whether or not the hub closed it first."""
    host, port = "127.0.0.1", site.client.port
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /api/websocket HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    assert (await read_frame(reader))["type"] == "auth_required"
    writer.write(frame({"type": "auth", "access_token": token}))
    assert (await read_frame(reader))["type"] == "auth_ok"
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def frame(message: dict[str, Any]) -> bytes:
    """A masked text frame, as a client must send it."""
    payload = json.dumps(message).encode()
    assert len(payload) < 126
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + masked


async def read_frame(reader: asyncio.StreamReader) -> dict[str, Any]:
    """One unmasked text frame from the server, parsed."""
    head = await reader.readexactly(2)
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await reader.readexactly(8), "big")
    message = json.loads(await reader.readexactly(length))
    assert isinstance(message, dict)
    return message


# Greedy clients


async def test_commands_past_the_limit_in_flight_are_refused_and_the_socket_stays(
    site: Site,
) -> None:
    await site.panel(switches=3)
    async with raw_socket(site, site.owner_token) as (reader, writer):
        # One write, so the hub reads all of them before any has had a turn to run.
        writer.write(b"".join(frame({"id": n, "type": "entities/list"}) for n in range(1, 21)))
        replies = [await read_frame(reader) for _ in range(20)]
        answered = sorted(reply["id"] for reply in replies if reply["success"])
        refused = [reply for reply in replies if not reply["success"]]
        assert answered == list(range(1, 9))
        assert {reply["error"]["code"] for reply in refused} == {"too_many_commands"}
        assert "wait for an answer" in refused[0]["error"]["message"]
        writer.write(frame({"id": 21, "type": "entities/list"}))
        later = await read_frame(reader)
        assert (later["id"], later["success"], len(later["result"]["entities"])) == (21, True, 3)


async def test_a_client_that_asks_and_never_reads_is_cut_off_by_what_it_left(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """Answers of a few KiB each: a count of messages would let thousands pile up.

    How many answers the kernels' socket buffers absorb first depends on the machine (up to
    ``tcp_wmem``'s 4 MiB), so the test reads what the hub held when it cut the client off."""
    fanout = site.app[WEBSOCKETS]
    fanout.queue_bytes = 64 * 1024
    await site.panel(switches=40)
    fast = await site.connect(site.owner_token)
    answer = len(json.dumps(await fast.call("entities/list")))
    async with raw_socket(site, site.owner_token) as (_, writer):
        sent = 0
        while not cutting_off(fanout):
            assert sent < 4000, "the greedy client was never cut off"
            # One at a time, a ping between: on a busy machine a burst would be mostly refused
            # as too many in flight, and refusals are too small to fill anything.
            sent += 1
            writer.write(frame({"id": sent, "type": "entities/list"}))
            with contextlib.suppress(ConnectionError):  # the hub may have closed it already
                await writer.drain()
            assert await fast.call("ping") == {"id": fast.next_id, "type": "pong"}
        assert held_when_cut_off(caplog) * 1024 <= fanout.queue_bytes + 2 * answer
        await until(lambda: len(fanout.connections) == 1)
        assert await fast.call("ping") == {"id": fast.next_id, "type": "pong"}


async def test_an_entity_subscriber_that_never_reads_is_cut_off_too(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """Changes for many entities wait coalesced, one per entity; they count as what it left."""
    fanout = site.app[WEBSOCKETS]
    fanout.queue_bytes = 64 * 1024
    entry_id = await site.panel()
    fast = await site.connect(site.owner_token)
    async with raw_socket(site, site.owner_token) as (reader, writer):
        writer.write(frame({"id": 1, "type": "subscribe_entities"}))
        assert (await read_frame(reader))["success"] is True
        fired = 0
        while not cutting_off(fanout):
            assert fired < 3000, "the entity subscriber was never cut off"
            fired += 1
            view = {"state": "on", "attributes": {"notes": "x" * 8192}}
            data = EntityEventData(
                entity_id=1000 + fired,
                entry_id=entry_id,
                domain="panel",
                entity_type="switch",
                external_id=f"n{fired}",
                old_state=None,
                new_state=view,
            )
            site.app[BUS].fire(EVENT_ENTITY_UPDATED, data)
            if fired % 50 == 0:
                assert await fast.call("ping") == {"id": fast.next_id, "type": "pong"}
        assert held_when_cut_off(caplog) * 1024 <= fanout.queue_bytes + 2 * 8192
        await until(lambda: len(fanout.connections) == 1)
        assert await fast.call("ping") == {"id": fast.next_id, "type": "pong"}


def held_when_cut_off(caplog: pytest.LogCaptureFixture) -> int:
    """The KiB the hub said were waiting when it cut the one slow socket off."""
    [held] = [
        int(found[1])
        for record in caplog.records
        if (found := re.search(r"Disconnecting websocket of .+: (\d+) KiB", record.getMessage()))
    ]
    return held


def cutting_off(fanout: Fanout) -> bool:
    """Whether one socket of two is being closed, or is gone."""
    return len(fanout.connections) < 2 or any(conn.closer for conn in fanout.connections)
