"""Signed webhook requests already received, kept in ``hub.db`` so a restart does not forget them."""

from __future__ import annotations

import sqlite3
from typing import Final

from hub.core.database import Database

REPLAY_WINDOW: Final = 300.0
"""Seconds a signed request's timestamp may differ from the hub's clock."""

REPLAY_MIGRATIONS: Final[tuple[str, ...]] = (
    """
    CREATE TABLE webhook_signatures (
        signature TEXT PRIMARY KEY,
        expires_at REAL NOT NULL
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX webhook_signatures_by_expiry ON webhook_signatures (expires_at);
    """,
)
"""Appended after the other migrations; migration N of this tuple is never edited once released."""


class ReplayGuard:
    """Each signature is remembered until its own timestamp is out of the window; a second use fails.

    Keyed on the signature (with its entry), not on when it was seen: a sender whose clock runs
    ahead signs with a future timestamp that stays acceptable for longer than ``window`` after it
    arrives, so it must be remembered for as long. Stored durably before the request is answered.
    """

    def __init__(self, db: Database, window: float = REPLAY_WINDOW) -> None:
        self._db = db
        self._window = window

    async def first_use(
        self, key: str, timestamp: float, now: float, window: float | None = None
    ) -> bool:
        """Record ``key`` (signed at ``timestamp``); ``False`` if it was received before.

        ``window``: the entry's own timestamp tolerance, when it is not the default.
        """
        expires_at = max(timestamp, now) + (self._window if window is None else window)
        return await self._db.run(lambda conn: _record(conn, key, expires_at, now))


def _record(conn: sqlite3.Connection, key: str, expires_at: float, now: float) -> bool:
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Only signatures whose timestamps the window refuses anyway are forgotten.
        conn.execute("DELETE FROM webhook_signatures WHERE expires_at < ?", (now,))
        cursor = conn.execute(
            "INSERT OR IGNORE INTO webhook_signatures (signature, expires_at) VALUES (?, ?)",
            (key, expires_at),
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # a full disk can end the transaction before we do
            conn.execute("ROLLBACK")
        raise
    return cursor.rowcount == 1
