"""The unified inbox: a person's view of every message entity, threaded, newest first.

A message is an entity of a ``message=True`` type (what the channel said); its ``comms_messages``
row is what the person and triage made of it (read, archived, importance, summary, contact). Rows
are made by a sweep, not by each event: the sweep inserts a row for every message entity that has
none, so a dropped event, a crash or a push-path write still reaches the inbox.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, Final, TypedDict

from hub.comms.message import (
    COLUMNS,
    IMPORTANCES,
    InboxMessage,
    MessageNotFoundError,
    attributes,
    message_from_row,
    received_ms,
    thread_key,
)
from hub.comms.threads import MAX_PAGE, InboxFilter, list_threads, parse_cursor
from hub.core.background import Background
from hub.core.bus import EventBus, EventType
from hub.core.database import Database
from hub.core.errors import BadRequestError
from hub.entities.service import EVENT_ENTITY_CREATED

_LOGGER = logging.getLogger(__name__)

SWEEP_DELAY: Final = 0.02
"""Seconds a sweep waits after the first new message, so a batch of them is one transaction."""
SWEEP_ROWS: Final = 2_000
"""Rows one sweep transaction takes in; a backlog is taken in by several."""


class InboxMessageData(TypedDict):
    """``inbox.message``: a message entered the inbox or the person or triage changed it."""

    entry_id: str
    entity_id: int
    thread_key: str
    change: str


EVENT_INBOX_MESSAGE: Final = EventType[InboxMessageData]("inbox.message")


class Inbox:
    """The ``comms_messages`` rows: swept in from message entities, read and changed by people."""

    def __init__(self, database: Database, bus: EventBus) -> None:
        self._db = database
        self._bus = bus
        self._types: frozenset[tuple[str, str]] = frozenset()
        self._sweep_due = asyncio.Event()
        self._background = Background()

    # Lifecycle

    def start(self, message_types: Iterable[tuple[str, str]]) -> None:
        """Watch for new message entities of ``(domain, entity_type)`` and sweep them in."""
        self.set_types(message_types)
        self._background = Background(
            asyncio.get_running_loop().create_task(self._sweeper(), name="inbox sweeper"),
            self._bus.listen(EVENT_ENTITY_CREATED, self._on_created),
        )
        self._sweep_due.set()  # whatever a crash left without a row

    def set_types(self, message_types: Iterable[tuple[str, str]]) -> None:
        """The message types to take in (they follow the integrations that are loaded)."""
        types = frozenset(message_types)
        if types - self._types:
            self._sweep_due.set()
        self._types = types

    async def stop(self) -> None:
        """Stop sweeping (what is left is swept in at the next start)."""
        await self._background.stop()

    def _on_created(self, event: Any) -> None:
        data = event.data
        if (data.get("domain"), data.get("entity_type")) in self._types:
            self._sweep_due.set()

    async def sweep_now(self) -> int:
        """Take in every message entity without a row now; how many were taken in."""
        total = 0
        while True:
            added = await self._sweep_once()
            total += added
            if added < SWEEP_ROWS:
                return total

    async def _sweeper(self) -> None:
        while True:
            await self._sweep_due.wait()
            await asyncio.sleep(SWEEP_DELAY)
            self._sweep_due.clear()
            try:
                await self.sweep_now()
            except Exception:  # the next message (or start) sweeps again; nothing is lost
                _LOGGER.exception("Taking messages into the inbox failed")
                await asyncio.sleep(5)
                self._sweep_due.set()

    async def _sweep_once(self) -> int:
        types = sorted(self._types)
        if not types:
            return 0
        added = await self._db.run(lambda conn: _sweep(conn, types))
        for entry_id, entity_id, key in added:
            self._bus.fire(
                EVENT_INBOX_MESSAGE,
                InboxMessageData(
                    entry_id=entry_id, entity_id=entity_id, thread_key=key, change="created"
                ),
            )
        return len(added)

    # Reading

    async def get(self, entity_id: int) -> InboxMessage:
        """One message, or ``MessageNotFoundError``."""
        rows = await self._select(
            f"SELECT {COLUMNS} FROM comms_messages m JOIN entities e ON e.id = m.entity_id "
            "WHERE m.entity_id = ?",
            (entity_id,),
        )
        if not rows:
            raise MessageNotFoundError(f"no message {entity_id}")
        return rows[0]

    async def pending(self, limit: int) -> list[InboxMessage]:
        """Messages triage has not looked at yet, oldest first."""
        return await self._select(
            f"SELECT {COLUMNS} FROM comms_messages m JOIN entities e ON e.id = m.entity_id "
            "WHERE m.triage = 'pending' ORDER BY m.received_ms, m.entity_id LIMIT ?",
            (limit,),
        )

    async def thread(self, key: str, entry_ids: Sequence[str]) -> list[InboxMessage]:
        """A thread's messages, oldest first; empty when it is none of the caller's entries'."""
        return [
            message
            for message in await self._select(
                f"SELECT {COLUMNS} FROM comms_messages m JOIN entities e ON e.id = m.entity_id "
                "WHERE m.thread_key = ? ORDER BY m.received_ms, m.entity_id",
                (key,),
            )
            if message.entry_id in entry_ids
        ]

    async def threads(
        self, entry_ids: Sequence[str], where: InboxFilter, *, before: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Threads newest first (``before``: the ``next`` cursor of the page before) and the next cursor."""
        after = parse_cursor(before)  # a bad cursor is the caller's mistake, whatever they may see
        if not entry_ids:
            return [], None
        limit = max(1, min(limit, MAX_PAGE))
        return await self._db.run(lambda conn: list_threads(conn, entry_ids, where, after, limit))

    async def counts(self, entry_ids: Sequence[str]) -> dict[str, int]:
        """Unread and high-importance unread messages not archived, for a badge."""
        if not entry_ids:
            return {"unread": 0, "high": 0}
        marks = ",".join("?" * len(entry_ids))

        def count(conn: sqlite3.Connection) -> dict[str, int]:
            unread, high = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(importance = 'high'), 0) FROM comms_messages "
                f"WHERE entry_id IN ({marks}) AND read = 0 AND archived = 0",
                tuple(entry_ids),
            ).fetchone()
            return {"unread": int(unread), "high": int(high)}

        return await self._db.run(count)

    # Changing

    async def mark(
        self, entity_ids: Sequence[int], *, read: bool | None = None, archived: bool | None = None
    ) -> None:
        """Mark messages read/unread or archived/unarchived."""
        sets = [
            f"{column} = {int(value)}"
            for column, value in (("read", read), ("archived", archived))
            if value is not None
        ]
        if not sets or not entity_ids:
            return
        marks = ",".join("?" * len(entity_ids))

        def update(conn: sqlite3.Connection) -> list[tuple[str, int, str]]:
            with conn:
                rows = conn.execute(
                    f"UPDATE comms_messages SET {', '.join(sets)} WHERE entity_id IN ({marks}) "
                    "RETURNING entry_id, entity_id, thread_key",
                    tuple(entity_ids),
                ).fetchall()
            return [(str(a), int(b), str(c)) for a, b, c in rows]

        change = "archived" if archived is not None else "read"
        for entry_id, entity_id, key in await self._db.run(update):
            self._bus.fire(
                EVENT_INBOX_MESSAGE,
                InboxMessageData(
                    entry_id=entry_id, entity_id=entity_id, thread_key=key, change=change
                ),
            )

    async def set_triage(
        self,
        entity_id: int,
        *,
        importance: str | None,
        summary: str | None,
        error: str | None = None,
    ) -> None:
        """Record what triage made of a message (``error``: it failed, and why)."""
        if importance is not None and importance not in IMPORTANCES:
            raise BadRequestError(f"importance must be one of {', '.join(IMPORTANCES)}")
        state = "failed" if error is not None else "done"
        await self._update(
            entity_id,
            "importance = ?, summary = ?, triage = ?, triage_error = ?",
            (importance, summary, state, error),
            change="triaged",
        )

    async def set_contact(self, entity_id: int, contact_id: int | None) -> None:
        """Link a message to a contact (``None`` unlinks)."""
        await self._update(entity_id, "contact_id = ?", (contact_id,), change="contact")

    async def _update(
        self, entity_id: int, assignments: str, params: tuple[Any, ...], *, change: str
    ) -> None:
        def update(conn: sqlite3.Connection) -> tuple[str, str] | None:
            with conn:
                row = conn.execute(
                    f"UPDATE comms_messages SET {assignments} WHERE entity_id = ? "
                    "RETURNING entry_id, thread_key",
                    (*params, entity_id),
                ).fetchone()
            return None if row is None else (str(row[0]), str(row[1]))

        found = await self._db.run(update)
        if found is None:
            raise MessageNotFoundError(f"no message {entity_id}")
        self._bus.fire(
            EVENT_INBOX_MESSAGE,
            InboxMessageData(
                entry_id=found[0], entity_id=entity_id, thread_key=found[1], change=change
            ),
        )

    async def _select(self, sql: str, params: Sequence[Any]) -> list[InboxMessage]:
        rows = await self._db.run(lambda conn: conn.execute(sql, tuple(params)).fetchall())
        return [message_from_row(row) for row in rows]


# On the database's thread


def _sweep(
    conn: sqlite3.Connection, types: Sequence[tuple[str, str]]
) -> list[tuple[str, int, str]]:
    """Insert a row for up to ``SWEEP_ROWS`` message entities that have none; what was inserted."""
    added: list[tuple[str, int, str]] = []
    with conn:
        for domain, entity_type in types:
            rows = conn.execute(
                "SELECT e.id, e.entry_id, e.external_id, e.attributes FROM entities e "
                "LEFT JOIN comms_messages m ON m.entity_id = e.id "
                "WHERE e.domain = ? AND e.entity_type = ? AND m.entity_id IS NULL "
                "ORDER BY e.id LIMIT ?",
                (domain, entity_type, SWEEP_ROWS - len(added)),
            ).fetchall()
            values = []
            for entity_id, entry_id, external_id, raw in rows:
                attrs = attributes(raw)
                thread_id = attrs.get("thread_id")
                key = thread_key(
                    entry_id, thread_id if isinstance(thread_id, str) else None, external_id
                )
                from_me = bool(attrs.get("from_me"))
                sender = attrs.get("sender_address")
                values.append(
                    (
                        entity_id,
                        entry_id,
                        key,
                        received_ms(attrs.get("received_at")),
                        sender if isinstance(sender, str) else "",
                        int(from_me),
                        int(from_me),  # what the person sent themselves is read
                    )
                )
                added.append((entry_id, entity_id, key))
            conn.executemany(
                "INSERT INTO comms_messages "
                "(entity_id, entry_id, thread_key, received_ms, sender_address, from_me, read) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            if len(added) >= SWEEP_ROWS:
                break
    return added
