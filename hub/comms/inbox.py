"""The unified inbox: a person's view of every message entity, threaded, newest first.

A message is an entity of a ``message=True`` type (what the channel said); its ``comms_messages``
row is what the person and triage made of it (read, archived, importance, summary, contact). Rows
are made by a sweep, not by each event: the sweep inserts a row for every message entity that has
none, so a dropped event, a crash or a push-path write still reaches the inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, TypedDict

from hub.core.bus import EventBus, EventType
from hub.core.database import Database
from hub.core.errors import BAD_CURSOR, MESSAGE_NOT_FOUND, BadRequestError, NotFoundError
from hub.entities.service import EVENT_ENTITY_CREATED

_LOGGER = logging.getLogger(__name__)

Importance = Literal["high", "normal", "low"]
IMPORTANCES: Final[tuple[Importance, ...]] = ("high", "normal", "low")
MAX_PAGE: Final = 200
SNIPPET_CHARS: Final = 160
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


class MessageNotFoundError(NotFoundError):
    """No inbox message with that id (or not one the caller may see)."""

    code = MESSAGE_NOT_FOUND


@dataclass(frozen=True, slots=True)
class InboxMessage:
    """One message as the inbox shows it: the channel's words and the inbox's state of it."""

    entity_id: int
    entry_id: str
    domain: str
    entity_type: str
    external_id: str
    thread_key: str
    received_at: str
    sender: str
    sender_address: str
    recipients: tuple[str, ...]
    subject: str
    body: str
    importance: str | None
    summary: str | None
    triage: str
    triage_error: str | None
    read: bool
    archived: bool
    from_me: bool
    contact_id: int | None
    attachments: tuple[dict[str, Any], ...] = ()
    """Name, type and size of what came with the message (never the bytes)."""

    def to_json(self) -> dict[str, Any]:
        """As the API shows it (``id`` is the entity's id, which tools and drafts use too)."""
        return {
            "id": self.entity_id,
            "entry_id": self.entry_id,
            "domain": self.domain,
            "external_id": self.external_id,
            "thread_key": self.thread_key,
            "received_at": self.received_at,
            "sender": self.sender,
            "sender_address": self.sender_address,
            "recipients": list(self.recipients),
            "subject": self.subject,
            "body": self.body,
            "importance": self.importance,
            "summary": self.summary,
            "triage": self.triage,
            "triage_error": self.triage_error,
            "read": self.read,
            "archived": self.archived,
            "from_me": self.from_me,
            "contact_id": self.contact_id,
            "attachments": list(self.attachments),
        }


@dataclass(frozen=True, slots=True)
class InboxFilter:
    """What ``GET /api/inbox`` narrows to; every field optional."""

    entry_ids: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    importance: Importance | None = None
    unread: bool = False
    contact_id: int | None = None
    archived: bool = False


def thread_key(entry_id: str, thread_id: str | None, external_id: str) -> str:
    """The key a message's thread is grouped by: threads never span two accounts."""
    return f"{entry_id}:{thread_id or external_id}"


def received_ms(value: Any) -> int:
    """Milliseconds since the epoch of an ISO 8601 time; 0 for one that does not parse."""
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value).timestamp() * 1000)
        except ValueError:
            return 0
    return 0


_COLUMNS: Final = """
    m.entity_id, e.entry_id, e.domain, e.entity_type, e.external_id, m.thread_key,
    e.attributes, m.importance, m.summary, m.triage, m.triage_error, m.read, m.archived,
    m.from_me, m.contact_id
"""


