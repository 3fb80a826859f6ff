"""Conversations: each person's chats in ``hub.db``, one row per turn.

A turn keeps two things: the items a person sees (their message, the streamed text, each tool call
and result, an error) and the model messages pydantic-ai needs to continue the conversation. A
turn that failed or was cancelled keeps its items but no model messages, so the next turn starts
from the last complete one.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from hub.core.database import Database
from hub.core.errors import CONVERSATION_NOT_FOUND, BadRequestError, NotFoundError

MAX_TITLE: Final = 120
_COLUMNS: Final = "id, person_id, title, model, integrations, surface, created_at, updated_at"


class ConversationNotFoundError(NotFoundError):
    """No conversation with that id (or not the caller's)."""

    code = CONVERSATION_NOT_FOUND


@dataclass(frozen=True, slots=True)
class Conversation:
    """A chat's settings; ``integrations`` ``None`` means every integration."""

    id: str
    person_id: str
    title: str
    model: str | None
    integrations: tuple[str, ...] | None
    surface: str | None
    created_at: float
    updated_at: float

    def public(self) -> dict[str, Any]:
        """What a client sees."""
        data = asdict(self)
        del data["person_id"]
        data["title"] = self.title or None  # untitled: the UI names it in the person's language
        data["integrations"] = None if self.integrations is None else list(self.integrations)
        return data

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Conversation:
        """Read a row of ``_COLUMNS``."""
        integrations = None if row[4] is None else tuple(json.loads(row[4]))
        return cls(row[0], row[1], row[2], row[3], integrations, row[5], row[6], row[7])


class Conversations:
    """Create, list, change and delete conversations, and keep their turns."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(
        self,
        person_id: str,
        *,
        title: str | None = None,
        model: str | None = None,
        integrations: Sequence[str] | None = None,
        surface: str | None = None,
    ) -> Conversation:
        """A new, empty conversation."""
        now = time.time()
        conversation = Conversation(
            id=secrets.token_hex(8),
            person_id=person_id,
            title=_title(title) or "",
            model=model,
            integrations=None if integrations is None else tuple(dict.fromkeys(integrations)),
            surface=surface,
            created_at=now,
            updated_at=now,
        )
        await self._write(
            f"INSERT INTO conversations ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            _row(conversation),
        )
        return conversation

    async def of_person(self, person_id: str, *, surface: str | None = None) -> list[Conversation]:
        """The person's conversations, most recently used first."""
        sql = f"SELECT {_COLUMNS} FROM conversations WHERE person_id = ?"
        params: list[Any] = [person_id]
        if surface is not None:
            sql += " AND surface = ?"
            params.append(surface)
        rows = await self._db.conn.execute_fetchall(sql + " ORDER BY updated_at DESC", params)
        return [Conversation.from_row(tuple(row)) for row in rows]

    async def get(self, conversation_id: str, person_id: str) -> Conversation:
        """One of the person's conversations."""
        rows = list(
            await self._db.conn.execute_fetchall(
                f"SELECT {_COLUMNS} FROM conversations WHERE id = ? AND person_id = ?",
                (conversation_id, person_id),
            )
        )
        if not rows:
            raise ConversationNotFoundError(f"no conversation {conversation_id!r}")
        return Conversation.from_row(tuple(rows[0]))

    async def update(
        self, conversation_id: str, person_id: str, changes: Mapping[str, Any]
    ) -> Conversation:
        """Change the title, model or integration selection."""
        current = await self.get(conversation_id, person_id)
        title = current.title
        if "title" in changes:
            title = _title(changes["title"]) or current.title
        integrations = current.integrations
        if "integrations" in changes:
            chosen = changes["integrations"]
            integrations = None if chosen is None else tuple(dict.fromkeys(chosen))
        updated = Conversation(
            id=current.id,
            person_id=person_id,
            title=title,
            model=changes.get("model", current.model),
            integrations=integrations,
            surface=current.surface,
            created_at=current.created_at,
            updated_at=time.time(),
        )
        await self._write(
            "UPDATE conversations SET title = ?, model = ?, integrations = ?, updated_at = ? "
            "WHERE id = ?",
            (updated.title, updated.model, _row(updated)[4], updated.updated_at, updated.id),
        )
        return updated

    async def delete(self, conversation_id: str, person_id: str) -> None:
        """Remove a conversation and every turn of it."""
        await self.get(conversation_id, person_id)
        await self._write("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    async def delete_of_person(self, person_id: str) -> None:
        """Remove every conversation of a removed person, with their turns."""
        await self._write("DELETE FROM conversations WHERE person_id = ?", (person_id,))

    async def add_turn(
        self,
        conversation_id: str,
        run_id: str,
        status: str,
        items: Sequence[Mapping[str, Any]],
        messages: bytes | None,
        *,
        title: str | None = None,
    ) -> None:
        """Record a finished turn (and name the conversation after its first message)."""
        now = time.time()
        text = json.dumps(list(items), ensure_ascii=False, default=str)
        stored = None if messages is None else messages.decode()

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT INTO conversation_turns "
                    "(conversation_id, run_id, status, items, messages, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (conversation_id, run_id, status, text, stored, now),
                )
                conn.execute(
                    "UPDATE conversations SET updated_at = ?, "
                    "title = CASE WHEN ? IS NOT NULL AND title = '' THEN ? ELSE title END "
                    "WHERE id = ?",
                    (now, title, _title(title), conversation_id),
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # a full disk can end the transaction before we do
                    conn.execute("ROLLBACK")
                raise

        await self._db.run(write)

    async def items(self, conversation_id: str) -> list[dict[str, Any]]:
        """Everything a person sees of a conversation, oldest first."""
        rows = await self._db.conn.execute_fetchall(
            "SELECT items FROM conversation_turns WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        )
        return [item for row in rows for item in json.loads(row[0])]

    async def history(self, conversation_id: str, turns: int) -> list[bytes]:
        """The model messages of the last ``turns`` complete turns, oldest first."""
        rows = await self._db.conn.execute_fetchall(
            "SELECT messages FROM conversation_turns "
            "WHERE conversation_id = ? AND messages IS NOT NULL ORDER BY id DESC LIMIT ?",
            (conversation_id, turns),
        )
        return [str(row[0]).encode() for row in reversed(list(rows))]

    async def _write(self, sql: str, params: Sequence[Any]) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute(sql, params)

        await self._db.run(write)


def _title(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequestError("title must be text")
    text = " ".join(value.split())
    return text[:MAX_TITLE] if text else None


def _row(conversation: Conversation) -> tuple[Any, ...]:
    integrations = (
        None if conversation.integrations is None else json.dumps(list(conversation.integrations))
    )
    return (
        conversation.id,
        conversation.person_id,
        conversation.title,
        conversation.model,
        integrations,
        conversation.surface,
        conversation.created_at,
        conversation.updated_at,
    )
