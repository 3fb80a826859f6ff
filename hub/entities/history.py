"""State history: reads over a time range, retention by entity, type or default, a batched purge."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Final, Literal

from hub.config import HistoryConfig
from hub.core.database import Database
from hub.core.errors import BadRequestError
from hub.core.scheduler import Scheduler
from hub.entities.history_buckets import MAX_BUCKETS, Bucket, select_before, select_buckets
from hub.entities.service import EntityNotFoundError

_LOGGER = logging.getLogger(__name__)

PURGE_JOB: Final = "purge:history"
DAY: Final = 86_400.0
MAX_RETENTION_DAYS: Final = 3650
DEFAULT_BATCH_SIZE: Final = 2000
BATCH_SECONDS: Final = 0.02
"""Time budget of one purge transaction: other database work waits behind it on the one thread."""
_CHUNK: Final = 500
"""Rows per DELETE statement, so the time budget is checked often within a transaction."""

_SWEEP: Final = (
    "SELECT id, entity_id, changed_at FROM history "
    "WHERE (changed_at, id) > (?, ?) AND changed_at < ? ORDER BY changed_at, id LIMIT ?"
)
_DELETE_EXPIRED: Final = (
    "DELETE FROM history WHERE id IN (SELECT id FROM history "
    "WHERE entity_id = ? AND changed_at < ? ORDER BY changed_at LIMIT ?)"
)

RetentionSource = Literal["entity", "entity_type", "default"]


@dataclass(frozen=True, slots=True)
class Retention:
    """How long an entity's history is kept, and which setting decided it."""

    days: int
    source: RetentionSource
    entity_days: int | None

    def as_dict(self) -> dict[str, Any]:
        """The JSON the API answers."""
        return {"days": self.days, "source": self.source, "entity_days": self.entity_days}


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What one purge did; ``max_batch_seconds`` is the longest the database thread was held."""

    rows: int
    batches: int
    seconds: float
    max_batch_seconds: float
    max_batch_rows: int


def resolve_retention(
    config: HistoryConfig, domain: str, entity_type: str, entity_days: int | None
) -> Retention:
    """The entity's own days, else its ``<domain>.<entity_type>`` days, else the default."""
    if entity_days is not None:
        return Retention(entity_days, "entity", entity_days)
    by_type = config.entity_types.get(f"{domain}.{entity_type}")
    if by_type is not None:
        return Retention(by_type, "entity_type", None)
    return Retention(config.retention_days, "default", None)


