"""The event log: batched writes, trimmed to its size, bounded data, drained on stop, read over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final, TypedDict

import pytest

from hub.agent.schema import AGENT_MIGRATIONS
from hub.core.bus import EventBus, EventType
from hub.core.database import CORE_MIGRATIONS, Database
from hub.entities.event_log import (
    MAX_DATA_BYTES,
    PACKED,
    EventLog,
    encode_data,
    pack_data,
    read_row_data,
    row_data,
    unpack_data,
)
from hub.entities.schema import (
    COMPACT_MIGRATIONS,
    ENTITY_MIGRATIONS,
    EVENT_LOG_MIGRATIONS,
)
from hub.entities.webhook_replays import REPLAY_MIGRATIONS

pytestmark = pytest.mark.usefixtures("no_lingering_tasks")

MIGRATIONS: Final = [
    *CORE_MIGRATIONS,
    *ENTITY_MIGRATIONS,
    *AGENT_MIGRATIONS,
    *EVENT_LOG_MIGRATIONS,
    *REPLAY_MIGRATIONS,
    *COMPACT_MIGRATIONS,
]


class CountData(TypedDict):
    """A sequence number."""

    n: int


class BlobData(TypedDict):
    """Anything at all."""

    blob: Any


EVENT_TICK: Final = EventType[CountData]("test.tick")
EVENT_TOCK: Final = EventType[CountData]("other.tock")
EVENT_BLOB: Final = EventType[BlobData]("test.blob")


class Env:
    """A database, a bus and a running event log over them."""

    def __init__(self, db: Database, bus: EventBus, log: EventLog) -> None:
        self.db = db
        self.bus = bus
        self.log = log

    async def rows(self) -> list[tuple[str, str, Any]]:
        """``(event_type, origin, data)`` of every stored event, oldest first."""
        found = await self.db.conn.execute_fetchall(
            "SELECT event_type, data FROM event_log ORDER BY id"
        )
        stored = [(kind, *read_row_data(data)) for kind, data in found]
        return [(kind, origin, json.loads(data)) for kind, origin, data in stored]


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    """A started event log of size 100; stopped, with the bus and database closed, afterwards."""
    db = Database(tmp_path / "hub.db", MIGRATIONS)
    await db.open()
    bus = EventBus()
    log = EventLog(db, bus, size=100)
    log.start()
    yield Env(db, bus, log)
    await log.stop()
    await bus.close()
    await db.close()


async def test_what_arrives_between_writes_is_one_transaction(env: Env) -> None:
    for n in range(50):
        env.bus.fire(EVENT_TICK, CountData(n=n), origin="integration.tracker")
    await env.log.flush()
    assert (env.log.batches, env.log.written) == (1, 50)
    for n in range(50, 60):
        env.bus.fire(EVENT_TICK, CountData(n=n))
    await env.log.flush()
    assert (env.log.batches, env.log.written) == (2, 60)
    rows = await env.rows()
    assert [data["n"] for _, _, data in rows] == list(range(60))
    assert rows[0] == ("test.tick", "integration.tracker", {"n": 0})
    assert rows[-1][1] == "hub"


async def test_the_table_keeps_only_the_newest_size_events(env: Env) -> None:
    for burst in range(5):
        for n in range(burst * 60, burst * 60 + 60):
            env.bus.fire(EVENT_TICK, CountData(n=n))
        await env.log.flush()
    rows = await env.rows()
    assert [data["n"] for _, _, data in rows] == list(range(200, 300))
    assert env.log.dropped == 0


async def test_a_smaller_size_trims_what_a_larger_one_kept(tmp_path: Path) -> None:
    db = Database(tmp_path / "hub.db", MIGRATIONS)
    await db.open()
    bus = EventBus()
    big = EventLog(db, bus, size=1000)
    big.start()
    for n in range(1000):
        bus.fire(EVENT_TICK, CountData(n=n))
    await big.stop()
    small = EventLog(db, bus, size=100)
    small.start()
    bus.fire(EVENT_TICK, CountData(n=1000))
    await small.flush()
    assert [e["data"]["n"] for e in await small.recent(1000)] == list(range(1000, 900, -1))
    await small.stop()
    await bus.close()
    await db.close()


async def test_recent_is_newest_first_and_filters_by_type(env: Env) -> None:
    env.bus.fire(EVENT_TICK, CountData(n=1))
    env.bus.fire(EVENT_TOCK, CountData(n=2))
    env.bus.fire(EVENT_TICK, CountData(n=3))
    await env.log.flush()
    recent = await env.log.recent(10)
    assert [e["data"]["n"] for e in recent] == [3, 2, 1]
    assert set(recent[0]) == {"id", "event_type", "origin", "data", "time_fired"}
    assert recent[0]["time_fired"].endswith("+00:00")
    assert [e["data"]["n"] for e in await env.log.recent(1)] == [3]
    assert [e["data"]["n"] for e in await env.log.recent(10, "test.tick")] == [3, 1]
    assert [e["data"]["n"] for e in await env.log.recent(10, "other.*")] == [2]
    assert [e["data"]["n"] for e in await env.log.recent(10, "*")] == [3, 2, 1]
    assert await env.log.recent(10, "test") == []


async def test_large_and_odd_data_is_stored_bounded(env: Env) -> None:
    env.bus.fire(EVENT_BLOB, BlobData(blob='é"' * 100_000))
    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    env.bus.fire(EVENT_BLOB, BlobData(blob=cycle))
    env.bus.fire(EVENT_BLOB, BlobData(blob={1, 2}))  # not JSON: written as its str()
    await env.log.flush()
    rows = await env.db.conn.execute_fetchall("SELECT data FROM event_log ORDER BY id")
    stored: list[str] = [read_row_data(row[0])[1] for row in rows]
    big, looped, odd = (json.loads(text) for text in stored)
    assert len(stored[0].encode()) <= MAX_DATA_BYTES
    assert big["_truncated"] is True
    assert big["bytes"] == len('{"blob":""}') + len('é\\"'.encode()) * 100_000
    assert big["prefix"].startswith('{"blob":"é\\"é')
    assert "_unserializable" in looped
    assert odd == {"blob": "{1, 2}"}


def test_encode_data_leaves_small_data_alone() -> None:
    assert encode_data({"a": [1, "ü"]}) == '{"a":[1,"ü"]}'
    many_escapes = encode_data({"x": "\x00" * MAX_DATA_BYTES})
    assert len(many_escapes.encode()) <= MAX_DATA_BYTES
    assert json.loads(many_escapes)["_truncated"] is True


async def test_stop_writes_what_is_still_queued(tmp_path: Path) -> None:
    db = Database(tmp_path / "hub.db", MIGRATIONS)
    await db.open()
    bus = EventBus()
    log = EventLog(db, bus, size=10_000)
    log.start()
    for n in range(1200):  # more than one write batch
        bus.fire(EVENT_TICK, CountData(n=n))
    await log.stop()
    await log.stop()  # twice is harmless
    await log.flush()  # and returns at once when stopped
    bus.fire(EVENT_TICK, CountData(n=-1))  # after stop: not recorded
    assert (log.written, log.dropped, log.failed) == (1200, 0, 0)
    rows = await db.conn.execute_fetchall("SELECT data FROM event_log ORDER BY id")
    assert [json.loads(read_row_data(row[0])[1])["n"] for row in rows] == list(range(1200))
    await bus.close()
    await db.close()


async def test_a_failed_write_is_counted_and_the_log_goes_on(env: Env) -> None:
    await env.db.conn.execute("ALTER TABLE event_log RENAME TO event_log_away")
    env.bus.fire(EVENT_TICK, CountData(n=1))
    await env.log.flush()
    assert env.log.failed == 1
    await env.db.conn.execute("ALTER TABLE event_log_away RENAME TO event_log")
    env.bus.fire(EVENT_TICK, CountData(n=2))
    await env.log.flush()
    assert [data["n"] for _, _, data in await env.rows()] == [2]


# HTTP


async def test_a_lone_surrogate_in_event_data_loses_no_event_of_its_batch(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    env.bus.fire(EVENT_TICK, CountData(n=1), origin="integration.a")
    env.bus.fire(EVENT_BLOB, BlobData(blob={"text": "from outside \ud800"}))
    env.bus.fire(EVENT_TICK, CountData(n=2), origin="integration.\udfff")
    env.bus.fire(EVENT_TICK, CountData(n=3), origin="integration.b")
    await env.log.flush()
    rows = await env.rows()
    assert rows == [
        ("test.tick", "integration.a", {"n": 1}),
        ("test.blob", "hub", {"blob": {"text": "from outside \ud800"}}),
        ("test.tick", "integration.b", {"n": 3}),
    ], "the data is kept escaped; only the event whose origin SQLite cannot take is dropped"
    assert (env.log.written, env.log.failed) == (3, 1)
    assert "lone surrogate" in caplog.text


def test_packed_data_reads_back_as_written() -> None:
    view = {"id": 7, "name": "Bench 7", "state": "7", "attributes": {"unit": "W"}, "actions": []}
    entity = {"entity_id": 7, "external_id": "bench_7", "old_state": None, "new_state": view}
    for data in (entity, {"n": 1}, {"blob": 'é"\u2028' * 500}, {"x": "\x00" * MAX_DATA_BYTES}):
        text = encode_data(data)
        stored = pack_data(text)
        assert unpack_data(stored) == text
        assert len(stored) <= len(text.encode())
    assert pack_data(encode_data(entity)).startswith(PACKED)
    assert pack_data('{"n":1}') == b'{"n":1}'  # short data is stored as it is
    assert unpack_data('{"n":1}') == '{"n":1}'  # as a row from before the migration may read
    assert json.loads(unpack_data(PACKED + b"not deflate"))["_unreadable"]
    for origin in ("hub", "integration.webhook", 'odd "\n" ü'):
        assert read_row_data(row_data(origin, encode_data(entity))) == (origin, encode_data(entity))


async def test_rows_from_before_the_blob_column_read_as_they_were(tmp_path: Path) -> None:
    db = Database(tmp_path / "hub.db", MIGRATIONS[: -len(COMPACT_MIGRATIONS)])
    await db.open()
    await db.conn.execute(
        "INSERT INTO event_log (event_type, origin, data, time_fired, audience) "
        "VALUES ('test.tick', 'test', '{\"n\":\"ü\"}', 1.0, '*')"
    )
    await db.close()
    db = Database(tmp_path / "hub.db", MIGRATIONS)
    await db.open()
    bus = EventBus()
    log = EventLog(db, bus, size=100)
    log.start()
    bus.fire(EVENT_TICK, CountData(n=2))
    await log.flush()
    assert [(e["origin"], e["data"]["n"]) for e in await log.recent(10)] == [
        ("hub", 2),
        ("test", "ü"),
    ]
    await log.stop()
    await bus.close()
    await db.close()


async def test_packed_events_are_read_back_through_recent(env: Env) -> None:
    blob = {"key": "value " * 50, "nested": [{"a": None, "b": True}] * 5}
    env.bus.fire(EVENT_BLOB, BlobData(blob=blob))
    await env.log.flush()
    rows = await env.db.conn.execute_fetchall("SELECT data FROM event_log")
    assert [bytes(row[0])[: len(PACKED)] for row in rows] == [PACKED]
    assert [e["data"] for e in await env.log.recent(10)] == [{"blob": blob}]


async def test_a_full_batch_is_written_without_waiting_to_gather_more(tmp_path: Path) -> None:
    # Waiting the gathering delay before every batch capped the log at 500 events a delay: a
    # busier hub (two events per webhook at 1,000 webhooks a second) lost the oldest.
    db = Database(tmp_path / "hub.db", MIGRATIONS)
    await db.open()
    bus = EventBus()
    log = EventLog(db, bus, size=10_000, delay=60.0)
    log.start()
    for n in range(1500):
        bus.fire(EVENT_TICK, CountData(n=n))
    await asyncio.wait_for(log.flush(), timeout=30.0)  # not 3 × 60 s
    assert (log.written, log.dropped) == (1500, 0)
    await log.stop()
    await db.close()
    await bus.close()
