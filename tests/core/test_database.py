"""hub.db: created in WAL mode, migrated in order, and refused whole when it cannot be trusted."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hub import __version__
from hub.core.database import CORE_MIGRATIONS, Database
from hub.core.errors import StorageError


async def test_fresh_database_is_wal_and_migrated(tmp_path: Path) -> None:
    db = Database(tmp_path / "hub.db")
    await db.open()
    try:
        async with db.conn.execute("PRAGMA journal_mode") as cursor:
            assert (await cursor.fetchone()) == ("wal",)
        async with db.conn.execute("PRAGMA user_version") as cursor:
            assert (await cursor.fetchone()) == (len(CORE_MIGRATIONS),)
        async with db.conn.execute("SELECT value FROM meta WHERE key = 'created_by'") as cursor:
            assert (await cursor.fetchone()) == (__version__,)
    finally:
        await db.close()
    await db.close()  # twice is harmless
    assert not (tmp_path / "hub.db-wal").exists(), "a clean close checkpoints the WAL"


async def test_later_migrations_apply_once_in_order(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    first = Database(path)
    await first.open()
    await first.close()
    extra = "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
    second = Database(path, [*CORE_MIGRATIONS, extra])
    await second.open()
    await second.conn.execute("INSERT INTO things (name) VALUES ('lamp')")
    await second.close()
    third = Database(path, [*CORE_MIGRATIONS, extra])
    await third.open()  # not re-run: the table exists and would make CREATE fail
    async with third.conn.execute("SELECT name FROM things") as cursor:
        assert [tuple(row) for row in await cursor.fetchall()] == [("lamp",)]
    await third.close()


async def test_a_failing_migration_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    first = Database(path)
    await first.open()
    await first.close()
    broken = "CREATE TABLE half (id INTEGER); INSERT INTO nowhere VALUES (1);"
    with pytest.raises(StorageError, match="migration to version 2 failed"):
        await Database(path, [*CORE_MIGRATIONS, broken]).open()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (1,)
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "half" not in tables


async def test_a_database_from_a_newer_hub_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StorageError, match="schema version 99, newer than this hub"):
        await Database(path).open()


async def test_a_file_that_is_not_a_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    garbage = b"this is not sqlite, it is a shopping list\n" * 100
    path.write_bytes(garbage)
    with pytest.raises(StorageError) as info:
        await Database(path).open()
    assert str(path) in info.value.message
    assert "Restore it from a backup" in info.value.message
    assert path.read_bytes() == garbage


async def test_the_database_and_its_wal_files_are_private_to_the_hub(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    db = Database(path, [*CORE_MIGRATIONS, "CREATE TABLE notes (body TEXT NOT NULL);"])
    await db.open()
    try:
        for number in range(20):
            await db.conn.execute("INSERT INTO notes (body) VALUES (?)", (f"note {number}",))
        files = [path, tmp_path / "hub.db-wal", tmp_path / "hub.db-shm"]
        assert {file.name: oct(file.stat().st_mode & 0o777) for file in files} == {
            file.name: oct(0o600) for file in files
        }
    finally:
        await db.close()


async def test_an_existing_readable_database_is_made_private_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE made_before (id INTEGER)")
    path.chmod(0o644)
    db = Database(path)
    await db.open()
    await db.close()
    assert path.stat().st_mode & 0o777 == 0o600


async def test_pages_freed_while_running_go_back_to_the_disk_on_close(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    migrations = [*CORE_MIGRATIONS, "CREATE TABLE blob (id INTEGER PRIMARY KEY, b TEXT) STRICT;"]
    db = Database(path, migrations)
    await db.open()
    assert list(await db.conn.execute_fetchall("PRAGMA auto_vacuum")) == [(2,)]  # incremental
    await db.conn.executemany("INSERT INTO blob (b) VALUES (?)", [("x" * 4000,)] * 500)
    await db.conn.execute("DELETE FROM blob")
    await db.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
        assert conn.execute("PRAGMA page_count").fetchone()[0] < 50
    conn.close()


async def test_a_database_made_without_auto_vacuum_keeps_working(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE earlier (id INTEGER PRIMARY KEY)")
    conn.close()
    db = Database(path)
    await db.open()
    assert list(await db.conn.execute_fetchall("PRAGMA auto_vacuum")) == [(0,)]
    await db.close()
    db = Database(path)
    await db.open()
    await db.close()