class History:
    """Reads and purges the ``history`` table; every statement runs on the database's thread."""

    def __init__(self, database: Database, config: HistoryConfig) -> None:
        self._db = database
        self._config = config
        self.batches = 0
        """Purge transactions committed since start (for diagnostics and tests)."""
        self.last_purge: PurgeReport | None = None
        self._swept_to: float | None = None
        """Rows of default-retention entities older than this are gone (in memory: a restart, which
        a change of configuration needs, sweeps from the oldest row once)."""
        self._retention_changes = 0

    async def query(
        self, entity_id: int, start: float | None, end: float | None, limit: int
    ) -> list[tuple[float, Any]]:
        """``(changed_at, state)`` of one entity, oldest first, ``start <= changed_at <= end``."""
        if limit < 1:
            raise BadRequestError(f"limit must be at least 1, got {limit}")
        rows = await self._db.run(
            partial(_select_history, entity_id=entity_id, start=start, end=end, limit=limit)
        )
        if rows is None:
            raise EntityNotFoundError(f"no entity {entity_id}")
        return rows

    async def summary(
        self, entity_id: int, start: float, end: float, buckets: int
    ) -> tuple[list[Bucket], tuple[float, Any] | None]:
        """``[start, end]`` in ``buckets`` equal slices (the empty ones left out), and the state
        that held at ``start``: ``(changed_at, state)`` of the last change before it, if any."""
        if not 1 <= buckets <= MAX_BUCKETS:
            raise BadRequestError(f"buckets must be from 1 to {MAX_BUCKETS}, got {buckets}")
        result = await self._db.run(
            partial(_select_summary, entity_id=entity_id, start=start, end=end, buckets=buckets)
        )
        if result is None:
            raise EntityNotFoundError(f"no entity {entity_id}")
        return result

    async def before(self, entity_id: int, start: float) -> tuple[float, Any] | None:
        """``(changed_at, state)`` of the entity's last change before ``start``, if any."""
        return await self._db.run(partial(select_before, entity_id=entity_id, start=start))

    async def retention(self, entity_id: int) -> Retention:
        """The retention that applies to an entity now."""
        rows = await self._db.conn.execute_fetchall(
            "SELECT domain, entity_type, retention_days FROM entities WHERE id = ?", (entity_id,)
        )
        if not rows:
            raise EntityNotFoundError(f"no entity {entity_id}")
        domain, entity_type, days = next(iter(rows))
        return resolve_retention(self._config, domain, entity_type, days)

    async def set_entity_retention(self, entity_id: int, days: int | None) -> Retention:
        """Set (or with ``None`` clear) an entity's own retention; returns what now applies."""
        if days is not None and not 1 <= days <= MAX_RETENTION_DAYS:
            raise BadRequestError(f"days must be from 1 to {MAX_RETENTION_DAYS}, got {days}")

        def update(conn: sqlite3.Connection) -> int:
            # Autocommit: one UPDATE is its own transaction.
            sql = "UPDATE entities SET retention_days = ? WHERE id = ?"
            return conn.execute(sql, (days, entity_id)).rowcount

        # Through ``run``, so a full or read-only disk answers its typed error.
        changed = await self._db.run(update)
        if changed == 0:
            raise EntityNotFoundError(f"no entity {entity_id}")
        # The entity may now be on the default retention with rows behind the sweep: sweep it all.
        self._swept_to = None
        self._retention_changes += 1
        return await self.retention(entity_id)

    async def purge(
        self,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        now: float | None = None,
        max_batch_seconds: float = BATCH_SECONDS,
    ) -> int:
        """Delete expired history in short transactions, yielding between them; returns rows deleted.

        A transaction stops after ``batch_size`` rows or ``max_batch_seconds``, whichever comes first,
        so the entity writer and API reads queued behind it on the database thread never wait long.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        started = time.perf_counter()
        now = time.time() if now is None else now
        changes = self._retention_changes
        state = await self._db.run(partial(_plan, config=self._config, now=now))
        if self._swept_to is not None:
            # Older rows of default-retention entities went in an earlier purge: sweep on from there.
            state.after = (self._swept_to, 0)
        rows = batches = most = 0
        longest = 0.0
        while not state.done:
            batch_started = time.perf_counter()
            deleted = await self._db.run(
                partial(_purge_batch, state=state, batch_size=batch_size, budget=max_batch_seconds)
            )
            rows += deleted
            most = max(most, deleted)
            longest = max(longest, time.perf_counter() - batch_started)
            batches += 1
            self.batches += 1
            # Let everything that queued up meanwhile (syncs, HTTP reads) run before the next batch.
            await asyncio.sleep(0)
        if changes == self._retention_changes:  # else the plan is stale: sweep all next time
            self._swept_to = max(self._swept_to or state.default_cutoff, state.default_cutoff)
        self.last_purge = PurgeReport(rows, batches, time.perf_counter() - started, longest, most)
        return rows

    async def database_size(self) -> dict[str, Any]:
        """Bytes on disk (database, WAL), pages in use and free, and rows per table."""
        report = await self._db.run(partial(_measure_files, path=str(self._db.path)))
        rows: dict[str, int] = {}
        # One round trip per table: a count of a million rows should not hold up other work twice.
        for table in report.pop("tables"):
            rows[table] = await self._db.run(partial(_count, table=table))
        report["rows"] = rows
        return report

    def schedule(self, scheduler: Scheduler) -> None:
        """Add the ``purge:history`` job, every ``purge_interval_minutes``."""
        seconds = self._config.purge_interval_minutes * 60.0
        scheduler.add_interval_job(
            PURGE_JOB,
            self._purge_job,
            seconds=seconds,
            jitter=min(60.0, seconds / 10),
            # A first purge after a long downtime may take minutes on a Pi; a cancelled run loses
            # nothing (each batch committed on its own), and the next run carries on.
            timeout=seconds,
        )

    async def _purge_job(self) -> None:
        rows = await self.purge()
        report = self.last_purge
        if rows and report is not None:
            _LOGGER.info(
                "Purged %d history row(s) in %d batch(es), %.1f s (longest batch %.1f ms)",
                rows,
                report.batches,
                report.seconds,
                report.max_batch_seconds * 1000,
            )


@dataclass(slots=True)
class _PurgeState:
    """Where a purge is, shared by its batches (each runs alone on the database thread)."""

    default_cutoff: float
    cutoffs: dict[int, float]
    """Entities whose retention is not the default, and the time their history is kept from."""
    overrides: list[tuple[int, float]]
    after: tuple[float, int] = (-math.inf, 0)
    """The sweep's position in ``history_by_time``: the last ``(changed_at, id)`` it has seen."""
    swept: bool = False
    overrides_done: int = 0

    @property
    def done(self) -> bool:
        """Whether both passes are finished."""
        return self.swept and self.overrides_done >= len(self.overrides)


def _plan(conn: sqlite3.Connection, config: HistoryConfig, now: float) -> _PurgeState:
    default_cutoff = now - config.retention_days * DAY
    cutoffs = {}
    for entity_id, domain, entity_type, days in conn.execute(
        "SELECT id, domain, entity_type, retention_days FROM entities ORDER BY id"
    ):
        cutoff = now - resolve_retention(config, domain, entity_type, days).days * DAY
        if cutoff != default_cutoff:
            cutoffs[int(entity_id)] = cutoff
    return _PurgeState(default_cutoff, cutoffs, list(cutoffs.items()))


