"""The run history: every workflow run as a record in ``hub.db``, written in batches, pruned by age and count.

A run is recorded when it starts and again when it ends; both go through one queue that a flush
writes in one transaction (every ``FLUSH_DELAY`` seconds, at ``FLUSH_ROWS`` rows, and on close), so
a run never waits for the disk before its first action. Reads flush first. The last fire time of
each schedule trigger is kept here too, so a start after downtime can count what it missed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from hub.core.database import Database
from hub.core.disk import DiskFaultError
from hub.core.errors import BadRequestError

if TYPE_CHECKING:
    from hub.config import WorkflowsConfig
    from hub.core.scheduler import Scheduler

_LOGGER = logging.getLogger(__name__)

RUN_MIGRATIONS: Final[tuple[str, ...]] = (
    """
    CREATE TABLE workflow_runs (
        id TEXT PRIMARY KEY,
        workflow_id TEXT NOT NULL,
        started_at REAL NOT NULL,
        status TEXT NOT NULL,
        summary TEXT NOT NULL,
        detail TEXT NOT NULL
    ) STRICT;
    CREATE INDEX workflow_runs_by_workflow ON workflow_runs (workflow_id, started_at, id);
    CREATE INDEX workflow_runs_by_age ON workflow_runs (started_at);
    CREATE TABLE workflow_schedule_fires (
        workflow_id TEXT NOT NULL,
        trigger_index INTEGER NOT NULL,
        spec TEXT NOT NULL,
        fired_at REAL NOT NULL,
        PRIMARY KEY (workflow_id, trigger_index)
    ) STRICT;
    """,
)
"""Appended after every other migration in ``app.py``; never edit a released one."""

FLUSH_DELAY: Final = 0.25
"""Seconds records gather before they are written together."""
FLUSH_ROWS: Final = 500
"""Records after which a flush starts at once, and rows one transaction takes."""
MAX_DETAIL_CHARS: Final = 512 * 1024
"""A run's steps as stored; beyond it, step inputs and results are replaced by a marker."""
PAGE_MAX: Final = 200
PRUNE_JOB: Final = "prune:workflow_runs"
PRUNE_INTERVAL: Final = 3600.0
_DETAIL_KEYS: Final = ("conditions", "steps")

Fire = tuple[str, int, str, float]
"""A schedule trigger's last fire: workflow id, trigger index, its spec, when (epoch seconds)."""


