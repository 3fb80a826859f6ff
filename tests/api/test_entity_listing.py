"""An entity listing is built as JSON text by SQLite and kept until the next write: it must say
exactly what the views say, over REST and the websocket, and never outlive a change."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import ClientWebSocketResponse
from pytest_aiohttp import AiohttpClient

from hub.api.state import ENTITIES
from hub.api.websocket_entities import compact
from hub.app import create_app
from hub.config import HubConfig, IntegrationsConfig
from hub.entities.listing import _TIME, FULL_KEYS, iso_millis
from hub.integrations.entities import EntityStateRecord
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.hub_client import HubClient
from tests.integrations.on_disk import install


async def start(tmp_path: Path, aiohttp_client: AiohttpClient) -> tuple[HubClient, str, str]:
    bundled = tmp_path / "integrations"
    install(bundled, "odd_values")
    install(bundled, "odd_values", "odd_shared")
    config = HubConfig(integrations=IntegrationsConfig(bundled_dir=bundled))
    app = create_app(tmp_path / "config", config, env={})
    client = await aiohttp_client(app)
    token = await sign_in(client, OWNER, OWNER_PASSWORD)
    hub = HubClient(client, app)
    entry_id = str((await hub.start_flow("odd_values", scope="user"))["entry_id"])
    await hub.start_flow("odd_shared")
    return hub, token, entry_id


async def views(hub: HubClient) -> list[dict[str, Any]]:
    """What the views of every stored entity encode to, built one by one as before."""
    service = hub.app[ENTITIES]
    rows = await service.list_entities()
    return [service.view(row) for row in rows]


def decoded(value: Any) -> Any:
    """``value`` through the websocket's encoder and back, as a client reads it."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


async def socket(hub: HubClient, token: str) -> ClientWebSocketResponse:
    ws = await hub.client.ws_connect("/api/websocket")
    assert (await ws.receive_json(timeout=5))["type"] == "auth_required"
    await ws.send_json({"type": "auth", "access_token": token})
    assert (await ws.receive_json(timeout=5))["type"] == "auth_ok"
    return ws


async def ws_list(ws: ClientWebSocketResponse, msg_id: int, **fields: Any) -> dict[str, Any]:
    await ws.send_json({"id": msg_id, "type": "entities/list", **fields})
    reply: dict[str, Any] = await ws.receive_json(timeout=5)
    assert reply["id"] == msg_id
    assert reply["success"], reply
    return dict(reply["result"])


def without_created(view: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in view.items() if key != "created_at"}


def as_views(table: dict[str, Any]) -> list[dict[str, Any]]:
    """A table's rows as the views they stand for (but ``created_at``, which a table leaves out):
    what a group says looked up by its number, times from milliseconds."""
    found = []
    for row in table["entities"]:
        fields = dict(zip(table["columns"], row, strict=True))
        group = table["groups"][str(fields.pop("group"))]
        fields["updated_at"] = from_millis(fields.pop("updated_at_ms"))
        fields["last_changed"] = from_millis(fields.pop("last_changed_ms"))
        view = {**fields, **group}
        found.append({key: view[key] for key in FULL_KEYS if key != "created_at"})
    return found


def from_millis(millis: int) -> str:
    seconds, fraction = divmod(millis, 1000)
    return (
        datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        + f".{fraction:03d}+00:00"
    )


