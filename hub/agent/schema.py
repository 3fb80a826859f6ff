"""The agent's tables in ``hub.db``; light to import, since the database migrates at start-up."""

from __future__ import annotations

from typing import Final

AGENT_MIGRATIONS: Final[tuple[str, ...]] = (
    """
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        person_id TEXT NOT NULL,
        title TEXT NOT NULL,
        model TEXT,
        integrations TEXT,
        surface TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    ) STRICT;
    CREATE INDEX conversations_by_person ON conversations (person_id, updated_at);
    CREATE TABLE conversation_turns (
        id INTEGER PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        run_id TEXT NOT NULL,
        status TEXT NOT NULL,
        items TEXT NOT NULL,
        messages TEXT,
        created_at REAL NOT NULL
    ) STRICT;
    CREATE INDEX turns_by_conversation ON conversation_turns (conversation_id, id);
    """,
)
"""Appended after the entity migrations; never edit a released one."""