class RunLog:
    """Run records of every workflow: ``record`` queues, the rest reads or deletes."""

    def __init__(
        self,
        database: Database,
        config: WorkflowsConfig,
        *,
        delay: float = FLUSH_DELAY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = database
        self._config = config
        self._delay = delay
        self._clock = clock
        self._pending: dict[str, Mapping[str, Any]] = {}
        self._fires: dict[tuple[str, int], Fire] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._writing: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.failed = 0
        """Records lost because their batch could not be written."""

    # Writing

    def record(self, run: Mapping[str, Any]) -> None:
        """Queue ``run`` (the contract's run record) to be written; a later record of the same run
        replaces it. The dict is read when the batch is written, so it may still change until then."""
        self._pending[str(run["id"])] = run
        self._soon()

    def note_fire(self, workflow_id: str, index: int, spec: str, fired_at: float) -> None:
        """Remember that a schedule trigger fired (or was armed) at ``fired_at``."""
        self._fires[(workflow_id, index)] = (workflow_id, index, spec, fired_at)
        self._soon()

    def _soon(self) -> None:
        if len(self._pending) + len(self._fires) >= FLUSH_ROWS:
            self._start_flush()
        elif self._timer is None and self._writing is None:
            self._timer = asyncio.get_running_loop().call_later(self._delay, self._start_flush)

    def _start_flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writing is None:
            self._writing = asyncio.get_running_loop().create_task(
                self._flush_all(), name="workflow run log writer"
            )

    async def flush(self) -> None:
        """Write every record queued so far."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        writing = self._writing
        if writing is not None:
            await asyncio.shield(writing)
        await self._flush_all()

    async def close(self) -> None:
        """Write what is queued; nothing is scheduled afterwards until the next ``record``."""
        await self.flush()

    async def _flush_all(self) -> None:
        try:
            async with self._lock:
                while self._pending or self._fires:
                    await self._write_batch()
        finally:
            if self._writing is asyncio.current_task():
                self._writing = None
            if (self._pending or self._fires) and self._timer is None and self._writing is None:
                self._timer = asyncio.get_running_loop().call_later(self._delay, self._start_flush)

    async def _write_batch(self) -> None:
        taken = list(self._pending.items())[:FLUSH_ROWS]
        for run_id, _ in taken:
            del self._pending[run_id]
        fires = list(self._fires.values())
        self._fires.clear()
        # Encoded on the loop: the runs' dicts may still change, and only the loop may read them.
        rows = [_row(run) for _, run in taken]
        try:
            await self._db.run(partial(_insert, rows=rows, fires=fires))
        except DiskFaultError as err:  # the database logs the episode once
            self.failed += len(rows)
            _LOGGER.debug("%d workflow run record(s) not written: %s", len(rows), err)
            return
        except Exception:  # a failed batch must not stop the next one
            self.failed += len(rows)
            _LOGGER.exception("Writing %d workflow run record(s) failed", len(rows))
            return
        if rows:
            await self._prune_counts({row[1] for row in rows})

    # Reading

    async def list(
        self, workflow_id: str, *, limit: int = 50, before: str | None = None
    ) -> dict[str, Any]:
        """A page of the workflow's runs, newest first, without steps and conditions."""
        await self.flush()
        limit = max(1, min(limit, PAGE_MAX))
        rows = await self._db.run(
            partial(_page, workflow_id=workflow_id, limit=limit + 1, before=before)
        )
        if rows is None:
            raise BadRequestError("before is not a run of this workflow")
        runs = [json.loads(summary) for summary in rows[:limit]]
        following = runs[-1]["id"] if len(rows) > limit else None
        return {"runs": runs, "next": following}

    async def get(self, workflow_id: str, run_id: str) -> dict[str, Any] | None:
        """One whole run record, or ``None`` when the workflow has no such run."""
        await self.flush()
        row = await self._db.run(partial(_one, workflow_id=workflow_id, run_id=run_id))
        if row is None:
            return None
        summary, detail = row
        return {**json.loads(summary), **json.loads(detail)}

    async def recover(
        self,
    ) -> tuple[int, dict[str, dict[str, Any]], dict[tuple[str, int], tuple[str, float]]]:
        """At start, in one round trip: how many runs a crash left ``running`` (now marked
        ``interrupted``), each workflow's newest run summary, and each schedule trigger's last
        fire time with the spec it fired under."""

        def read(conn: sqlite3.Connection) -> tuple[int, list[tuple[str, str]], list[Any]]:
            count = _interrupt(conn)
            fired = conn.execute(
                "SELECT workflow_id, trigger_index, spec, fired_at FROM workflow_schedule_fires"
            ).fetchall()
            return count, _last_runs(conn), fired

        count, last, fired = await self._db.run(read)
        return (
            count,
            {workflow_id: json.loads(summary) for workflow_id, summary in last},
            {(str(w), int(i)): (str(s), float(f)) for w, i, s, f in fired},
        )

    # Deleting

    async def delete_workflow(self, workflow_id: str) -> None:
        """Forget every run and schedule fire of a deleted workflow."""
        for run_id in [i for i, run in self._pending.items() if run["workflow_id"] == workflow_id]:
            del self._pending[run_id]
        for key in [key for key in self._fires if key[0] == workflow_id]:
            del self._fires[key]
        await self.flush()

        def delete(conn: sqlite3.Connection) -> None:
            with conn:
                conn.execute("DELETE FROM workflow_runs WHERE workflow_id = ?", (workflow_id,))
                conn.execute(
                    "DELETE FROM workflow_schedule_fires WHERE workflow_id = ?", (workflow_id,)
                )

        await self._db.run(delete)

    async def prune(self) -> int:
        """Drop runs older than the retention and beyond the count kept per workflow."""
        await self.flush()
        cutoff = self._clock() - self._config.run_retention_days * 86_400
        deleted = await self._db.run(partial(_prune_age, cutoff=cutoff))
        workflows = await self._db.run(
            lambda conn: [
                r[0] for r in conn.execute("SELECT DISTINCT workflow_id FROM workflow_runs")
            ]
        )
        return deleted + await self._prune_counts(workflows)

    async def _prune_counts(self, workflows: Iterable[str]) -> int:
        keep = self._config.runs_per_workflow
        return await self._db.run(partial(_prune_count, workflows=sorted(workflows), keep=keep))

    def schedule(self, scheduler: Scheduler) -> None:
        """Add the hourly pruning job."""
        scheduler.add_interval_job(
            PRUNE_JOB, self._prune_job, seconds=PRUNE_INTERVAL, jitter=60.0, timeout=600.0
        )

    async def _prune_job(self) -> None:
        deleted = await self.prune()
        if deleted:
            _LOGGER.info("Pruned %d workflow run(s)", deleted)


def summary_of(run: Mapping[str, Any]) -> dict[str, Any]:
    """A run record without its steps and conditions, as lists show it."""
    return {key: value for key, value in run.items() if key not in _DETAIL_KEYS}


def iso(moment: float) -> str:
    """An epoch time as the ISO text run records use."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")


def _row(run: Mapping[str, Any]) -> tuple[str, str, float, str, str, str]:
    summary = json.dumps(summary_of(run), separators=(",", ":"), default=str)
    detail_of = {key: run.get(key, []) for key in _DETAIL_KEYS}
    detail = json.dumps(detail_of, separators=(",", ":"), default=str)
    if len(detail) > MAX_DETAIL_CHARS:
        detail = json.dumps(_slimmed(detail_of), separators=(",", ":"), default=str)
    started = run.get("started_at")
    try:
        started_at = datetime.fromisoformat(str(started)).timestamp()
    except ValueError:
        started_at = time.time()
    return (
        str(run["id"]),
        str(run["workflow_id"]),
        started_at,
        str(run["status"]),
        summary,
        detail,
    )


def _slimmed(detail: Mapping[str, Any]) -> dict[str, Any]:
    """Steps without their inputs and results: what is left of a record too large to keep whole."""
    marker = {"_truncated": True}
    steps = [
        {**step, "input": marker, "result": marker} if isinstance(step, dict) else step
        for step in detail.get("steps", [])
    ]
    return {"conditions": detail.get("conditions", []), "steps": steps}


# On the database's thread


def _insert(
    conn: sqlite3.Connection, rows: list[tuple[str, str, float, str, str, str]], fires: list[Fire]
) -> None:
    with conn:
        conn.executemany(
            "INSERT INTO workflow_runs (id, workflow_id, started_at, status, summary, detail) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET status = excluded.status, "
            "summary = excluded.summary, detail = excluded.detail",
            rows,
        )
        conn.executemany(
            "INSERT OR REPLACE INTO workflow_schedule_fires "
            "(workflow_id, trigger_index, spec, fired_at) VALUES (?, ?, ?, ?)",
            fires,
        )


def _page(
    conn: sqlite3.Connection, workflow_id: str, limit: int, before: str | None
) -> list[str] | None:
    if before is None:
        rows = conn.execute(
            "SELECT summary FROM workflow_runs WHERE workflow_id = ? "
            "ORDER BY started_at DESC, id DESC LIMIT ?",
            (workflow_id, limit),
        ).fetchall()
        return [str(row[0]) for row in rows]
    anchor = conn.execute(
        "SELECT started_at, id FROM workflow_runs WHERE workflow_id = ? AND id = ?",
        (workflow_id, before),
    ).fetchone()
    if anchor is None:
        return None
    rows = conn.execute(
        "SELECT summary FROM workflow_runs WHERE workflow_id = ? AND (started_at, id) < (?, ?) "
        "ORDER BY started_at DESC, id DESC LIMIT ?",
        (workflow_id, anchor[0], anchor[1], limit),
    ).fetchall()
    return [str(row[0]) for row in rows]


def _one(conn: sqlite3.Connection, workflow_id: str, run_id: str) -> tuple[str, str] | None:
    row = conn.execute(
        "SELECT summary, detail FROM workflow_runs WHERE workflow_id = ? AND id = ?",
        (workflow_id, run_id),
    ).fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


def _last_runs(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT workflow_id, summary FROM workflow_runs r WHERE id = ("
        "SELECT id FROM workflow_runs WHERE workflow_id = r.workflow_id "
        "ORDER BY started_at DESC, id DESC LIMIT 1)"
    ).fetchall()
    return [(str(a), str(b)) for a, b in rows]


def _interrupt(conn: sqlite3.Connection) -> int:
    with conn:
        cursor = conn.execute(
            "UPDATE workflow_runs SET status = 'interrupted', "
            "summary = json_set(summary, '$.status', 'interrupted') WHERE status = 'running'"
        )
    return cursor.rowcount


def _prune_age(conn: sqlite3.Connection, cutoff: float) -> int:
    with conn:
        cursor = conn.execute(
            "DELETE FROM workflow_runs WHERE started_at < ? AND status != 'running'", (cutoff,)
        )
    return cursor.rowcount


def _prune_count(conn: sqlite3.Connection, workflows: list[str], keep: int) -> int:
    deleted = 0
    with conn:
        for workflow_id in workflows:
            cursor = conn.execute(
                "DELETE FROM workflow_runs WHERE id IN (SELECT id FROM workflow_runs "
                "WHERE workflow_id = ? ORDER BY started_at DESC, id DESC LIMIT -1 OFFSET ?)",
                (workflow_id, keep),
            )
            deleted += cursor.rowcount
    return deleted
