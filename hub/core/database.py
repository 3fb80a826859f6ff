"""``hub.db``: one SQLite database through aiosqlite, in WAL mode, with numbered schema migrations."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, TypeVar

import aiosqlite

from hub import __version__
from hub.core.disk import DiskFaultError, WriteHealth, fault_error, sqlite_fault
from hub.core.errors import StorageError

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

DATABASE_FILE: Final = "hub.db"
PRIVATE_MODE: Final = 0o600
"""The database holds history and conversations: only the hub's user may read it."""
_SIDE_FILES: Final = ("-wal", "-shm", "-journal")

CORE_MIGRATIONS: Final[tuple[str, ...]] = (
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;
    """,
)
"""Migration N (0-based) takes the schema from ``user_version`` N to N + 1; never edit a released one."""


class Database:
    """The open database; later parts of the hub append their migrations before ``open``."""

    def __init__(self, path: Path, migrations: Sequence[str] = CORE_MIGRATIONS) -> None:
        self.path = path
        self.migrations = list(migrations)
        self.health = WriteHealth(f"The database {path}")
        self._conn: aiosqlite.Connection | None = None

    @property
    def conn(self) -> aiosqlite.Connection:
        """The connection; only valid between ``open`` and ``close``."""
        if self._conn is None:
            raise RuntimeError("the database is not open")
        return self._conn

    async def open(self) -> None:
        """Open (creating if needed), set WAL, and migrate; a bad file raises ``StorageError``."""
        await asyncio.to_thread(_make_private, self.path)
        try:
            self._conn = await aiosqlite.connect(self.path, isolation_level=None)
            conn = self._conn
            if not await self._pages(conn):
                # Only before the first table: pages freed by trimming the event log and purging
                # history can then be handed back to the file system, which ``close`` does. A
                # database made before keeps its mode (converting it takes a full VACUUM), and is
                # not written to here, so a hub on a full disk still starts and serves reads.
                await conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
            await conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk before it is acknowledged (a webhook's 200, an action's
            # answer); writers batch their transactions, so the fsync is shared.
            await conn.execute("PRAGMA synchronous=FULL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA busy_timeout=5000")
            await self._migrate(conn)
        except sqlite3.DatabaseError as err:
            await self.close()
            fault = self.fault(err)
            if fault is not None:
                # Not a damaged file: restoring a backup would not help, freeing space would.
                raise fault from None
            raise StorageError(
                f"{self.path} cannot be opened as a database ({err}). Restore it from a backup, "
                "or move it away to start with an empty one."
            ) from None
        except BaseException:
            await self.close()
            raise

    @staticmethod
    async def _pages(conn: aiosqlite.Connection) -> int:
        async with conn.execute("PRAGMA page_count") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self, conn: aiosqlite.Connection) -> None:
        async with conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        current = int(row[0]) if row else 0
        target = len(self.migrations)
        if current > target:
            raise StorageError(
                f"{self.path} has schema version {current}, newer than this hub knows ({target}). "
                "Upgrade the hub, or restore a backup made by this version."
            )
        for version in range(current, target):
            start = time.perf_counter()
            try:
                await conn.executescript(
                    f"BEGIN;\n{self.migrations[version]}\nPRAGMA user_version = {version + 1};\nCOMMIT;"
                )
            except sqlite3.Error as err:
                if conn.in_transaction:
                    await conn.execute("ROLLBACK")
                raise StorageError(
                    f"{self.path}: schema migration to version {version + 1} failed ({err}); "
                    "the database is unchanged."
                ) from None
            _LOGGER.info(
                "Database schema migrated to version %d in %.1f ms",
                version + 1,
                (time.perf_counter() - start) * 1000,
            )
        await conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('created_by', ?)", (__version__,)
        )
        if target > current:
            # A migration that rebuilt a table left its old pages free: the file gives them back.
            await conn.executescript("PRAGMA incremental_vacuum;")

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` with the raw connection on the database's own thread, in one round trip.

        For batched work (an apply of 10,000 records, a purge batch): one hop to the thread instead of
        one per statement. ``fn`` must not touch the event loop. A write the disk refuses raises
        ``StorageFullError`` or ``StorageReadOnlyError``, which the HTTP layer answers 507 or 503.
        """
        conn = self.conn

        def counted(raw: sqlite3.Connection) -> tuple[T, bool]:
            before = raw.total_changes
            return fn(raw), raw.total_changes != before

        try:
            # aiosqlite runs every call on its one worker thread; queueing ``fn`` there keeps all
            # SQLite access on that thread, as aiosqlite itself does.
            result: T
            result, wrote = await conn._execute(counted, conn._conn)  # type: ignore[no-untyped-call]
        except sqlite3.Error as err:
            fault = self.fault(err)
            if fault is None:
                raise
            raise fault from err
        if wrote:  # only a write that reached the database says the disk takes writes again
            self.health.succeeded()
        return result

    def fault(self, err: sqlite3.Error) -> DiskFaultError | None:
        """The typed error when SQLite refused a write because the disk is full or read-only."""
        state = sqlite_fault(err, self.path)
        if state is None:
            return None
        fault = fault_error(state, self.path)
        self.health.failed(fault)
        return fault

    async def close(self) -> None:
        """Close the connection; safe to call twice."""
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        try:
            # Free pages go back to the file system (a no-op without incremental auto-vacuum);
            # while running they are reused, so this is done once, on the way out.
            # As a script: ``execute`` steps the pragma once, which frees a single page.
            await conn.executescript("PRAGMA incremental_vacuum;")
            await conn.execute("PRAGMA optimize")
        except sqlite3.Error as err:
            _LOGGER.debug("PRAGMA incremental_vacuum/optimize failed on close: %s", err)
        await conn.close()


@contextmanager
def unsynced(conn: sqlite3.Connection) -> Iterator[None]:
    """Transactions in this block commit without waiting for the disk; for best-effort rows (the
    event log), which the next synced commit or checkpoint puts on disk with it. A crash of the
    process loses none of them, a power cut the last moment's. Use outside a transaction, within
    ``Database.run``."""
    conn.execute("PRAGMA synchronous=NORMAL")
    try:
        yield
    finally:
        conn.execute("PRAGMA synchronous=FULL")


ROWS_PER_STATEMENT: Final = 100
"""Rows one multi-row ``INSERT`` takes (``insert_rows``); with up to 13 columns, far below
SQLite's limit of 32,766 parameters."""


def insert_rows(
    conn: sqlite3.Connection, insert: str, rows: Sequence[Sequence[Any]], *, then: str = ""
) -> None:
    """``insert`` (``INSERT INTO t (a, b)``) of ``rows``, as multi-row ``VALUES``, followed by
    ``then`` (an ``ON CONFLICT`` clause, or the rest of a query the ``VALUES`` are a part of).

    Not ``executemany``: the ``sqlite3`` module lets go of the GIL around every statement it
    steps, once per row there, and the database's thread then waits for a busy event loop to
    hand the GIL back, each time. Measured on a loaded hub, that wait was 50 to 200 µs a step
    against 5 to 25 µs of work. A statement of 100 rows waits once.
    """
    if not rows:
        return
    one = "(" + ", ".join("?" * len(rows[0])) + ")"
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        params = [value for row in chunk for value in row]
        conn.execute(f"{insert} VALUES {', '.join([one] * len(chunk))}{then}", params)


def _make_private(path: Path) -> None:
    """Create ``path`` as 0600 if missing; take group and others' access from it and its WAL files."""
    # SQLite creates -wal and -shm with the database file's mode, so the main file decides.
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_MODE))
    except FileExistsError:
        pass
    except OSError as err:  # a read-only or full disk: SQLite's own open says what is wrong
        _LOGGER.debug("Cannot create %s: %s", path, err)
        return
    for file in (path, *(path.with_name(path.name + side) for side in _SIDE_FILES)):
        try:
            mode = file.stat().st_mode & 0o777
            if mode & 0o077:
                file.chmod(mode & 0o700)
        except FileNotFoundError:
            continue
        except OSError as err:  # another owner, or a read-only disk: it still opens, but say so
            _LOGGER.warning("Cannot make %s private to its owner: %s", file, err)
