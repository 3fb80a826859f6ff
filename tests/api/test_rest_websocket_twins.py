"""A websocket command with a REST twin answers the same bad input with the same error code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse
from pytest_aiohttp import AiohttpClient

from tests.api.test_entity_filters import start
from tests.hub_client import HubClient

# (query of GET /api/entities, fields of entities/list): the same bad filter either way.
BAD_FILTERS: list[tuple[dict[str, str], dict[str, Any]]] = [
    ({"limit": "0"}, {"limit": 0}),
    ({"limit": "10001"}, {"limit": 10_001}),
    ({"limit": "many"}, {"limit": "many"}),
    ({"category": "secret"}, {"category": "secret"}),
    ({"device_id": "first"}, {"device_id": "first"}),
    ({"visible": "maybe"}, {"visible": "maybe"}),
    ({"domain": "d" * 65}, {"domain": "d" * 65}),
]

# Bodies of POST /api/entities/{id}/action, sent as entities/action's fields too.
BAD_ACTIONS: list[dict[str, Any]] = [
    {"action": ""},
    {"action": "reset", "args": [1, 2]},
    {"action": "reset", "colour": "red"},
    {},
    {"action": "explode"},
]

# GET /api/events?event_type= and subscribe_events' event_type.
BAD_PATTERNS = ["a*b", ".*", "two words", "*.x"]


class Socket:
    """A signed-in websocket that numbers its commands."""

    def __init__(self, ws: ClientWebSocketResponse) -> None:
        self.ws = ws
        self.last = 0

    async def error_code(self, type_: str, **fields: Any) -> str:
        self.last += 1
        await self.ws.send_json({"id": self.last, "type": type_, **fields})
        reply: dict[str, Any] = await self.ws.receive_json(timeout=5)
        assert (reply["id"], reply["success"]) == (self.last, False), reply
        return str(reply["error"]["code"])


@pytest.fixture
async def twins(tmp_path: Path, aiohttp_client: AiohttpClient) -> tuple[HubClient, Socket]:
    hub, token = await start(tmp_path, aiohttp_client)
    ws = await hub.client.ws_connect("/api/websocket")
    assert (await ws.receive_json(timeout=5))["type"] == "auth_required"
    await ws.send_json({"type": "auth", "access_token": token})
    assert (await ws.receive_json(timeout=5))["type"] == "auth_ok"
    return hub, Socket(ws)


async def _target_id(hub: HubClient) -> int:
    _, body = await hub.get("/api/entities", params={"category": "config"})
    [target] = body["entities"]
    return int(target["id"])


@pytest.mark.parametrize(("query", "fields"), BAD_FILTERS)
async def test_a_bad_entity_filter_is_the_same_error_over_rest_and_the_websocket(
    twins: tuple[HubClient, Socket], query: dict[str, str], fields: dict[str, Any]
) -> None:
    hub, socket = twins
    status, body = await hub.get("/api/entities", params=query)
    assert status == 400, body
    assert body["error"]["code"] == "bad_request"
    assert await socket.error_code("entities/list", **fields) == "bad_request"


@pytest.mark.parametrize("action", BAD_ACTIONS)
async def test_a_bad_action_is_the_same_error_over_rest_and_the_websocket(
    twins: tuple[HubClient, Socket], action: dict[str, Any]
) -> None:
    hub, socket = twins
    entity_id = await _target_id(hub)
    status, body = await hub.post(f"/api/entities/{entity_id}/action", action)
    assert 400 <= status < 500, body
    code = await socket.error_code("entities/action", entity_id=entity_id, **action)
    assert code == body["error"]["code"]


async def test_a_missing_entity_is_the_same_error_over_rest_and_the_websocket(
    twins: tuple[HubClient, Socket],
) -> None:
    hub, socket = twins
    status, body = await hub.post("/api/entities/999999/action", {"action": "reset"})
    assert (status, body["error"]["code"]) == (404, "entity_not_found")
    code = await socket.error_code("entities/action", entity_id=999_999, action="reset")
    assert code == "entity_not_found"


@pytest.mark.parametrize("pattern", BAD_PATTERNS)
async def test_a_bad_event_pattern_is_the_same_error_over_rest_and_the_websocket(
    twins: tuple[HubClient, Socket], pattern: str
) -> None:
    hub, socket = twins
    status, body = await hub.get("/api/events", params={"event_type": pattern})
    assert (status, body["error"]["code"]) == (400, "bad_request"), body
    assert await socket.error_code("subscribe_events", event_type=pattern) == "bad_request"


async def test_good_input_works_either_way(twins: tuple[HubClient, Socket]) -> None:
    hub, socket = twins
    entity_id = await _target_id(hub)
    status, body = await hub.post(f"/api/entities/{entity_id}/action", {"action": "reset"})
    assert (status, body["entity"]["state"], body["message"]) == (200, 55, "reset to 55")
    socket.last += 1
    await socket.ws.send_json(
        {"id": socket.last, "type": "entities/action", "entity_id": entity_id, "action": "reset"}
    )
    reply = await socket.ws.receive_json(timeout=5)
    assert reply["result"] == body
    _, listed = await hub.get("/api/entities", params={"domain": "", "limit": "", "language": "de"})
    assert len(listed["entities"]) == 6, "an empty filter is no filter; language is not a filter"


async def test_an_unknown_field_of_a_command_is_refused(twins: tuple[HubClient, Socket]) -> None:
    _, socket = twins
    assert await socket.error_code("entities/list", colour="red") == "bad_request"
