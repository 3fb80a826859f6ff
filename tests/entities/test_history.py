"""History: range reads, retention precedence, a purge in short batches that leaves the loop free."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from hub.api.history import parse_time
from hub.config import HistoryConfig
from hub.core.database import Database
from hub.core.errors import BadRequestError
from hub.core.scheduler import JobOutcome, Scheduler
from hub.entities.history import DAY, PURGE_JOB, History, Retention, resolve_retention
from hub.entities.service import EntityNotFoundError
from tests.entities.migrations import HUB_MIGRATIONS

pytestmark = pytest.mark.usefixtures("no_lingering_tasks")

NOW = 1_750_000_000.0
CONFIG = HistoryConfig(retention_days=10, entity_types={"tracker.task": 2})


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """An open ``hub.db`` with the entity schema."""
    database = Database(tmp_path / "hub.db", HUB_MIGRATIONS)
    await database.open()
    yield database
    await database.close()


async def add_entity(
    db: Database, entity_type: str = "project", *, domain: str = "tracker", days: int | None = None
) -> int:
    """Insert an entity row; returns its id."""
    cursor = await db.conn.execute(
        "INSERT INTO entities (entry_id, domain, entity_type, external_id, name, attributes, "
        "retention_days, content_hash, created_at, updated_at, last_changed) "
        "VALUES ('e1', ?, ?, lower(hex(randomblob(8))), 'thing', '{}', ?, '', 0, 0, 0)",
        (domain, entity_type, days),
    )
    entity_id = cursor.lastrowid
    await cursor.close()
    assert entity_id is not None
    return entity_id


async def add_history(db: Database, rows: Sequence[tuple[int, Any, float]]) -> None:
    """Insert ``(entity_id, state, changed_at)`` rows in one transaction."""
    encoded = [(e, None if s is None else json.dumps(s), t) for e, s, t in rows]
    await db.conn.execute("BEGIN")
    await db.conn.executemany(
        "INSERT INTO history (entity_id, state, changed_at) VALUES (?, ?, ?)", encoded
    )
    await db.conn.execute("COMMIT")


async def history_times(db: Database) -> dict[int, list[float]]:
    """Every history row's time, by entity."""
    found: dict[int, list[float]] = {}
    for entity_id, changed_at in await db.conn.execute_fetchall(
        "SELECT entity_id, changed_at FROM history ORDER BY entity_id, changed_at"
    ):
        found.setdefault(entity_id, []).append(changed_at)
    return found


# Reading


async def test_query_returns_the_range_oldest_first_with_states_decoded(db: Database) -> None:
    lamp, other = await add_entity(db), await add_entity(db)
    await add_history(
        db,
        [
            (lamp, {"on": True}, 30.0),
            (lamp, "off", 10.0),
            (lamp, None, 20.0),
            (lamp, 4.5, 40.0),
            (other, "elsewhere", 25.0),
        ],
    )
    history = History(db, CONFIG)
    assert await history.query(lamp, None, None, 100) == [
        (10.0, "off"),
        (20.0, None),
        (30.0, {"on": True}),
        (40.0, 4.5),
    ]
    # Both ends are inclusive.
    assert await history.query(lamp, 20.0, 30.0, 100) == [(20.0, None), (30.0, {"on": True})]
    assert await history.query(lamp, 25.0, None, 1) == [(30.0, {"on": True})]
    assert await history.query(lamp, None, 15.0, 100) == [(10.0, "off")]
    assert await history.query(lamp, 41.0, 50.0, 100) == []


async def test_query_of_an_unknown_entity_is_not_found(db: Database) -> None:
    with pytest.raises(EntityNotFoundError):
        await History(db, CONFIG).query(999, None, None, 10)
    with pytest.raises(BadRequestError):
        await History(db, CONFIG).query(1, None, None, 0)


# Retention


def test_retention_entity_overrides_type_overrides_default() -> None:
    assert resolve_retention(CONFIG, "tracker", "task", 30) == Retention(30, "entity", 30)
    assert resolve_retention(CONFIG, "tracker", "task", None) == Retention(2, "entity_type", None)
    assert resolve_retention(CONFIG, "tracker", "project", None) == Retention(10, "default", None)
    # The type key names the domain too: another integration's "task" is not covered.
    assert resolve_retention(CONFIG, "other", "task", None).source == "default"


async def test_set_entity_retention_and_clear_it(db: Database) -> None:
    task = await add_entity(db, "task")
    history = History(db, CONFIG)
    assert await history.retention(task) == Retention(2, "entity_type", None)
    assert await history.set_entity_retention(task, 90) == Retention(90, "entity", 90)
    assert await history.retention(task) == Retention(90, "entity", 90)
    assert await history.set_entity_retention(task, None) == Retention(2, "entity_type", None)
    with pytest.raises(BadRequestError, match="days must be from 1"):
        await history.set_entity_retention(task, 0)
    with pytest.raises(EntityNotFoundError):
        await history.set_entity_retention(task + 1, 5)
    with pytest.raises(EntityNotFoundError):
        await history.retention(task + 1)


# Purging