async def test_the_listing_is_every_view_encoded_and_the_twins_agree(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub, token, _ = await start(tmp_path, aiohttp_client)
    expected = decoded(await views(hub))
    assert len(expected) == 20
    assert any(view["parent_id"] and view["device_id"] for view in expected)
    assert any(view["actions"] and view["unit"] == "W" for view in expected)
    status, body = await hub.get("/api/entities", params={"limit": "10000"})
    assert status == 200
    assert body == {"entities": expected}
    # Key order too: a client that prints the answer sees the view's order.
    assert [list(view) for view in body["entities"]] == [list(view) for view in expected]
    ws = await socket(hub, token)
    assert await ws_list(ws, 1, limit=10000, form="views") == {"entities": expected}
    assert await ws_list(ws, 2, form="views") == {"entities": expected}  # the kept one
    table = await ws_list(ws, 3, limit=10000)
    assert as_views(table) == [without_created(view) for view in expected]
    assert all(isinstance(row, list) for row in table["entities"])
    assert len(json.dumps(table)) < 0.7 * len(json.dumps(expected))
    short = await ws_list(ws, 4, form="compact")
    assert short == {"a": {str(view["id"]): compact(view) for view in expected}}
    assert list(short["a"]) == [str(view["id"]) for view in expected]
    filtered = await ws_list(ws, 5, form="compact", category="diagnostic")
    assert [entity["n"] for entity in filtered["a"].values()] == ["Meter", "Meter"]
    assert await ws_list(ws, 6, domain="nothing", form="views") == {"entities": []}
    empty = await ws_list(ws, 7, domain="nothing")
    assert (empty["groups"], empty["entities"]) == ({}, [])
    assert await ws_list(ws, 8, domain="nothing", form="compact") == {"a": {}}
    await ws.send_json({"id": 9, "type": "subscribe_entities"})
    assert (await ws.receive_json(timeout=5))["success"]
    snapshot = await ws.receive_json(timeout=5)
    assert snapshot == {"id": 9, "type": "event", "event": short}
    await ws.send_json({"id": 10, "type": "entities/list", "form": "csv"})
    refused = await ws.receive_json(timeout=5)
    assert (refused["success"], refused["error"]["code"]) == (False, "bad_request")
    assert "form" in refused["error"]["message"]
    await ws.close()


async def test_a_kept_listing_never_outlives_a_write(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub, token, entry_id = await start(tmp_path, aiohttp_client)
    service = hub.app[ENTITIES]
    ws = await socket(hub, token)
    before = await ws_list(ws, 1, form="views")
    parent = next(v for v in before["entities"] if v["external_id"] == "odd-0")
    assert any(v["parent_id"] == parent["id"] for v in before["entities"])

    record = EntityStateRecord(entity_type="plain", external_id="odd-1", name="Renamed", state=7)
    await service.upsert(entry_id, "odd_values", record)
    after = await ws_list(ws, 2, form="views")
    assert after != before
    assert after == {"entities": decoded(await views(hub))}
    assert next(v for v in after["entities"] if v["external_id"] == "odd-1")["state"] == 7
    short = await ws_list(ws, 9, form="compact")
    assert short == {"a": {str(view["id"]): compact(view) for view in after["entities"]}}
    await service.upsert(entry_id, "odd_values", record.model_copy(update={"state": 8}))
    assert await ws_list(ws, 10, form="compact") != short
    table = await ws_list(ws, 11, form="table")
    assert as_views(table) == [without_created(v) for v in decoded(await views(hub))]
    assert next(v for v in as_views(table) if v["external_id"] == "odd-1")["state"] == 8
    status, body = await hub.get("/api/entities")
    assert (status, body) == (200, await ws_list(ws, 12, form="views"))

    # Deleting the parent unlinks the meter inside SQLite, with no change of its own.
    assert await service.remove(entry_id, "odd_values", "plain", "odd-0")
    unlinked = await ws_list(ws, 13, form="views")
    meter = next(v for v in unlinked["entities"] if v["entity_type"] == "meter")
    assert meter["parent_id"] is None
    assert unlinked == {"entities": decoded(await views(hub))}

    removed = await hub.client.delete(f"/api/config-entries/{entry_id}")
    assert removed.status == 200
    remaining = await ws_list(ws, 14, form="views")
    assert {v["domain"] for v in remaining["entities"]} == {"odd_shared"}
    # The table's groups are those of its entities: the removed entry's are gone with them.
    groups = (await ws_list(ws, 16))["groups"].values()
    assert {group["domain"] for group in groups} == {"odd_shared"}
    await ws.close()


async def test_a_kept_listing_is_only_for_who_may_see_it(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub, token, _ = await start(tmp_path, aiohttp_client)
    status, owners = await hub.get("/api/entities")
    assert status == 200
    assert len(owners["entities"]) == 20
    member = await hub.another_person("member", "a member's long passphrase")
    status, theirs = await hub.get("/api/entities", headers=member)
    assert status == 200
    assert {v["domain"] for v in theirs["entities"]} == {"odd_shared"}
    # The owner's table, kept, names groups the member may not see; the member's names none.
    owner_ws = await socket(hub, token)
    assert {g["domain"] for g in (await ws_list(owner_ws, 1))["groups"].values()} == {
        "odd_values",
        "odd_shared",
    }
    ws = await socket(hub, member["Authorization"].removeprefix("Bearer "))
    table = await ws_list(ws, 1)
    assert {g["domain"] for g in table["groups"].values()} == {"odd_shared"}
    assert as_views(table) == [without_created(v) for v in theirs["entities"]]
    await ws.close()
    await owner_ws.close()


def test_sqlite_writes_a_timestamp_as_the_views_do() -> None:
    conn = sqlite3.connect(":memory:")
    stamps = [0.0, 0.0005, 0.9995, 1.9999997, 1733357151.123456, 1733357151.9999999, 4102444800.5]
    stamps += [1733357151 + n / 7919 for n in range(2000)]
    sql = "SELECT " + _TIME.format(c="?1")
    for stamp in stamps:
        assert json.loads(conn.execute(sql, (stamp,)).fetchone()[0]) == iso_millis(stamp), stamp
    assert iso_millis(1733357151.123456) == "2024-12-05T00:05:51.123+00:00"
