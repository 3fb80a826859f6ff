"""Facts: short texts attached to a node, each with its source, time and owner.

Functions here run on the database's thread and take the raw connection; writes keep the fact's
search row (rowid ``2 * id + 1``) in step, in the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from hub.entities.listing import iso_millis
from hub.memory.errors import FactNotFoundError, MemoryInvalidError, MemoryLimitError
from hub.memory.nodes import VISIBLE

Source = Literal["chat", "person", "entity", "message"]
SOURCES: Final = frozenset(get_args(Source))
MAX_TEXT: Final = 2000
MAX_FACTS_PER_PERSON: Final = 100_000
COLUMNS: Final = (
    "f.id, f.node_id, f.owner, f.text, f.source, f.source_ref, f.required_tier, f.created_at, "
    "f.created_by"
)
VISIBLE_FACT: Final = f"(f.owner = ? OR f.owner IS NULL) AND f.required_tier <= ? AND {VISIBLE}"
"""Facts of ``memory_facts f JOIN memory_nodes n`` a person may read; params
``(person_id, max_tier, person_id, max_tier)``."""


@dataclass(frozen=True, slots=True)
class FactRow:
    """A fact as stored."""

    id: int
    node_id: int
    owner: str | None
    text: str
    source: str
    source_ref: str | None
    required_tier: int
    created_at: float
    created_by: str | None

    @classmethod
    def of(cls, row: Sequence[Any]) -> FactRow:
        """From a row selected with ``COLUMNS``."""
        return cls(*row)

    def view(self) -> dict[str, Any]:
        """A FactView."""
        return {
            "id": self.id,
            "node_id": self.node_id,
            "text": self.text,
            "source": self.source,
            "source_ref": self.source_ref,
            "owner": self.owner,
            "household": self.owner is None,
            "required_tier": self.required_tier,
            "created_at": iso_millis(self.created_at),
        }


def clean_text(text: str) -> str:
    """A fact's text, trimmed; empty or longer than ``MAX_TEXT`` is refused."""
    text = text.strip()
    if not text or len(text) > MAX_TEXT:
        raise MemoryInvalidError(
            f"a fact needs 1 to {MAX_TEXT} characters",
            key="errors.memory_text_invalid",
            limit=MAX_TEXT,
        )
    return text


def check_source(source: str) -> str:
    """``source`` if it is one the memory records."""
    if source not in SOURCES:
        raise MemoryInvalidError(
            f"source must be one of {', '.join(sorted(SOURCES))}", key="errors.memory_invalid"
        )
    return source


def visible(conn: sqlite3.Connection, fact_id: int, person_id: str, max_tier: int) -> FactRow:
    """The fact if the person may read it (and its node) at ``max_tier``."""
    row = conn.execute(
        f"SELECT {COLUMNS} FROM memory_facts f JOIN memory_nodes n ON n.id = f.node_id "
        f"WHERE f.id = ? AND {VISIBLE_FACT}",
        (fact_id, person_id, max_tier, person_id, max_tier),
    ).fetchone()
    if row is None:
        raise FactNotFoundError(f"no fact {fact_id}")
    return FactRow.of(row)


def of_nodes(
    conn: sqlite3.Connection,
    node_ids: Sequence[int],
    person_id: str,
    max_tier: int,
    *,
    limit: int | None = None,
) -> dict[int, list[FactRow]]:
    """``node id → visible facts`` (newest first, at most ``limit`` per node)."""
    found: dict[int, list[FactRow]] = {node_id: [] for node_id in node_ids}
    for node_id in node_ids:
        sql = (
            f"SELECT {COLUMNS} FROM memory_facts f JOIN memory_nodes n ON n.id = f.node_id "
            f"WHERE f.node_id = ? AND {VISIBLE_FACT} ORDER BY f.created_at DESC, f.id DESC"
        )
        params: tuple[Any, ...] = (node_id, person_id, max_tier, person_id, max_tier)
        if limit is not None:
            sql += " LIMIT ?"
            params = (*params, limit)
        found[node_id] = [FactRow.of(row) for row in conn.execute(sql, params)]
    return found


def check_room(conn: sqlite3.Connection, owner: str | None) -> None:
    """Refuse a person's fact past ``MAX_FACTS_PER_PERSON`` (the household's are not counted)."""
    if owner is None:
        return
    row = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM memory_facts WHERE owner = ? LIMIT ?)",
        (owner, MAX_FACTS_PER_PERSON),
    ).fetchone()
    if row[0] >= MAX_FACTS_PER_PERSON:
        raise MemoryLimitError(
            f"the memory holds at most {MAX_FACTS_PER_PERSON} facts per person",
            limit=MAX_FACTS_PER_PERSON,
        )


def insert(
    conn: sqlite3.Connection,
    *,
    node_id: int,
    owner: str | None,
    text: str,
    source: str,
    source_ref: str | None,
    required_tier: int,
    created_by: str | None,
    now: float,
) -> int:
    """A new fact and its search row, in the caller's transaction; its id."""
    cursor = conn.execute(
        "INSERT INTO memory_facts (node_id, owner, text, source, source_ref, required_tier, "
        "created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (node_id, owner, text, source, source_ref, required_tier, now, created_by),
    )
    fact_id = int(cursor.lastrowid or 0)
    conn.execute(
        "INSERT INTO memory_search (rowid, name, body) VALUES (?, '', ?)",
        (fact_rowid(fact_id), text),
    )
    return fact_id


def set_text(conn: sqlite3.Connection, fact_id: int, text: str) -> None:
    """Change a fact's text and its search row, in the caller's transaction."""
    conn.execute("UPDATE memory_facts SET text = ? WHERE id = ?", (text, fact_id))
    conn.execute("DELETE FROM memory_search WHERE rowid = ?", (fact_rowid(fact_id),))
    conn.execute(
        "INSERT INTO memory_search (rowid, name, body) VALUES (?, '', ?)",
        (fact_rowid(fact_id), text),
    )


def delete(conn: sqlite3.Connection, fact_id: int) -> None:
    """Delete a fact and its search row, in the caller's transaction."""
    conn.execute("DELETE FROM memory_search WHERE rowid = ?", (fact_rowid(fact_id),))
    conn.execute("DELETE FROM memory_facts WHERE id = ?", (fact_id,))


def fact_rowid(fact_id: int) -> int:
    """The search row of a fact."""
    return fact_id * 2 + 1
