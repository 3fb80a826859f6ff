"""In-app notifications: short messages for one person (a workflow's notify step), kept in ``hub.db``.

Each person keeps at most ``MAX_PER_PERSON``; a new one past that drops their oldest. Every change
fires a bus event carrying ``person_id``, so only that person's websockets receive it.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypedDict

from hub.core.bus import EventBus, EventType
from hub.core.database import Database
from hub.core.errors import NOTIFICATION_NOT_FOUND, NotFoundError

MAX_PER_PERSON: Final = 500
MAX_TITLE: Final = 200
MAX_MESSAGE: Final = 4_000
MAX_SOURCE: Final = 200
MAX_LINK: Final = 500
MAX_PAGE: Final = 200
LINK_PREFIX: Final = "#/"
"""A link is a place in the web UI; anything else (``javascript:``, another site) is refused."""

NOTIFICATION_MIGRATIONS: Final[tuple[str, ...]] = (
    """
    CREATE TABLE notifications (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        person_id TEXT NOT NULL,
        title TEXT NOT NULL,
        message TEXT NOT NULL,
        source TEXT NOT NULL,
        link TEXT,
        created_at REAL NOT NULL,
        read INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE INDEX notifications_by_person ON notifications (person_id, seq);
    CREATE INDEX notifications_unread ON notifications (person_id) WHERE read = 0;
    """,
)
"""Appended after every other migration in ``app.py``; never edit a released one."""


class NotificationCreatedData(TypedDict):
    """``notification.created``: one new notification and the person's unread count."""

    person_id: str
    notification: dict[str, Any]
    unread: int


class NotificationReadData(TypedDict):
    """``notification.read``: the ids just marked read and the unread count left."""

    person_id: str
    ids: list[str]
    unread: int


class NotificationDeletedData(TypedDict):
    """``notification.deleted``: one notification gone and the unread count left."""

    person_id: str
    id: str
    unread: int


EVENT_NOTIFICATION_CREATED: Final = EventType[NotificationCreatedData]("notification.created")
EVENT_NOTIFICATION_READ: Final = EventType[NotificationReadData]("notification.read")
EVENT_NOTIFICATION_DELETED: Final = EventType[NotificationDeletedData]("notification.deleted")


class NotificationNotFoundError(NotFoundError):
    """No notification with that id, or not the caller's."""

    code = NOTIFICATION_NOT_FOUND


@dataclass(frozen=True, slots=True)
class Notification:
    """One notification as its person sees it."""

    id: str
    title: str
    message: str
    source: str
    link: str | None
    created_at: str
    read: bool

    def public(self) -> dict[str, Any]:
        """The JSON shape of the REST API and the bus events."""
        return asdict(self)


_COLUMNS: Final = "seq, id, title, message, source, link, created_at, read"


class Notifications:
    """One per hub: sends, lists, marks read and deletes each person's notifications."""

    def __init__(self, database: Database, bus: EventBus) -> None:
        self._database = database
        self._bus = bus

    async def send(
        self,
        person_ids: Iterable[str],
        title: str,
        message: str,
        *,
        source: str,
        link: str | None = None,
    ) -> list[str]:
        """Notify each person once; their new ids. Over-long texts are cut, a bad link refused."""
        people = list(dict.fromkeys(pid for pid in person_ids if pid))
        if link is not None and (not link.startswith(LINK_PREFIX) or len(link) > MAX_LINK):
            raise ValueError(f"link: a place in the web UI starting {LINK_PREFIX!r}")
        if not people:
            return []
        now = time.time()
        made = [
            (
                person,
                Notification(
                    id=secrets.token_hex(8),
                    title=_cut(title, MAX_TITLE),
                    message=_cut(message, MAX_MESSAGE),
                    source=_cut(source, MAX_SOURCE),
                    link=link,
                    created_at=_iso(now),
                    read=False,
                ),
            )
            for person in people
        ]

        def write(conn: sqlite3.Connection) -> list[int]:
            with _transaction(conn):
                counts = []
                for person, note in made:
                    conn.execute(
                        "INSERT INTO notifications "
                        "(id, person_id, title, message, source, link, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (note.id, person, note.title, note.message, note.source, link, now),
                    )
                    _prune(conn, person)
                    counts.append(_unread(conn, person))
                return counts

        counts = await self._database.run(write)
        for (person, note), unread in zip(made, counts, strict=True):
            self._bus.fire(
                EVENT_NOTIFICATION_CREATED,
                NotificationCreatedData(
                    person_id=person, notification=note.public(), unread=unread
                ),
            )
        return [note.id for _, note in made]

    async def list(
        self,
        person_id: str,
        *,
        unread_only: bool = False,
        limit: int = 50,
        before: str | None = None,
    ) -> dict[str, Any]:
        """A page, newest first: ``{"notifications", "unread", "next"}``; ``next`` goes to ``before``."""
        limit = max(1, min(limit, MAX_PAGE))
        cursor = _cursor(before)

        def read(conn: sqlite3.Connection) -> tuple[list[tuple[Any, ...]], int]:
            sql = f"SELECT {_COLUMNS} FROM notifications WHERE person_id = ?"  # noqa: S608  # constants
            args: list[Any] = [person_id]
            if unread_only:
                sql += " AND read = 0"
            if cursor is not None:
                sql += " AND seq < ?"
                args.append(cursor)
            sql += " ORDER BY seq DESC LIMIT ?"
            args.append(limit + 1)
            return conn.execute(sql, args).fetchall(), _unread(conn, person_id)

        rows, unread = await self._database.run(read)
        page = rows[:limit]
        return {
            "notifications": [_notification(row).public() for row in page],
            "unread": unread,
            "next": str(page[-1][0]) if len(rows) > limit else None,
        }

    async def unread(self, person_id: str) -> int:
        """How many of the person's notifications are unread."""
        return await self._database.run(lambda conn: _unread(conn, person_id))

    async def mark_read(self, person_id: str, ids: Iterable[str] | None = None) -> int:
        """Mark the person's notifications ``ids`` (``None``: all) read; how many were unread.

        Ids that are not the person's, or read already, are passed over.
        """
        wanted = None if ids is None else list(dict.fromkeys(ids))
        if wanted == []:
            return 0

        def write(conn: sqlite3.Connection) -> tuple[list[str], int]:
            with _transaction(conn):
                sql = "UPDATE notifications SET read = 1 WHERE person_id = ? AND read = 0"
                args: list[Any] = [person_id]
                if wanted is not None:
                    sql += f" AND id IN ({','.join('?' * len(wanted))})"
                    args += wanted
                marked = [str(row[0]) for row in conn.execute(sql + " RETURNING id", args)]
                return marked, _unread(conn, person_id)

        marked, unread = await self._database.run(write)
        if marked:
            self._bus.fire(
                EVENT_NOTIFICATION_READ,
                NotificationReadData(person_id=person_id, ids=marked, unread=unread),
            )
        return len(marked)

    async def delete(self, person_id: str, notification_id: str) -> None:
        """Delete one of the person's notifications; another's is not found, as a missing one."""

        def write(conn: sqlite3.Connection) -> int | None:
            with _transaction(conn):
                gone = conn.execute(
                    "DELETE FROM notifications WHERE id = ? AND person_id = ? RETURNING seq",
                    (notification_id, person_id),
                ).fetchone()
                return None if gone is None else _unread(conn, person_id)

        unread = await self._database.run(write)
        if unread is None:
            raise NotificationNotFoundError(f"no notification {notification_id!r}")
        self._bus.fire(
            EVENT_NOTIFICATION_DELETED,
            NotificationDeletedData(person_id=person_id, id=notification_id, unread=unread),
        )

    async def forget_person(self, person_id: str) -> None:
        """Drop a removed person's notifications."""

        def delete(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM notifications WHERE person_id = ?", (person_id,))

        await self._database.run(delete)


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` on the database's thread, rolled back on any failure."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:  # a full disk can end the transaction before we do
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _prune(conn: sqlite3.Connection, person_id: str) -> None:
    """Keep the person's newest ``MAX_PER_PERSON``."""
    conn.execute(
        "DELETE FROM notifications WHERE person_id = ? AND seq <= ("
        "SELECT seq FROM notifications WHERE person_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)",
        (person_id, person_id, MAX_PER_PERSON),
    )


def _unread(conn: sqlite3.Connection, person_id: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM notifications WHERE person_id = ? AND read = 0", (person_id,)
    ).fetchone()
    return int(row[0])


def _cursor(before: str | None) -> int | None:
    """A page's ``next``; one the hub did not give out is refused."""
    if before is None:
        return None
    if not before.isdigit() or len(before) > 18:
        raise ValueError("before: the next of a page before")
    return int(before)


def _notification(row: tuple[Any, ...]) -> Notification:
    return Notification(
        id=row[1],
        title=row[2],
        message=row[3],
        source=row[4],
        link=row[5],
        created_at=_iso(row[6]),
        read=bool(row[7]),
    )


def _cut(text: str, limit: int) -> str:
    """At most ``limit`` characters, and only ones UTF-8 can store (a lone surrogate cannot)."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")
