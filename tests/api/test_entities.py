"""Entities over HTTP on a real hub: pull syncs, health, actions, webhooks, jobs."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from hub.api.state import BUS, CONFIG_ENTRIES
from hub.api.webhooks import sign
from tests.api.conftest import Hub, StartHub


async def add_station(hub: Hub) -> str:
    entry = await hub.app[CONFIG_ENTRIES].create(
        domain="station",
        title="Station",
        scope="global",
        owner=None,
        data={"url": hub.station_url},
        secrets={},
        version=1,
    )
    return entry.entry_id


async def entities(hub: Hub, **query: str) -> list[dict[str, Any]]:
    status, body = await hub.get("/api/entities", params=query)
    assert status == 200, body
    return list(body["entities"])


async def _has(hub: Hub, external_id: str) -> bool:
    return any(e["external_id"] == external_id for e in await entities(hub))


async def wait_for(predicate: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not await predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_a_pull_sync_runs_at_setup_and_on_demand(start_hub: StartHub) -> None:
    hub = await start_hub()
    entry_id = await add_station(hub)

    async def synced() -> bool:
        return any(
            e["entity_type"] == "temperature" for e in await entities(hub, entry_id=entry_id)
        )

    await wait_for(synced)
    [outside] = await entities(hub, entity_type="temperature")
    assert outside["state"] == 11.5
    assert (outside["unit"], outside["device_class"]) == ("°C", "temperature")

    hub.station.readings = [
        {"id": "out", "name": "Outside", "celsius": 12.0},
        {"id": "in", "name": "Inside", "celsius": 21.0},
    ]
    status, body = await hub.post(f"/api/config-entries/{entry_id}/sync")
    assert status == 200, body
    assert (body["sync"]["created"], body["sync"]["updated"]) == (1, 1)
    hub.station.readings = [{"id": "in", "name": "Inside", "celsius": 21.0}]
    status, body = await hub.post(f"/api/config-entries/{entry_id}/sync")
    assert (body["sync"]["deleted"], body["sync"]["unchanged"]) == (1, 1)
    _, entry = await hub.get(f"/api/config-entries/{entry_id}")
    assert entry["last_sync"]["deleted"] == 1
    assert entry["health"]["status"] == "ok"

    status, jobs = await hub.get("/api/jobs")
    job = next(j for j in jobs["jobs"] if j["name"] == f"sync:{entry_id}")
    assert job["runs"] >= 3
    assert job["next_run"] is not None


async def test_a_sync_is_skipped_while_health_is_error(start_hub: StartHub) -> None:
    hub = await start_hub()
    entry_id = await add_station(hub)
    await wait_for(lambda: _has_last_sync(hub, entry_id))
    hub.station.status = "down"
    before = hub.station.syncs
    _, body = await hub.post(f"/api/config-entries/{entry_id}/sync")
    assert body["sync"]["skipped"] == "health is error: station offline"
    assert hub.station.syncs == before, "no pull while the station is down"
    _, entry = await hub.get(f"/api/config-entries/{entry_id}")
    assert entry["health"] == {**entry["health"], "status": "error", "detail": "station offline"}


async def _has_last_sync(hub: Hub, entry_id: str) -> bool:
    _, entry = await hub.get(f"/api/config-entries/{entry_id}")
    return "last_sync" in entry


async def test_a_refused_sync_asks_for_reauth(start_hub: StartHub) -> None:
    hub = await start_hub()
    entry_id = await add_station(hub)
    await wait_for(lambda: _has_last_sync(hub, entry_id))
    hub.station.refuse = True
    await hub.post(f"/api/config-entries/{entry_id}/sync")
    _, entry = await hub.get(f"/api/config-entries/{entry_id}")
    assert entry["state"] == "reauth_required"
    assert entry["last_sync"]["error"] == "credentials refused: station refused the key"
    status, body = await hub.post(f"/api/config-entries/{entry_id}/sync")
    assert (status, body["error"]["code"]) == (409, "entry_not_loaded")


async def test_actions_only_as_declared_with_checked_args(start_hub: StartHub) -> None:
    hub = await start_hub()
    events = hub.app[BUS].subscribe("entity.updated")
    await add_station(hub)
    [switch] = await entities(hub, entity_type="switch")
    assert switch["state"] == "off", "seeded once by async_initial_entities"
    assert [a["name"] for a in switch["actions"]] == ["toggle", "set_level"]

    status, body = await hub.post(f"/api/entities/{switch['id']}/action", {"action": "toggle"})
    assert status == 200, body
    assert (body["entity"]["state"], body["message"]) == ("on", "Switched on")
    event = await asyncio.wait_for(events.get(), 5)
    assert (event.data["old_state"]["state"], event.data["new_state"]["state"]) == ("off", "on")

    status, body = await hub.post(f"/api/entities/{switch['id']}/action", {"action": "explode"})
    assert (status, body["error"]["code"]) == (400, "action_not_declared")
    for args, problem in (
        ({}, "level: required"),
        ({"level": "high"}, "level: must be a number"),
        ({"level": 1, "x": 2}, "x: not an argument"),
    ):
        status, body = await hub.post(
            f"/api/entities/{switch['id']}/action", {"action": "set_level", "args": args}
        )
        assert (status, body["error"]["code"]) == (400, "bad_request")
        assert problem in body["error"]["message"]
    status, body = await hub.post(
        f"/api/entities/{switch['id']}/action", {"action": "set_level", "args": {"level": 11}}
    )
    assert (status, body["error"]["code"]) == (400, "action_rejected")
    assert "level must be at most 10" in body["error"]["message"]
    status, body = await hub.post(
        f"/api/entities/{switch['id']}/action", {"action": "set_level", "args": {"level": 4}}
    )
    assert body["entity"]["attributes"] == {"level": 4}
    status, body = await hub.post("/api/entities/999999/action", {"action": "toggle"})
    assert (status, body["error"]["code"]) == (404, "entity_not_found")
    events.close()


async def test_webhooks_token_oracle_size_and_apply(start_hub: StartHub) -> None:
    hub = await start_hub(http={"webhook_max_body_kib": 1})
    entry_id = await add_station(hub)
    # The setup's full pull would delete a pushed entity it does not know: let it land first.
    await wait_for(lambda: _has(hub, "out"))
    _, info = await hub.get(f"/api/config-entries/{entry_id}/webhook")
    path = info["path"]

    ok = await hub.client.post(path, json={"id": "pool", "name": "Pool", "celsius": 24.5})
    assert ok.status == 200
    assert (await ok.json())["created"] == 1
    [pool] = [e for e in await entities(hub) if e["external_id"] == "pool"]
    assert pool["state"] == 24.5

    wrong = await hub.client.post(f"/webhooks/integration/{entry_id}?token=nope", json={})
    unknown = await hub.client.post("/webhooks/integration/nothing?token=nope", json={})
    assert wrong.status == unknown.status == 404
    assert await wrong.json() == await unknown.json(), "no oracle: the same answer"

    big = await hub.client.post(path, data=b"{" + b" " * 2048 + b"}")
    assert big.status == 413
    bad = await hub.client.post(path, json=["not", "an", "object"])
    assert bad.status == 400
    assert (await bad.json())["error"]["message"] == "body: needs an object with an id"
    broken = await hub.client.post(path, data=b"{broken")
    assert broken.status == 400


async def test_webhooks_are_rate_limited_per_entry(start_hub: StartHub) -> None:
    hub = await start_hub(http={"webhook_rate_per_second": 1, "webhook_burst": 3})
    entry_id = await add_station(hub)
    _, info = await hub.get(f"/api/config-entries/{entry_id}/webhook")
    statuses = [
        (await hub.client.post(info["path"], json={"id": f"s{i}"})).status for i in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]
    limited = await hub.client.post(info["path"], json={"id": "x"})
    assert int(limited.headers["Retry-After"]) >= 1


async def test_signed_webhooks_need_a_fresh_valid_signature(start_hub: StartHub) -> None:
    hub = await start_hub()
    entry_id = await add_station(hub)
    status, signing = await hub.post(
        f"/api/config-entries/{entry_id}/webhook/signing", {"enabled": True}
    )
    assert status == 200
    secret = signing["signing_secret"]
    _, info = await hub.get(f"/api/config-entries/{entry_id}/webhook")
    assert info["signed"] is True
    body = json.dumps({"id": "signed"}).encode()
    stamp = str(int(time.time()))

    unsigned = await hub.client.post(info["path"], data=body)
    assert unsigned.status == 401
    headers = {"X-Hub-Timestamp": stamp, "X-Hub-Signature": sign(secret, stamp, body)}
    good = await hub.client.post(info["path"], data=body, headers=headers)
    assert good.status == 200
    replay = await hub.client.post(info["path"], data=body, headers=headers)
    assert replay.status == 401
    assert "already received" in (await replay.json())["error"]["message"]
    old = str(int(time.time()) - 3600)
    stale = await hub.client.post(
        info["path"],
        data=body,
        headers={"X-Hub-Timestamp": old, "X-Hub-Signature": sign(secret, old, body)},
    )
    assert stale.status == 401
    tampered = await hub.client.post(
        info["path"],
        data=body + b" ",
        headers={"X-Hub-Timestamp": stamp, "X-Hub-Signature": sign(secret, stamp, body)},
    )
    assert tampered.status == 401
    _, shown = await hub.get(f"/api/config-entries/{entry_id}")
    assert "webhook_signing" not in shown, "not even its ciphertext goes to a client"
    stored = hub.config_dir / ".storage" / "core.config_entries"
    await hub.client.close()
    assert secret not in stored.read_text(), "the signing secret is stored encrypted"


async def test_removing_an_entry_removes_its_entities(start_hub: StartHub) -> None:
    hub = await start_hub()
    entry_id = await add_station(hub)
    assert await entities(hub, entry_id=entry_id)
    resp = await hub.client.delete(f"/api/config-entries/{entry_id}")
    assert resp.status == 200
    assert await entities(hub, entry_id=entry_id) == []


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"device_id": "x"}, "bad_request"),
        ({"visible": "maybe"}, "bad_request"),
        ({"limit": "0"}, "bad_request"),
    ],
)
async def test_bad_filters_are_typed_400s(
    start_hub: StartHub, query: dict[str, str], code: str
) -> None:
    hub = await start_hub()
    status, body = await hub.get("/api/entities", params=query)
    assert (status, body["error"]["code"]) == (400, code)


async def test_a_hanging_sync_is_cancelled_at_its_timeout_and_recorded(start_hub: StartHub) -> None:
    hub = await start_hub(scheduler={"job_timeout_seconds": 0.3})
    entry_id = await add_station(hub)
    await wait_for(lambda: _has_last_sync(hub, entry_id))
    hub.station.delay = 1.0
    status, body = await hub.post(f"/api/config-entries/{entry_id}/sync")
    assert status == 200
    assert body["sync"]["error"] == "timed out after 0.3 s"
    _, entry = await hub.get(f"/api/config-entries/{entry_id}")
    assert entry["state"] == "loaded", "a slow service is not a broken entry"

    async def drained() -> bool:  # let the fake finish its answer before the test ends
        return hub.station.in_flight == 0

    await wait_for(drained)
    hub.station.delay = 0


async def test_entities_filter_by_category(start_hub: StartHub) -> None:
    hub = await start_hub()
    await add_station(hub)
    assert len(await entities(hub, category="none")) >= 1
    assert await entities(hub, category="diagnostic") == []
