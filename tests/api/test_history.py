"""History over HTTP: ranges, the state that held at the start, buckets, and typed 400s."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from hub.api.state import DATABASE
from tests.api.conftest import Hub, StartHub
from tests.api.test_entities import add_station, entities, wait_for

MINUTE = 60.0
DAY = 86_400.0


async def station_entity(hub: Hub) -> int:
    """The id of a synced station temperature, its history emptied for the test to fill."""
    entry_id = await add_station(hub)

    async def synced() -> bool:
        return bool(await entities(hub, entry_id=entry_id, entity_type="temperature"))

    await wait_for(synced)
    [outside, *_] = await entities(hub, entry_id=entry_id, entity_type="temperature")
    entity_id = int(outside["id"])
    db = hub.app[DATABASE]
    await db.conn.execute("DELETE FROM history WHERE entity_id = ?", (entity_id,))
    await db.conn.commit()
    return entity_id


async def add_rows(hub: Hub, entity_id: int, rows: list[tuple[Any, float]]) -> None:
    """Insert ``(state, changed_at)`` history rows for one entity."""
    db = hub.app[DATABASE]
    await db.conn.executemany(
        "INSERT INTO history (entity_id, state, changed_at) VALUES (?, ?, ?)",
        [(entity_id, json.dumps(state), at) for state, at in rows],
    )
    await db.conn.commit()


async def test_buckets_summarize_a_month_of_minute_readings(start_hub: StartHub) -> None:
    hub = await start_hub()
    entity_id = await station_entity(hub)
    end = float(int(time.time()))
    start = end - 30 * DAY
    # A reading every minute for 30 days, one spike, and a reading from before the range.
    readings: list[tuple[float, float]] = [
        (20 + (i % 8), start + i * MINUTE) for i in range(43_200)
    ]
    readings[1000] = (99.5, readings[1000][1])
    await add_rows(hub, entity_id, [(7, start - 5 * DAY), *readings])

    status, raw = await hub.get(
        f"/api/entities/{entity_id}/history", params={"start": str(start), "end": str(end)}
    )
    assert status == 200, raw
    assert raw["truncated"] is True
    assert len(raw["history"]) == 1000
    assert raw["previous"]["state"] == 7

    began = time.perf_counter()
    status, body = await hub.get(
        f"/api/entities/{entity_id}/history",
        params={"start": str(start), "end": str(end), "buckets": "600"},
    )
    seconds = time.perf_counter() - began
    assert status == 200, body
    print(f"43,200 rows into 600 buckets over HTTP: {seconds * 1000:.0f} ms")
    assert "history" not in body
    assert body["bucket_seconds"] == 30 * DAY / 600
    assert body["previous"] == {"state": 7, "changed_at": _iso(start - 5 * DAY)}
    buckets = body["buckets"]
    assert len(buckets) == 600
    assert sum(b["count"] for b in buckets) == 43_200
    first = buckets[0]
    assert first["count"] == 72  # 72 minutes per bucket
    assert (first["min"], first["max"], first["mean"]) == (20, 27, 23.5)
    assert first["state"] == 20 + 71 % 8  # the last reading of the bucket, with its time
    assert first["changed_at"] == _iso(start + 71 * MINUTE)
    spike = buckets[1000 // 72]
    assert spike["max"] == 99.5
    assert max(b["max"] for b in buckets) == 99.5


async def test_buckets_of_text_states_carry_the_last_state_without_numbers(
    start_hub: StartHub,
) -> None:
    hub = await start_hub()
    entity_id = await station_entity(hub)
    start = 1_750_000_000.0
    await add_rows(hub, entity_id, [("on", start + 10), ("off", start + 20), ("on", start + 400)])

    status, body = await hub.get(
        f"/api/entities/{entity_id}/history",
        params={"start": str(start), "end": str(start + 600), "buckets": "6"},
    )
    assert status == 200, body
    assert body["previous"] is None
    assert body["buckets"] == [
        {
            "start": _iso(start),
            "end": _iso(start + 100),
            "count": 2,
            "changed_at": _iso(start + 20),
            "state": "off",
        },
        {
            "start": _iso(start + 400),
            "end": _iso(start + 500),
            "count": 1,
            "changed_at": _iso(start + 400),
            "state": "on",
        },
    ]


async def test_bad_history_parameters_are_typed_400s_in_the_persons_language(
    start_hub: StartHub,
) -> None:
    hub = await start_hub()
    entity_id = await station_entity(hub)
    path = f"/api/entities/{entity_id}/history"
    for query, key in (
        ({"buckets": "0"}, "errors.history_buckets_invalid"),
        ({"buckets": "1001"}, "errors.history_buckets_invalid"),
        ({"buckets": "ten"}, "errors.history_buckets_invalid"),
        ({"buckets": "-5"}, "errors.history_buckets_invalid"),
        ({"start": "yesterday"}, "errors.history_time_invalid"),
        ({"start": "2024-05-02T00:00:00Z", "end": "2024-05-01"}, "errors.history_range_reversed"),
    ):
        status, body = await hub.get(path, params=query)
        assert status == 400, (query, body)
        assert body["error"]["code"] == "bad_request"
        assert body["error"]["key"] == key, body

    german = {"Accept-Language": "de"}
    status, body = await hub.get(path, params={"buckets": "0"}, headers=german)
    assert status == 400
    assert body["error"]["message"] == "buckets muss eine ganze Zahl von 1 bis 1000 sein, nicht 0."
    status, body = await hub.get(path, params={"start": "gestern"}, headers=german)
    assert body["error"]["message"].startswith("start=gestern ist keine Zeit")
    status, body = await hub.get(
        path, params={"start": "2024-05-02T00:00:00Z", "end": "2024-05-01"}, headers=german
    )
    assert body["error"]["message"] == (
        "Der Anfang (2024-05-02T00:00:00.000+00:00) liegt nach dem Ende "
        "(2024-05-01T00:00:00.000+00:00)."
    )


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")
