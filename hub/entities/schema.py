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

COMPACT_MIGRATIONS: Final[tuple[str, ...]] = (
    """
    UPDATE entities SET content_hash = substr(content_hash, 1, 16);
    DROP INDEX entities_by_device;
    CREATE INDEX entities_by_device ON entities (device_id) WHERE device_id IS NOT NULL;
    CREATE VIRTUAL TABLE entity_search_compact USING fts5 (
        name, body, tokenize = 'unicode61 remove_diacritics 2', detail = column
    );
    INSERT INTO entity_search_compact (rowid, name, body)
        SELECT rowid, name, body FROM entity_search;
    DROP TABLE entity_search;
    ALTER TABLE entity_search_compact RENAME TO entity_search;
    CREATE TABLE event_log_compact (
        id INTEGER PRIMARY KEY,
        event_type TEXT NOT NULL,
        data BLOB NOT NULL,
        time_fired REAL NOT NULL,
        audience TEXT
    ) STRICT;
    INSERT INTO event_log_compact (id, event_type, data, time_fired, audience)
        SELECT id, event_type, CAST(json_quote(origin) || data AS BLOB), time_fired, audience
        FROM event_log;
    DROP TABLE event_log;
    ALTER TABLE event_log_compact RENAME TO event_log;
    """,
    """
    CREATE TABLE search_pending (
        entity_id INTEGER PRIMARY KEY,
        name TEXT,
        body TEXT
    ) STRICT;
    """,
)
"""A smaller ``hub.db``, after the other tuples (which released databases already carry):

- content hashes cut to the 16 hex digits the apply path now stores (``store.HASH_CHARS``);
- the device index only over entities with a device (``device_id = ?`` still uses it, as the
  foreign key's ``ON DELETE SET NULL`` does);
- the search index without term positions (``detail=column``: search asks for prefix terms ranked
  by bm25 per column, never phrases), rebuilt with its rows;
- the event log's origin and data in one BLOB, so ``event_log.row_data`` can store them deflated
  together; rows from before become the origin as a JSON string followed by the data, which is
  what ``row_data`` stores when deflate would not win.

Then ``search_pending``: entities whose search text changed (``name`` and ``body`` as they are to be
indexed) or that left (``NULL``), written in the apply's transaction and moved into the index in
batches off the request path (``hub.entities.search_index``).
"""

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
