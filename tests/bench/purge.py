"""Purge benchmark: delete 1,000,000 expired history rows while the event loop keeps ticking.

Run: ``python -m tests.bench.purge [--rows 1000000] [--entities 1000] [--json FILE]``. A real
``hub.db`` (WAL, synchronous=FULL) in a temporary directory; the rows are spread over the entities and
all expired. While the purge runs, one task measures how late a 1 ms timer fires (the loop's longest
block, target 50 ms) and another reads an entity every 10 ms (how long other database work waits
behind a purge batch).
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

from hub.config import HistoryConfig
from hub.core.database import Database
from hub.entities.history import DAY, History
from tests.bench.report import report
from tests.entities.migrations import HUB_MIGRATIONS

NOW = 1_750_000_000.0
TICK = 0.001
READ_EVERY = 0.01


def fill(conn: sqlite3.Connection, rows: int, entities: int) -> None:
    """Insert ``entities`` entities and ``rows`` history rows, all older than the retention."""
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO entities (id, entry_id, domain, entity_type, external_id, name, attributes, "
        "content_hash, created_at, updated_at, last_changed) "
        "VALUES (?, 'e1', 'bench', 'sensor', ?, 'sensor', '{}', '', 0, 0, 0)",
        ((i + 1, f"sensor-{i}") for i in range(entities)),
    )
    start = NOW - 30 * DAY
    conn.executemany(
        "INSERT INTO history (entity_id, state, changed_at) VALUES (?, ?, ?)",
        ((i % entities + 1, str(i % 1000), start + i / 100) for i in range(rows)),
    )
    conn.execute("COMMIT")


async def run(rows: int, entities: int) -> dict[str, dict[str, Any]]:
    """Fill, purge while measuring, and return the figures."""
    with tempfile.TemporaryDirectory(prefix="hub-bench-purge-") as tmp:
        db = Database(Path(tmp) / "hub.db", HUB_MIGRATIONS)
        await db.open()
        try:
            start = time.perf_counter()
            await db.run(partial(fill, rows=rows, entities=entities))
            fill_seconds = time.perf_counter() - start
            history = History(db, HistoryConfig(retention_days=10))
            done = asyncio.Event()
            blocks: list[float] = []
            reads: list[float] = []

            async def tick() -> None:
                while not done.is_set():
                    before = time.perf_counter()
                    await asyncio.sleep(TICK)
                    blocks.append(time.perf_counter() - before - TICK)

            async def read() -> None:
                while not done.is_set():
                    before = time.perf_counter()
                    await db.conn.execute_fetchall("SELECT name FROM entities WHERE id = 1")
                    reads.append(time.perf_counter() - before)
                    await asyncio.sleep(READ_EVERY)

            probes = [asyncio.create_task(tick()), asyncio.create_task(read())]
            try:
                deleted = await history.purge(now=NOW)
            finally:
                done.set()
                await asyncio.gather(*probes)
            left = await db.conn.execute_fetchall("SELECT count(*) FROM history")
            assert deleted == rows, deleted
            assert next(iter(left))[0] == 0, "every row is expired"
            size = await history.database_size()
        finally:
            await db.close()
    purge = history.last_purge
    assert purge is not None
    return {
        "purge.rows": {"value": purge.rows, "unit": "rows", "entities": entities},
        "purge.fill_seconds": {"value": round(fill_seconds, 2), "unit": "s"},
        "purge.seconds": {"value": round(purge.seconds, 2), "unit": "s"},
        "purge.rows_per_second": {"value": round(purge.rows / purge.seconds), "unit": "rows/s"},
        "purge.batches": {"value": purge.batches, "unit": "transactions"},
        "purge.max_batch_rows": {"value": purge.max_batch_rows, "unit": "rows"},
        "purge.max_batch_ms": {"value": round(purge.max_batch_seconds * 1000, 1), "unit": "ms"},
        "purge.max_loop_block_ms": {
            "value": round(max(blocks) * 1000, 1),
            "unit": "ms",
            "target": 50,
            "ticks": len(blocks),
        },
        "purge.max_db_read_ms": {
            "value": round(max(reads) * 1000, 1),
            "unit": "ms",
            "reads": len(reads),
        },
        "purge.free_mb_after": {"value": round(size["free_bytes"] / 2**20, 1), "unit": "MiB"},
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--entities", type=int, default=1000)
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)
    report(asyncio.run(run(args.rows, args.entities)), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
