"""Backup benchmark: a hub with 100,000 entities and 1,000,000 history rows, backed up without
history from inside a running hub's event loop, then verified.

Run: ``python -m tests.bench.backup [--entities 100000] [--history 1000000] [--json FILE]``. A real
``hub.db`` (every migration of the hub, WAL, held open as the hub holds it) and real storage files in
a temporary directory, filled with bulk SQL. The backup runs as ``POST /api/backups`` and the
scheduled job run it (``Backups.create``) while one task measures how late a 1 ms timer fires (the
loop's longest block; target 50 ms) and another writes to the database every 10 ms as webhooks
would. Targets: backup ≤ 5 s, verification ≤ 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from hub.app import DATABASE_MIGRATIONS
from hub.config import BackupsConfig
from hub.core.crypto import Keyring
from hub.core.database import DATABASE_FILE, Database
from hub.core.storage import StorageManager
from hub.ops.backup_format import Secret
from hub.ops.backup_restore import verify_file
from hub.ops.backup_service import Backups
from tests.bench.report import report

PASSPHRASE = "bench passphrase"
TICK = 0.001
IDLE_SECONDS = 2.0
"""The loop is timed this long with nothing running first: what the machine alone costs it."""
WRITE_EVERY = 0.01


def fill(conn: sqlite3.Connection, entities: int, history: int) -> None:
    """``entities`` entities (each searchable) and ``history`` state changes spread over them."""
    conn.execute("BEGIN")
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        "INSERT INTO entities (id, entry_id, domain, entity_type, external_id, name, state, "
        "attributes, content_hash, created_at, updated_at, last_changed) "
        "SELECT i, 'entry' || (i % 50), 'bench', 'sensor', 'sensor-' || i, 'Sensor number ' || i, "
        '\'"\' || (i % 997) || \'"\', \'{"unit": "°C", "room": "room \' || (i % 40) || \'"}\', '
        "substr(hex(randomblob(8)), 1, 16), 1.75e9, 1.75e9, 1.75e9 FROM n",
        (entities,),
    )
    conn.execute(
        "INSERT INTO entity_search (rowid, name, body) "
        "SELECT id, name, 'room ' || (id % 40) || ' sensor reading' FROM entities"
    )
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        "INSERT INTO history (entity_id, state, changed_at) "
        "SELECT (i % ?) + 1, '\"' || (i % 997) || '\"', 1.75e9 + i FROM n",
        (history, entities),
    )
    conn.execute("COMMIT")


def write_one(conn: sqlite3.Connection, n: int) -> None:
    """One small write, as a webhook's state change makes."""
    conn.execute("UPDATE entities SET state = ?, updated_at = ? WHERE id = 1", (f'"{n}"', n))


async def _idle_blocks(seconds: float) -> list[float]:
    blocks = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        before = time.perf_counter()
        await asyncio.sleep(TICK)
        blocks.append(time.perf_counter() - before - TICK)
    return blocks


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def run(entities: int, history: int) -> dict[str, dict[str, Any]]:
    """Fill, back up while measuring the loop, verify, and return the figures."""
    with tempfile.TemporaryDirectory(prefix="hub-bench-backup-") as tmp:
        config_dir = Path(tmp) / "config"
        storage = StorageManager(config_dir)
        storage.prepare()
        await Keyring(storage, {}).open()
        db = Database(config_dir / DATABASE_FILE, DATABASE_MIGRATIONS)
        await db.open()
        try:
            start = time.perf_counter()
            await db.run(partial(fill, entities=entities, history=history))
            fill_seconds = time.perf_counter() - start
            db_bytes = (config_dir / DATABASE_FILE).stat().st_size
            env = {"HUB_BACKUP_PASSPHRASE": PASSPHRASE}
            backups = Backups(config_dir, BackupsConfig(), storage, db, env)
            done = asyncio.Event()
            blocks: list[float] = []
            writes: list[float] = []

            async def tick() -> None:
                while not done.is_set():
                    before = time.perf_counter()
                    await asyncio.sleep(TICK)
                    blocks.append(time.perf_counter() - before - TICK)

            async def write() -> None:
                n = 0
                while not done.is_set():
                    n += 1
                    before = time.perf_counter()
                    await db.run(partial(write_one, n=n))
                    writes.append(time.perf_counter() - before)
                    await asyncio.sleep(WRITE_EVERY)

            idle = await asyncio.create_task(_idle_blocks(IDLE_SECONDS))
            probes = [asyncio.create_task(tick()), asyncio.create_task(write())]
            try:
                start = time.perf_counter()
                created = await backups.create(include_history=False)
                backup_seconds = time.perf_counter() - start
            finally:
                done.set()
                await asyncio.gather(*probes)
            start = time.perf_counter()
            verified = await asyncio.to_thread(
                verify_file,
                created.path,
                Secret(passphrase=PASSPHRASE),
                schema_version=len(DATABASE_MIGRATIONS),
            )
            verify_seconds = time.perf_counter() - start
            assert verified.header.include_history is False
        finally:
            await db.close()
    return {
        "backup.entities": {"value": entities, "unit": "entities", "history_rows": history},
        "backup.fill_seconds": {"value": round(fill_seconds, 2), "unit": "s"},
        "backup.db_mb": {"value": round(db_bytes / 2**20, 1), "unit": "MiB"},
        "backup.seconds": {"value": round(backup_seconds, 2), "unit": "s", "target": 5},
        "backup.max_loop_block_ms": {
            "value": round(max(blocks) * 1000, 1),
            "unit": "ms",
            "target": 50,
            "ticks": len(blocks),
        },
        "backup.p99_loop_block_ms": {"value": round(_p99(blocks) * 1000, 1), "unit": "ms"},
        "backup.idle_max_loop_block_ms": {
            "value": round(max(idle) * 1000, 1),
            "unit": "ms",
            "note": "the same timer with nothing running: the machine's own share",
        },
        "backup.max_db_write_ms": {
            "value": round(max(writes) * 1000, 1),
            "unit": "ms",
            "writes": len(writes),
        },
        "backup.archive_mb": {"value": round(created.size / 2**20, 2), "unit": "MiB"},
        "backup.verify_seconds": {"value": round(verify_seconds, 2), "unit": "s", "target": 10},
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)
    report(asyncio.run(run(args.entities, args.history)), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
