"""The entity tables in ``hub.db``, and an entity row as read back from them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

ENTITY_MIGRATIONS: Final[tuple[str, ...]] = (
    """
    CREATE TABLE devices (
        id INTEGER PRIMARY KEY,
        entry_id TEXT NOT NULL,
        identifier TEXT NOT NULL,
        info TEXT NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE (entry_id, identifier)
    ) STRICT;
    CREATE TABLE entities (
        id INTEGER PRIMARY KEY,
        entry_id TEXT NOT NULL,
        domain TEXT NOT NULL,
        entity_type TEXT NOT NULL,
        external_id TEXT NOT NULL,
        name TEXT NOT NULL,
        state TEXT,
        attributes TEXT NOT NULL,
        parent_id INTEGER REFERENCES entities (id) ON DELETE SET NULL,
        device_id INTEGER REFERENCES devices (id) ON DELETE SET NULL,
        visible INTEGER NOT NULL DEFAULT 1,
        retention_days INTEGER,
        content_hash TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        last_changed REAL NOT NULL,
        UNIQUE (entry_id, entity_type, external_id)
    ) STRICT;
    CREATE INDEX entities_by_type ON entities (domain, entity_type);
    CREATE INDEX entities_by_device ON entities (device_id);
    CREATE TABLE history (
        id INTEGER PRIMARY KEY,
        entity_id INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
        state TEXT,
        changed_at REAL NOT NULL
    ) STRICT;
    CREATE INDEX history_by_entity ON history (entity_id, changed_at);
    CREATE INDEX history_by_time ON history (changed_at);
    CREATE TABLE event_log (
        id INTEGER PRIMARY KEY,
        event_type TEXT NOT NULL,
        origin TEXT NOT NULL,
        data TEXT NOT NULL,
        time_fired REAL NOT NULL
    ) STRICT;
    CREATE VIRTUAL TABLE entity_search USING fts5 (
        name, body, tokenize = 'unicode61 remove_diacritics 2'
    );
    """,
)
"""Appended to the core migrations; migration N of this tuple is never edited once released."""

EVENT_LOG_MIGRATIONS: Final[tuple[str, ...]] = (
    """
    ALTER TABLE event_log ADD COLUMN audience TEXT;
    """,
)
"""Who may see each logged event, decided as it is written (``hub.api.access.EventAudience``);
rows from before have none and are shown to no one. Numbered after the agent's migrations, which
released databases already carry, so it is a tuple of its own."""

ENTITY_COLUMNS: Final = (
    "id, entry_id, domain, entity_type, external_id, name, state, attributes, parent_id, "
    "device_id, visible, retention_days, created_at, updated_at, last_changed"
)


@dataclass(frozen=True, slots=True)
class EntityRow:
    """An entity as stored; ``state`` and ``attributes`` decoded from JSON."""

    id: int
    entry_id: str
    domain: str
    entity_type: str
    external_id: str
    name: str
    state: Any
    attributes: dict[str, Any]
    parent_id: int | None
    device_id: int | None
    visible: bool
    retention_days: int | None
    created_at: float
    updated_at: float
    last_changed: float

    @classmethod
    def from_sql(cls, row: Sequence[Any]) -> EntityRow:
        """Build from a row selected with ``ENTITY_COLUMNS``."""
        return cls(
            id=row[0],
            entry_id=row[1],
            domain=row[2],
            entity_type=row[3],
            external_id=row[4],
            name=row[5],
            state=None if row[6] is None else json.loads(row[6]),
            attributes=json.loads(row[7]),
            parent_id=row[8],
            device_id=row[9],
            visible=bool(row[10]),
            retention_days=row[11],
            created_at=row[12],
            updated_at=row[13],
            last_changed=row[14],
        )
