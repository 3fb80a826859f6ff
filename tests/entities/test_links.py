"""An entity keeps its parent and device through actions and syncs that do not mention them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_aiohttp import AiohttpClient

from hub.app import create_app
from hub.config import HubConfig, IntegrationsConfig
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.hub_client import HubClient
from tests.integrations.on_disk import install


async def start(tmp_path: Path, aiohttp_client: AiohttpClient) -> HubClient:
    bundled = tmp_path / "integrations"
    install(bundled, "linked_lamps")
    config = HubConfig(integrations=IntegrationsConfig(bundled_dir=bundled))
    app = create_app(tmp_path / "config", config, env={})
    client = await aiohttp_client(app)
    await sign_in(client, OWNER, OWNER_PASSWORD)
    return HubClient(client, app)


async def lamps(hub: HubClient) -> dict[str, dict[str, Any]]:
    status, body = await hub.get("/api/entities", params={"domain": "linked_lamps"})
    assert status == 200, body
    return {view["external_id"]: view for view in body["entities"]}


async def act(hub: HubClient, entity_id: int, action: str) -> dict[str, Any]:
    status, body = await hub.post(f"/api/entities/{entity_id}/action", {"action": action})
    assert status == 200, body
    return dict(body)


async def test_actions_built_from_current_keep_parent_and_device(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start(tmp_path, aiohttp_client)
    await hub.start_flow("linked_lamps")
    seeded = await lamps(hub)
    bridge, hall = seeded["bridge-1"], seeded["hall"]
    assert hall["parent_id"] == bridge["id"]
    assert hall["device_id"] is not None

    turned_on = await act(hub, hall["id"], "turn_on")
    assert turned_on["message"] == "bridge/bridge-1 on bridge-1", "current carries its links"
    assert turned_on["entity"]["state"] == "on"
    assert (turned_on["entity"]["parent_id"], turned_on["entity"]["device_id"]) == (
        bridge["id"],
        hall["device_id"],
    )

    turned_off = (await act(hub, hall["id"], "turn_off"))["entity"]
    assert turned_off["state"] == "off"
    assert (turned_off["parent_id"], turned_off["device_id"]) == (bridge["id"], hall["device_id"])
    assert (await lamps(hub))["hall"]["parent_id"] == bridge["id"]

    detached = (await act(hub, hall["id"], "detach"))["entity"]
    assert (detached["parent_id"], detached["device_id"]) == (None, None), (
        "an explicit None unlinks"
    )


async def test_a_sync_whose_records_omit_parent_and_device_keeps_them(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start(tmp_path, aiohttp_client)
    entry_id = (await hub.start_flow("linked_lamps"))["entry_id"]
    status, body = await hub.post(f"/api/config-entries/{entry_id}/sync")
    assert status == 200, body
    after = await lamps(hub)
    bridge = after["bridge-1"]
    for key in ("hall", "porch"):
        assert after[key]["state"] == "off", "the sync wrote its states"
        assert after[key]["parent_id"] == bridge["id"]
        assert after[key]["device_id"] == bridge["device_id"] is not None
    status, body = await hub.post(f"/api/config-entries/{entry_id}/sync")
    assert (body["sync"]["updated"], body["sync"]["unchanged"]) == (0, 2), "kept links are stable"
