"""One write transaction on the database's thread: BEGIN IMMEDIATE, then COMMIT or ROLLBACK."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Everything in the block commits together or not at all (FTS rows included)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # a full disk can end it before we do
            conn.execute("ROLLBACK")
        raise
