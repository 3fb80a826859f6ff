"""Every filter of an entity listing runs before its limit, over REST and the websocket alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_aiohttp import AiohttpClient

from hub.app import create_app
from hub.config import HubConfig, IntegrationsConfig
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.hub_client import HubClient
from tests.integrations.on_disk import install


async def start(tmp_path: Path, aiohttp_client: AiohttpClient) -> tuple[HubClient, str]:
    bundled = tmp_path / "integrations"
    install(bundled, "gauges")
    config = HubConfig(integrations=IntegrationsConfig(bundled_dir=bundled))
    app = create_app(tmp_path / "config", config, env={})
    client = await aiohttp_client(app)
    token = await sign_in(client, OWNER, OWNER_PASSWORD)
    hub = HubClient(client, app)
    await hub.start_flow("gauges")
    return hub, token


async def names(hub: HubClient, **query: str) -> list[str]:
    status, body = await hub.get("/api/entities", params=query)
    assert status == 200, body
    return [view["name"] for view in body["entities"]]


async def test_a_category_filter_applies_before_the_limit(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub, _ = await start(tmp_path, aiohttp_client)
    # The four readings have the lowest ids: a filter after the limit would see only them.
    assert await names(hub, category="diagnostic", limit="3") == ["Boiler firmware"]
    assert await names(hub, category="config", limit="1") == ["Boiler target temperature"]
    assert await names(hub, category="none", limit="2") == [
        "Boiler flow temperature",
        "Boiler return temperature",
    ]
    assert await names(hub, category="diagnostic", entity_type="reading") == []
    assert len(await names(hub, limit="6")) == 6


async def test_the_websocket_listing_filters_before_its_limit_too(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub, token = await start(tmp_path, aiohttp_client)
    ws = await hub.client.ws_connect("/api/websocket")
    assert (await ws.receive_json(timeout=5))["type"] == "auth_required"
    await ws.send_json({"type": "auth", "access_token": token})
    assert (await ws.receive_json(timeout=5))["type"] == "auth_ok"
    await ws.send_json(
        {"id": 1, "type": "entities/list", "category": "diagnostic", "limit": 3, "form": "views"}
    )
    reply: dict[str, Any] = await ws.receive_json(timeout=5)
    assert reply["success"], reply
    assert [view["name"] for view in reply["result"]["entities"]] == ["Boiler firmware"]
    await ws.send_json({"id": 2, "type": "entities/list", "category": "secret"})
    refused = await ws.receive_json(timeout=5)
    assert (refused["success"], refused["error"]["code"]) == (False, "bad_request")
    await ws.close()


async def test_an_unknown_category_is_a_bad_request(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub, _ = await start(tmp_path, aiohttp_client)
    status, body = await hub.get("/api/entities", params={"category": "diagnostics"})
    assert (status, body["error"]["code"]) == (400, "bad_request")
    assert "config, diagnostic, none" in body["error"]["message"]
