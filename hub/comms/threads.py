"""The inbox's list of threads: newest first across channels, filtered, paged by a cursor."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from hub.comms.message import COLUMNS, Importance, InboxMessage, message_from_row
from hub.core.errors import BAD_CURSOR, BadRequestError

MAX_PAGE: Final = 200
SNIPPET_CHARS: Final = 160


@dataclass(frozen=True, slots=True)
class InboxFilter:
    """What ``GET /api/inbox`` narrows to; every field optional."""

    entry_ids: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    importance: Importance | None = None
    unread: bool = False
    contact_id: int | None = None
    archived: bool = False


def list_threads(
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
        f"SELECT {COLUMNS} FROM comms_messages m JOIN entities e ON e.id = m.entity_id "
        f"WHERE m.entity_id IN ({','.join('?' * len(ids))})",
        tuple(ids),
    ).fetchall()
    return {int(row[0]): message_from_row(row) for row in rows}


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


def _snippet(body: str) -> str:
    text = " ".join(body.split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


def parse_cursor(value: str | None) -> tuple[int, str] | None:
    if value is None or value == "":
        return None
    ms, sep, key = value.partition(":")
    if not sep or not ms.isdigit():
        raise BadRequestError("before: not a cursor this inbox gave out", code=BAD_CURSOR)
    return int(ms), key