def _purge_batch(
    conn: sqlite3.Connection, state: _PurgeState, batch_size: int, budget: float
) -> int:
    """One transaction of the sweep, or of the pass over entities with their own retention."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not state.swept:
            deleted, commit = _sweep(conn, state, batch_size, time.perf_counter() + budget)
        else:
            deleted, commit = _overrides(conn, state, batch_size, time.perf_counter() + budget)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    commit()  # the position moves only once committed, so a failed batch is never skipped
    return deleted


def _sweep(
    conn: sqlite3.Connection, state: _PurgeState, batch_size: int, deadline: float
) -> tuple[int, Callable[[], None]]:
    """Oldest rows first, along history_by_time, up to the default cutoff.

    History is written in time order, so the oldest rows of every entity share pages: deleting in
    time order dirties a few pages per batch, where entity by entity would touch one page per row.
    Rows of entities kept longer are passed over (the sweep goes on from its position, so each is
    read once); rows of entities kept shorter are old enough to go too.
    """
    after, seen, deleted, swept = state.after, 0, 0, False
    while seen < batch_size:
        want = min(_CHUNK, batch_size - seen)
        rows = conn.execute(_SWEEP, (*after, state.default_cutoff, want)).fetchall()
        expired = [
            (row_id,)
            for row_id, entity_id, changed_at in rows
            if changed_at < state.cutoffs.get(entity_id, state.default_cutoff)
        ]
        conn.executemany("DELETE FROM history WHERE id = ?", expired)
        seen += len(rows)
        deleted += len(expired)
        if rows:
            after = (rows[-1][2], rows[-1][0])
        if len(rows) < want:
            swept = True
            break
        if time.perf_counter() >= deadline:
            break

    def commit() -> None:
        state.after, state.swept = after, swept

    return deleted, commit


def _overrides(
    conn: sqlite3.Connection, state: _PurgeState, batch_size: int, deadline: float
) -> tuple[int, Callable[[], None]]:
    """Entity by entity along history_by_entity, for the few whose retention is not the default."""
    index, deleted = state.overrides_done, 0
    while index < len(state.overrides) and deleted < batch_size:
        entity_id, cutoff = state.overrides[index]
        want = min(_CHUNK, batch_size - deleted)
        count = conn.execute(_DELETE_EXPIRED, (entity_id, cutoff, want)).rowcount
        deleted += count
        if count < want:
            index += 1
        if time.perf_counter() >= deadline:
            break

    def commit() -> None:
        state.overrides_done = index

    return deleted, commit


def _select_history(
    conn: sqlite3.Connection,
    entity_id: int,
    start: float | None,
    end: float | None,
    limit: int,
) -> list[tuple[float, Any]] | None:
    if conn.execute("SELECT 1 FROM entities WHERE id = ?", (entity_id,)).fetchone() is None:
        return None
    sql = "SELECT changed_at, state FROM history WHERE entity_id = ?"
    params: list[Any] = [entity_id]
    if start is not None:
        sql += " AND changed_at >= ?"
        params.append(start)
    if end is not None:
        sql += " AND changed_at <= ?"
        params.append(end)
    params.append(limit)
    # Decoded here, on the database thread: thousands of states would otherwise hold up the loop.
    return [
        (float(changed_at), None if state is None else json.loads(state))
        for changed_at, state in conn.execute(f"{sql} ORDER BY changed_at, id LIMIT ?", params)
    ]


def _select_summary(
    conn: sqlite3.Connection, entity_id: int, start: float, end: float, buckets: int
) -> tuple[list[Bucket], tuple[float, Any] | None] | None:
    if conn.execute("SELECT 1 FROM entities WHERE id = ?", (entity_id,)).fetchone() is None:
        return None
    before = select_before(conn, entity_id, start)
    return select_buckets(conn, entity_id, start, end, buckets), before


def _measure_files(conn: sqlite3.Connection, path: str) -> dict[str, Any]:
    files = {}
    for name, suffix in (("file_bytes", ""), ("wal_bytes", "-wal"), ("shm_bytes", "-shm")):
        try:
            files[name] = os.stat(path + suffix).st_size
        except FileNotFoundError:
            files[name] = 0
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    page_count = int(conn.execute("PRAGMA page_count").fetchone()[0])
    freelist = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    schema = conn.execute(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
        "ESCAPE '\\' ORDER BY name"
    ).fetchall()
    virtual = [name for name, sql in schema if sql and sql.upper().startswith("CREATE VIRTUAL")]
    # A full-text table's shadow tables (entity_search_data, ...) are counted as the table itself.
    tables = [name for name, _ in schema if not any(name.startswith(f"{v}_") for v in virtual)]
    return {
        **files,
        "total_bytes": sum(files.values()),
        "page_size": page_size,
        "page_count": page_count,
        "freelist_count": freelist,
        "used_bytes": (page_count - freelist) * page_size,
        "free_bytes": freelist * page_size,
        "tables": tables,
    }


def _count(conn: sqlite3.Connection, table: str) -> int:
    quoted = '"' + table.replace('"', '""') + '"'
    return int(conn.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0])
