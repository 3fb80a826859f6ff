"""The full-text search index, kept up to date off the request path and always before a search.

An apply does not touch the FTS5 table: it records what to index in ``search_pending`` (one row per
entity, in the apply's own transaction, so a crash never loses it), and the entity service's writer
moves many of those rows into the index in one transaction a moment later. An entity written again
meanwhile is indexed once, and one whose text did not change not at all. A search first indexes
whatever is still pending, in its own transaction, so it never answers from a stale index.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

T = TypeVar("T")

INDEX_BATCH: Final = 250
"""Pending entities the writer indexes per transaction (about 10 µs each), so applies queued
behind it wait a few milliseconds at most."""

_QUEUE: Final = "INSERT OR REPLACE INTO search_pending (entity_id, name, body) VALUES (?, ?, ?)"


def queue(conn: sqlite3.Connection, entity_id: int, name: str, body: str) -> None:
    """Index ``entity_id`` as ``name`` and ``body`` (whatever was queued for it before is replaced)."""
    conn.execute(_QUEUE, (entity_id, name, body))


def queue_removal(conn: sqlite3.Connection, entity_id: int) -> None:
    """Take ``entity_id`` out of the index (its id may be reused by an entity that is not indexed)."""
    conn.execute(_QUEUE, (entity_id, None, None))


def remove_now(conn: sqlite3.Connection, ids: Sequence[int]) -> None:
    """Take ``ids`` out of the index and out of what is pending, in the caller's transaction."""
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        conn.execute(f"DELETE FROM entity_search WHERE rowid IN ({marks})", chunk)
        conn.execute(f"DELETE FROM search_pending WHERE entity_id IN ({marks})", chunk)


def has_pending(conn: sqlite3.Connection) -> bool:
    """Whether any entity waits to be indexed."""
    return conn.execute("SELECT 1 FROM search_pending LIMIT 1").fetchone() is not None


def index_pending(conn: sqlite3.Connection, limit: int | None = None) -> int:
    """Index up to ``limit`` pending entities (all without one) in the caller's transaction; how many."""
    sql = "SELECT entity_id, name, body FROM search_pending ORDER BY entity_id"
    params: tuple[Any, ...] = ()
    if limit is not None:
        sql += " LIMIT ?"
        params = (limit,)
    pending = conn.execute(sql, params).fetchall()
    for entity_id, name, body in pending:
        indexed = conn.execute(
            "SELECT name, body FROM entity_search WHERE rowid = ?", (entity_id,)
        ).fetchone()
        if indexed is not None:
            if name is not None and indexed[0] == name and indexed[1] == body:
                continue  # the same words: re-indexing would change nothing
            conn.execute("DELETE FROM entity_search WHERE rowid = ?", (entity_id,))
        if name is not None:
            conn.execute(
                "INSERT INTO entity_search (rowid, name, body) VALUES (?, ?, ?)",
                (entity_id, name, body),
            )
    conn.executemany(
        "DELETE FROM search_pending WHERE entity_id = ?", [(row[0],) for row in pending]
    )
    return len(pending)


def catch_up(conn: sqlite3.Connection) -> bool:
    """Index one batch of pending entities in its own transaction; whether more are pending."""
    if not has_pending(conn):
        return False
    _in_transaction(conn, lambda: index_pending(conn, INDEX_BATCH))
    return has_pending(conn)


def search(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rows of the search query ``sql``, answered from an index with nothing pending.

    A disk that refuses indexing what is pending fails the search (507 or 503), rather than let it
    answer from a stale index; the writer indexes within half a second, so that window is short.
    """
    if not has_pending(conn):
        return conn.execute(sql, params).fetchall()

    def index_then_search() -> list[tuple[Any, ...]]:
        index_pending(conn)
        return conn.execute(sql, params).fetchall()

    return _in_transaction(conn, index_then_search)


def _in_transaction(conn: sqlite3.Connection, work: Callable[[], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work()
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # a full disk can end the transaction before we do
            conn.execute("ROLLBACK")
        raise
    return result
