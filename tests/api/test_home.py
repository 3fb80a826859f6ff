"""``GET/PUT/DELETE /api/home``: the hub's home location, read by everyone, set by admins."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from hub.app import create_app
from hub.config import HubConfig
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.hub_client import HubClient

BERLIN: dict[str, Any] = {
    "latitude": 52.52,
    "longitude": 13.405,
    "elevation": 34,
    "time_zone": "Europe/Berlin",
    "name": "Flat in Berlin",
}

StartHub = Callable[[], Awaitable[HubClient]]


@pytest.fixture
def start_hub(tmp_path: Path, aiohttp_client: AiohttpClient) -> StartHub:
    """Start (or restart) a hub on one config dir, the owner signed in."""

    async def start() -> HubClient:
        app = create_app(tmp_path / "config", HubConfig(), env={})
        client = await aiohttp_client(app)
        await sign_in(client, OWNER, OWNER_PASSWORD)
        return HubClient(client, app)

    return start


async def put(hub: HubClient, body: Any, **kw: Any) -> tuple[int, Any]:
    resp = await hub.client.put("/api/home", json=body, **kw)
    return resp.status, await resp.json()


async def test_a_new_hub_has_no_home_and_an_admin_sets_it(start_hub: StartHub) -> None:
    hub = await start_hub()
    assert await hub.get("/api/home") == (200, {"home": None})
    status, body = await put(hub, BERLIN)
    assert status == 200, body
    assert body["home"] == {**BERLIN, "elevation": 34.0}
    assert await hub.get("/api/home") == (200, body)


async def test_defaults_fill_what_is_left_out(start_hub: StartHub) -> None:
    hub = await start_hub()
    status, body = await put(hub, {"latitude": -33.87, "longitude": 151.21})
    assert status == 200, body
    assert body["home"] == {
        "latitude": -33.87,
        "longitude": 151.21,
        "elevation": None,
        "time_zone": "UTC",
        "name": "Home",
    }


async def test_a_member_reads_it_but_may_not_change_or_clear_it(start_hub: StartHub) -> None:
    hub = await start_hub()
    await put(hub, BERLIN)
    member = await hub.another_person("mia", "a long member passphrase")
    status, body = await hub.get("/api/home", headers=member)
    assert status == 200
    assert body["home"]["name"] == "Flat in Berlin"
    status, body = await put(hub, {**BERLIN, "name": "Mine"}, headers=member)
    assert status == 403
    assert body["error"]["key"] == "errors.admin_only"
    resp = await hub.client.delete("/api/home", headers=member)
    assert resp.status == 403
    assert (await hub.get("/api/home"))[1]["home"]["name"] == "Flat in Berlin"


async def test_signed_out_callers_learn_nothing(start_hub: StartHub) -> None:
    hub = await start_hub()
    resp = await hub.client.get("/api/home", headers={"Authorization": "Bearer nope"})
    assert resp.status == 401


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"latitude": 90.5}, "latitude"),
        ({"longitude": -180.01}, "longitude"),
        ({"latitude": "north"}, "latitude"),
        ({"latitude": True}, "latitude"),
        ({"elevation": 12000}, "elevation"),
        ({"time_zone": "../../etc/passwd"}, "time_zone"),
        ({"time_zone": ""}, "time_zone"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_bad_values_are_400_naming_the_field(
    start_hub: StartHub, change: dict[str, Any], field: str
) -> None:
    hub = await start_hub()
    await put(hub, BERLIN)
    status, body = await put(hub, {**BERLIN, **change})
    assert status == 400, body
    assert body["error"]["code"] == "bad_request"
    assert body["error"]["message"].startswith(f"{field}:")
    assert (await hub.get("/api/home"))[1]["home"]["name"] == "Flat in Berlin", "kept as it was"


async def test_a_missing_coordinate_is_400(start_hub: StartHub) -> None:
    hub = await start_hub()
    status, body = await put(hub, {"longitude": 13.4})
    assert status == 400
    assert "latitude:" in body["error"]["message"]


async def test_an_unknown_time_zone_is_400_in_the_persons_language(start_hub: StartHub) -> None:
    hub = await start_hub()
    status, body = await put(hub, {**BERLIN, "time_zone": "Mars/Olympus_Mons"})
    assert status == 400, body
    assert body["error"]["key"] == "errors.unknown_time_zone"
    assert body["error"]["params"] == {"time_zone": "Mars/Olympus_Mons"}
    status, body = await put(
        hub, {**BERLIN, "time_zone": "Mars/Olympus_Mons"}, headers={"Accept-Language": "de"}
    )
    assert status == 400
    assert "keine Zeitzone" in body["error"]["message"]


async def test_it_survives_a_restart_and_clearing_it_does_too(
    start_hub: StartHub, tmp_path: Path
) -> None:
    hub = await start_hub()
    await put(hub, BERLIN)
    stored = json.loads((tmp_path / "config" / ".storage" / "core.home").read_text())
    assert stored["data"]["home"]["name"] == "Flat in Berlin"
    await hub.client.close()
    hub = await start_hub()
    assert (await hub.get("/api/home"))[1]["home"]["time_zone"] == "Europe/Berlin"
    resp = await hub.client.delete("/api/home")
    assert resp.status == 200
    assert await resp.json() == {"home": None}
    await hub.client.close()
    hub = await start_hub()
    assert await hub.get("/api/home") == (200, {"home": None})