class Inbox:
    """The ``comms_messages`` rows: swept in from message entities, read and changed by people."""

    def __init__(self, database: Database, bus: EventBus) -> None:
        self._db = database
        self._bus = bus
        self._types: frozenset[tuple[str, str]] = frozenset()
        self._sweep_due = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unlisten: Any = None

    # Lifecycle

    def start(self, message_types: Iterable[tuple[str, str]]) -> None:
        """Watch for new message entities of ``(domain, entity_type)`` and sweep them in."""
        self.set_types(message_types)
        self._unlisten = self._bus.listen(EVENT_ENTITY_CREATED, self._on_created)
        self._task = asyncio.get_running_loop().create_task(self._sweeper(), name="inbox sweeper")
        self._sweep_due.set()  # whatever a crash left without a row

    def set_types(self, message_types: Iterable[tuple[str, str]]) -> None:
        """The message types to take in (they follow the integrations that are loaded)."""
        types = frozenset(message_types)
        if types - self._types:
            self._sweep_due.set()
        self._types = types

    async def stop(self) -> None:
        """Stop sweeping (what is left is swept in at the next start)."""
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

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
            f"SELECT {_COLUMNS} FROM comms_messages m JOIN entities e ON e.id = m.entity_id "
            "WHERE m.entity_id = ?",
            (entity_id,),
        )
        if not rows:
            raise MessageNotFoundError(f"no message {entity_id}")
        return rows[0]

    async def pending(self, limit: int) -> list[InboxMessage]:
        """Messages triage has not looked at yet, oldest first."""
        return await self._select(
            f"SELECT {_COLUMNS} FROM comms_messages m JOIN entities e ON e.id = m.entity_id "
            "WHERE m.triage = 'pending' ORDER BY m.received_ms, m.entity_id LIMIT ?",
            (limit,),
        )

    async def thread(self, key: str, entry_ids: Sequence[str]) -> list[InboxMessage]:
        """A thread's messages, oldest first; empty when it is none of the caller's entries'."""
        return [
            message
            for message in await self._select(
                f"SELECT {_COLUMNS} FROM comms_messages m JOIN entities e ON e.id = m.entity_id "
                "WHERE m.thread_key = ? ORDER BY m.received_ms, m.entity_id",
                (key,),
            )
            if message.entry_id in entry_ids
        ]

    async def threads(
        self, entry_ids: Sequence[str], where: InboxFilter, *, before: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Threads newest first (``before``: the ``next`` cursor of the page before) and the next cursor."""
        after = _cursor(before)  # a bad cursor is the caller's mistake, whatever they may see
        if not entry_ids:
            return [], None
        limit = max(1, min(limit, MAX_PAGE))
        return await self._db.run(lambda conn: _threads(conn, entry_ids, where, after, limit))

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
        return [_message(row) for row in rows]


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
            for entity_id, entry_id, external_id, attributes in rows:
                attrs = _attributes(attributes)
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


def _threads(
    conn: sqlite3.Connection,
    entry_ids: Sequence[str],
    where: InboxFilter,
    after: tuple[int, str] | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    clauses = [f"m.entry_id IN ({','.join('?' * len(entry_ids))})", "m.archived = ?"]
    params: list[Any] = [*entry_ids, int(where.archived)]
    if where.entry_ids:
        clauses.append(f"m.entry_id IN ({','.join('?' * len(where.entry_ids))})")
        params.extend(where.entry_ids)
    if where.domains:
        clauses.append(
            f"m.entry_id IN (SELECT DISTINCT entry_id FROM entities WHERE domain IN "
            f"({','.join('?' * len(where.domains))}))"
        )
        params.extend(where.domains)
    if where.importance is not None:
        clauses.append("COALESCE(m.importance, 'normal') = ?")
        params.append(where.importance)
    if where.unread:
        clauses.append("m.read = 0")
    if where.contact_id is not None:
        clauses.append("m.contact_id = ?")
        params.append(where.contact_id)
    having = ""
    if after is not None:
        having = "HAVING (MAX(m.received_ms) < ?) OR (MAX(m.received_ms) = ? AND m.thread_key < ?)"
        params.extend([after[0], after[0], after[1]])
    # One max() aggregate: SQLite then takes the bare columns from the newest message's row.
    sql = f"""
        SELECT m.thread_key, MAX(m.received_ms), m.entity_id, COUNT(*), SUM(m.read = 0),
               SUM(m.importance = 'high'), SUM(COALESCE(m.importance, 'normal') = 'normal')
        FROM comms_messages m WHERE {" AND ".join(clauses)}
        GROUP BY m.thread_key {having}
        ORDER BY MAX(m.received_ms) DESC, m.thread_key DESC LIMIT ?
    """
    rows = conn.execute(sql, (*params, limit + 1)).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    last_ids = [row[2] for row in rows]
    details = _details(conn, last_ids)
    drafts = _open_drafts(conn, [row[0] for row in rows])
    threads = []
    for key, _last_ms, last_id, count, unread, high, normal in rows:
        last = details[last_id]
        threads.append(
            {
                "thread_key": key,
                "entry_id": last.entry_id,
                "domain": last.domain,
                "subject": last.subject,
                "count": int(count),
                "unread": int(unread or 0),
                "importance": "high" if high else "normal" if normal else "low",
                "last": {
                    "id": last.entity_id,
                    "sender": last.sender,
                    "sender_address": last.sender_address,
                    "snippet": _snippet(last.body),
                    "received_at": last.received_at,
                    "importance": last.importance,
                    "summary": last.summary,
                    "read": last.read,
                    "from_me": last.from_me,
                    "triage": last.triage,
                },
                "contact": _contact(conn, last.contact_id),
                "drafts": drafts.get(key, 0),
            }
        )
    cursor = f"{rows[-1][1]}:{rows[-1][0]}" if more and rows else None
    return threads, cursor


def _details(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, InboxMessage]:
    if not ids:
        return {}
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM comms_messages m JOIN entities e ON e.id = m.entity_id "
        f"WHERE m.entity_id IN ({','.join('?' * len(ids))})",
        tuple(ids),
    ).fetchall()
    return {int(row[0]): _message(row) for row in rows}


def _open_drafts(conn: sqlite3.Connection, keys: Sequence[str]) -> dict[str, int]:
    if not keys:
        return {}
    rows = conn.execute(
        "SELECT thread_key, COUNT(*) FROM comms_drafts WHERE state IN ('draft', 'failed') "
        f"AND thread_key IN ({','.join('?' * len(keys))}) GROUP BY thread_key",
        tuple(keys),
    ).fetchall()
    return {str(key): int(count) for key, count in rows}


def _contact(conn: sqlite3.Connection, contact_id: int | None) -> dict[str, Any] | None:
    if contact_id is None:
        return None
    row = conn.execute("SELECT name FROM comms_contacts WHERE id = ?", (contact_id,)).fetchone()
    return None if row is None else {"id": contact_id, "name": row[0]}


def _message(row: Sequence[Any]) -> InboxMessage:
    (
        entity_id,
        entry_id,
        domain,
        entity_type,
        external_id,
        key,
        attributes,
        importance,
        summary,
        triage,
        triage_error,
        read,
        archived,
        from_me,
        contact_id,
    ) = row
    attrs = _attributes(attributes)
    recipients = attrs.get("recipients")
    return InboxMessage(
        entity_id=int(entity_id),
        entry_id=entry_id,
        domain=domain,
        entity_type=entity_type,
        external_id=external_id,
        thread_key=key,
        received_at=_text(attrs.get("received_at")),
        sender=_text(attrs.get("sender")),
        sender_address=_text(attrs.get("sender_address")),
        recipients=tuple(str(r) for r in recipients) if isinstance(recipients, list) else (),
        subject=_text(attrs.get("subject")),
        body=_text(attrs.get("body")),
        importance=importance,
        summary=summary,
        triage=triage,
        triage_error=triage_error,
        read=bool(read),
        archived=bool(archived),
        from_me=bool(from_me),
        contact_id=contact_id,
        attachments=_attachments(attrs.get("attachments")),
    )


def _attachments(value: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, dict))


def _attributes(raw: Any) -> Mapping[str, Any]:
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _snippet(body: str) -> str:
    text = " ".join(body.split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


def _cursor(value: str | None) -> tuple[int, str] | None:
    if value is None or value == "":
        return None
    ms, sep, key = value.partition(":")
    if not sep or not ms.isdigit():
        raise BadRequestError("before: not a cursor this inbox gave out", code=BAD_CURSOR)
    return int(ms), key


def now_ms() -> int:
    """The time as the comms tables store it."""
    return int(time.time() * 1000)
