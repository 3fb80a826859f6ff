"""``GET /api/entity-types``: every type and device a person may see, in their language, at once."""

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
    install(bundled, "parlour")
    install(bundled, "gauges")
    config = HubConfig(integrations=IntegrationsConfig(bundled_dir=bundled))
    app = create_app(tmp_path / "config", config, env={})
    client = await aiohttp_client(app)
    await sign_in(client, OWNER, OWNER_PASSWORD)
    return HubClient(client, app)


async def catalog(hub: HubClient, **kw: Any) -> dict[str, Any]:
    status, body = await hub.get("/api/entity-types", **kw)
    assert status == 200, body
    return dict(body)


def by_key(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{t['domain']}/{t['key']}": t for t in body["types"]}


async def test_types_and_devices_come_in_the_browsers_language(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start(tmp_path, aiohttp_client)
    await hub.start_flow("parlour")

    english = await catalog(hub, headers={"Accept-Language": "en"})
    german = await catalog(hub, headers={"Accept-Language": "de-AT,de;q=0.9"})
    assert (english["language"], german["language"]) == ("en", "de")

    lamp = by_key(german)["parlour/lamp"]
    assert lamp["translation_key"] == "light"
    assert (lamp["name"], lamp["source_name"]) == ("Licht", "Lamp")
    assert lamp["states"] == {"dimmed": "Gedimmt"}
    assert lamp["attributes"] == {"brightness": "Helligkeit"}
    [dim] = lamp["actions"]
    assert (dim["name"], dim["label"]) == ("dim", "Dimmen")
    assert [(f["name"], f["label"], f["type"]) for f in dim["fields"]] == [
        ("level", "Stufe", "number")
    ]
    assert by_key(english)["parlour/lamp"]["name"] == "Light"

    # A type without a translation_key uses its key; without words in the files, its own English.
    clock = by_key(german)["parlour/clock"]
    assert (clock["translation_key"], clock["name"], clock["unit"]) == ("clock", "Clock", "s")

    assert german["integrations"] == {"parlour": "Das Wohnzimmer"}
    [device] = german["devices"]
    assert (device["domain"], device["name"]) == ("parlour", "Wohnzimmer-Zentrale")
    [device] = english["devices"]
    assert device["name"] == "Parlour hub"
    # The entity names its device by id: the id the catalog lists.
    status, listed = await hub.get("/api/entities", params={"entity_type": "lamp"})
    assert status == 200
    assert listed["entities"][0]["device_id"] == device["id"]


async def test_the_persons_language_wins_and_an_explicit_one_wins_over_it(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start(tmp_path, aiohttp_client)
    await hub.start_flow("parlour")
    status, me = await hub.get("/api/auth/current_user")
    assert status == 200, me
    resp = await hub.client.patch(f"/api/people/{me['id']}", json={"language": "de"})
    assert resp.status == 200, await resp.text()

    body = await catalog(hub, headers={"Accept-Language": "en"})
    assert body["language"] == "de"
    assert by_key(body)["parlour/lamp"]["name"] == "Licht"
    body = await catalog(hub, params={"language": "en"})
    assert by_key(body)["parlour/lamp"]["name"] == "Light"
    # A language that is no language is passed over, like every other choice the hub cannot meet.
    body = await catalog(hub, params={"language": "<script>" * 20})
    assert body["language"] == "de"


async def test_a_member_sees_only_the_types_and_devices_of_entries_they_may_see(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start(tmp_path, aiohttp_client)
    await hub.start_flow("gauges")  # the owner's global entry: the household sees it
    await hub.start_flow("parlour", scope="user")  # the owner's own entry: nobody else does
    member = await hub.another_person("guest", "guest password 123")

    owners = await catalog(hub)
    assert {t["domain"] for t in owners["types"]} == {"gauges", "parlour"}
    assert len(owners["devices"]) == 1

    status, theirs = await hub.get("/api/entity-types", headers=member)
    assert status == 200, theirs
    assert {t["domain"] for t in theirs["types"]} == {"gauges"}
    assert set(theirs["integrations"]) == {"gauges"}
    assert theirs["devices"] == []


async def test_it_needs_a_sign_in(tmp_path: Path, aiohttp_client: AiohttpClient) -> None:
    hub = await start(tmp_path, aiohttp_client)
    resp = await hub.client.get("/api/entity-types", headers={"Authorization": ""})
    assert resp.status == 401
