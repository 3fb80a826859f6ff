"""The migration that makes a relation its owner's statement keeps every relation a hub stored."""

from __future__ import annotations

from pathlib import Path

from hub.app import DATABASE_MIGRATIONS as HUB_MIGRATIONS
from hub.core.database import Database
from hub.memory.schema import MEMORY_MIGRATIONS

BEFORE = HUB_MIGRATIONS[: HUB_MIGRATIONS.index(MEMORY_MIGRATIONS[0]) + 1]
"""A database as the first release of the memory left it."""


async def test_relations_survive_and_two_owners_may_then_state_the_same(tmp_path: Path) -> None:
    old = Database(tmp_path / "hub.db", list(BEFORE))
    await old.open()
    await old.conn.executescript(
        "INSERT INTO memory_nodes (id, owner, kind, name, name_key, created_at, updated_at) "
        "VALUES (1, NULL, 'place', 'Kitchen', 'kitchen', 1, 1), "
        "(2, NULL, 'place', 'Home', 'home', 1, 1);"
        "INSERT INTO memory_relations (id, owner, subject_id, predicate, object_id, source, "
        "created_at, created_by) VALUES (7, 'p1', 1, 'part_of', 2, 'person', 1, 'p1');"
    )
    await old.close()

    db = Database(tmp_path / "hub.db", list(HUB_MIGRATIONS))
    await db.open()
    try:
        rows = await db.conn.execute_fetchall(
            "SELECT id, owner, subject_id, predicate, object_id FROM memory_relations"
        )
        assert [tuple(r) for r in rows] == [(7, "p1", 1, "part_of", 2)]
        # Another person's statement of the same is a row of its own; the same owner's is not.
        await db.conn.execute(
            "INSERT OR IGNORE INTO memory_relations (owner, subject_id, predicate, object_id, "
            "source, created_at) VALUES ('p2', 1, 'part_of', 2, 'person', 2), "
            "('p1', 1, 'part_of', 2, 'person', 2), (NULL, 1, 'part_of', 2, 'person', 2), "
            "(NULL, 1, 'part_of', 2, 'person', 3)"
        )
        rows = await db.conn.execute_fetchall(
            "SELECT ifnull(owner, '') FROM memory_relations ORDER BY id"
        )
        assert [r[0] for r in rows] == ["p1", "p2", ""]
        # Deleting a node still takes its relations with it.
        await db.conn.execute("DELETE FROM memory_nodes WHERE id = 2")
        rows = await db.conn.execute_fetchall("SELECT id FROM memory_relations")
        assert list(rows) == []
    finally:
        await db.close()