async def test_purge_deletes_exactly_what_is_expired(db: Database) -> None:
    project = await add_entity(db, "project")  # the default: 10 days
    task = await add_entity(db, "task")  # its type: 2 days
    kept_long = await add_entity(db, "task", days=30)  # its own: 30 days
    ages = [0.5, 1.9, 2.1, 9.9, 10.1, 29.9, 30.1, 400]
    await add_history(
        db, [(e, "x", NOW - age * DAY) for e in (project, task, kept_long) for age in ages]
    )
    # Exactly at the cutoff is kept: only strictly older rows expire.
    await add_history(db, [(project, "edge", NOW - 10 * DAY)])
    history = History(db, CONFIG)

    deleted = await history.purge(now=NOW)

    def kept(*days: float) -> list[float]:
        return sorted(NOW - age * DAY for age in days)

    assert await history_times(db) == {
        project: kept(0.5, 1.9, 2.1, 9.9, 10),
        task: kept(0.5, 1.9),
        kept_long: kept(0.5, 1.9, 2.1, 9.9, 10.1, 29.9),
    }
    assert deleted == 4 + 6 + 2
    assert await history.purge(now=NOW) == 0


async def test_a_later_purge_reads_on_from_where_the_last_ended(db: Database) -> None:
    entity = await add_entity(db, days=30)
    await add_history(db, [(entity, age, NOW - age * DAY) for age in (5, 20, 40)])
    history = History(db, CONFIG)
    assert await history.purge(now=NOW) == 1
    # One row per transaction: the sweep reads on from the last cutoff, so not the rows it kept.
    assert await history.purge(now=NOW + 60, batch_size=1) == 0
    assert history.last_purge is not None
    assert history.last_purge.batches == 2  # an empty sweep, and the entity's own pass
    # Back on the default (10 days): its 20-day-old row, behind the sweep, goes too.
    await history.set_entity_retention(entity, None)
    assert await history.purge(now=NOW + 120) == 1
    assert [s for _, s in await history.query(entity, None, None, 10)] == [5]


async def test_purge_works_in_batches_of_at_most_batch_size(db: Database) -> None:
    entities = [await add_entity(db) for _ in range(3)]
    await add_history(
        db, [(e, i, NOW - 20 * DAY + i) for e in entities for i in range(1500)]
    )  # 4500 expired rows
    await add_history(db, [(e, "new", NOW) for e in entities])
    history = History(db, CONFIG)

    deleted = await history.purge(batch_size=1000, now=NOW, max_batch_seconds=60)

    assert deleted == 4500
    report = history.last_purge
    assert report is not None
    # Transactions of at most 1000 rows: 500-row statements, moving on when an entity is done.
    assert (report.rows, report.batches, report.max_batch_rows) == (4500, 5, 1000)
    assert history.batches == 5
    assert {e: len(times) for e, times in (await history_times(db)).items()} == dict.fromkeys(
        entities, 1
    )


async def test_purge_ends_a_transaction_when_its_time_is_spent(db: Database) -> None:
    entity = await add_entity(db)
    await add_history(db, [(entity, i, NOW - 20 * DAY + i) for i in range(2000)])
    history = History(db, CONFIG)
    # No time at all: each transaction runs one statement of at most 500 rows.
    assert await history.purge(batch_size=100_000, now=NOW, max_batch_seconds=0) == 2000
    assert history.last_purge is not None
    assert history.last_purge.batches >= 4


async def test_purge_leaves_the_event_loop_free(db: Database) -> None:
    # Mostly the default retention (the sweep in time order), a few of their own (entity by entity).
    entities = [await add_entity(db, days=1 if i % 5 == 0 else None) for i in range(20)]
    rows = 200_000
    await add_history(db, [(entities[i % 20], i, NOW - 15 * DAY + i / 1000) for i in range(rows)])
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    try:
        deleted = await History(db, CONFIG).purge(now=NOW)
    finally:
        done.set()
        await ticker
    assert deleted == rows
    assert await history_times(db) == {}
    # 200 ms is generous for a loaded CI machine; tests/bench/purge.py reports the real figure.
    assert max(gaps) < 0.2, f"the loop was blocked for {max(gaps) * 1000:.0f} ms"


async def test_the_purge_job_is_scheduled_and_runs(db: Database) -> None:
    entity = await add_entity(db)
    await add_history(db, [(entity, "old", time.time() - 11 * DAY), (entity, "new", time.time())])
    history = History(db, HistoryConfig(purge_interval_minutes=15))
    scheduler = Scheduler()
    history.schedule(scheduler)
    assert scheduler.job_names() == [PURGE_JOB]
    assert await scheduler.run_job_now(PURGE_JOB) == JobOutcome.SUCCEEDED
    assert len((await history_times(db))[entity]) == 1
    await scheduler.stop()


# Size


async def test_database_size_reports_files_pages_and_rows(db: Database) -> None:
    entity = await add_entity(db)
    await add_history(db, [(entity, i, float(i)) for i in range(300)])
    size = await History(db, CONFIG).database_size()
    assert size["file_bytes"] > 0
    assert size["wal_bytes"] > 0  # nothing checkpointed yet
    assert size["total_bytes"] == size["file_bytes"] + size["wal_bytes"] + size["shm_bytes"]
    assert size["page_count"] * size["page_size"] == size["used_bytes"] + size["free_bytes"]
    assert size["rows"]["history"] == 300
    assert size["rows"]["entities"] == 1
    assert size["rows"]["event_log"] == 0
    assert size["rows"]["entity_search"] == 0
    assert not any(name.startswith("entity_search_") for name in size["rows"])


def test_parse_time_reads_unix_and_iso() -> None:
    assert parse_time("1700000000.5") == 1_700_000_000.5
    assert parse_time("2023-11-14T22:13:20Z") == 1_700_000_000.0
    assert parse_time("2023-11-14T23:13:20+01:00") == 1_700_000_000.0
    assert parse_time("2023-11-14 22:13:20") == 1_700_000_000.0  # no offset: UTC
    for bad in ("", "inf", "-1", "2023-13-01", "99999999999999"):
        with pytest.raises(ValueError):  # noqa: PT011  # the message is not the point
            parse_time(bad)
