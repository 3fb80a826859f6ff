"""Nodes: the things the memory knows about, each of a kind, with a name and aliases, per owner.

Functions here run on the database's thread (inside ``Database.run``) and take the raw connection.
A node is a person's (``owner``) or the household's (``owner`` NULL); a reader sees their own and
the household's, up to the tier of the model (or page) reading.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from hub.entities.listing import iso_millis
from hub.memory.errors import (
    KindUnknownError,
    MemoryInvalidError,
    NodeExistsError,
    NodeNotFoundError,
)

CORE_KINDS: Final = (
    "person",
    "place",
    "project",
    "task",
    "device",
    "organization",
    "event",
    "topic",
    "thing",
)
KIND_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]{0,39}")
MAX_NAME: Final = 200
MAX_ALIASES: Final = 20
COLUMNS: Final = (
    "n.id, n.owner, n.kind, n.name, n.required_tier, n.created_by, n.named_by_person, "
    "n.created_at, n.updated_at"
)
VISIBLE: Final = "(n.owner = ? OR n.owner IS NULL) AND n.required_tier <= ?"
"""Rows of ``memory_nodes n`` a person may read at a tier; params ``(person_id, max_tier)``."""


@dataclass(frozen=True, slots=True)
class NodeRow:
    """A node as stored."""

    id: int
    owner: str | None
    kind: str
    name: str
    required_tier: int
    created_by: str | None
    named_by_person: bool
    created_at: float
    updated_at: float

    @classmethod
    def of(cls, row: Sequence[Any]) -> NodeRow:
        """From a row selected with ``COLUMNS``."""
        return cls(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7], row[8])


def key(text: str) -> str:
    """How names and aliases compare: spaces collapsed, case folded."""
    return " ".join(text.split()).casefold()


def clean_name(name: str) -> str:
    """A name as stored (spaces collapsed); empty or overlong is refused."""
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise MemoryInvalidError(
            f"a name needs 1 to {MAX_NAME} characters",
            key="errors.memory_name_invalid",
            limit=MAX_NAME,
        )
    return name


def clean_aliases(aliases: Iterable[str], name: str) -> list[str]:
    """Distinct aliases other than the name itself; too many or too long is refused."""
    found: dict[str, str] = {}
    for alias in aliases:
        text = " ".join(str(alias).split())
        if not text or len(text) > MAX_NAME:
            found = {}
            break
        found.setdefault(key(text), text)
    else:
        found.pop(key(name), None)
        if len(found) <= MAX_ALIASES:
            return list(found.values())
    raise MemoryInvalidError(
        f"at most {MAX_ALIASES} aliases, each of 1 to {MAX_NAME} characters",
        key="errors.memory_aliases_invalid",
        count=MAX_ALIASES,
        limit=MAX_NAME,
    )


def check_kind(kind: str, known: Iterable[str]) -> str:
    """``kind`` if the memory knows it."""
    if not KIND_PATTERN.fullmatch(kind) or kind not in set(known):
        raise KindUnknownError(f"{kind[:60]!r} is not a kind the memory knows", kind=kind[:60])
    return kind


def get(conn: sqlite3.Connection, node_id: int) -> NodeRow | None:
    """The node, whoever's it is."""
    row = conn.execute(
        f"SELECT {COLUMNS} FROM memory_nodes n WHERE n.id = ?", (node_id,)
    ).fetchone()
    return None if row is None else NodeRow.of(row)


def visible(conn: sqlite3.Connection, node_id: int, person_id: str, max_tier: int) -> NodeRow:
    """The node if the person may read it at ``max_tier``; else ``NodeNotFoundError``."""
    row = conn.execute(
        f"SELECT {COLUMNS} FROM memory_nodes n WHERE n.id = ? AND {VISIBLE}",
        (node_id, person_id, max_tier),
    ).fetchone()
    if row is None:
        raise NodeNotFoundError(f"no node {node_id}")
    return NodeRow.of(row)


def find(
    conn: sqlite3.Connection,
    person_id: str,
    name: str,
    *,
    kind: str | None,
    max_tier: int,
    limit: int = 10,
) -> list[NodeRow]:
    """Visible nodes named or aliased ``name`` (any case); the person's own first."""
    wanted = key(name)
    kind_clause = "" if kind is None else " AND n.kind = ?"
    kind_params: tuple[Any, ...] = () if kind is None else (kind,)
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM memory_nodes n WHERE n.id IN ("
        "SELECT id FROM memory_nodes WHERE ifnull(owner, '') IN (?, '') AND name_key = ? "
        "UNION SELECT node_id FROM memory_aliases WHERE alias_key = ?"
        f") AND {VISIBLE}{kind_clause} ORDER BY n.owner IS NULL, n.name_key <> ?, n.id LIMIT ?",
        (person_id, wanted, wanted, person_id, max_tier, *kind_params, wanted, limit),
    ).fetchall()
    return [NodeRow.of(row) for row in rows]


def aliases_of(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, list[str]]:
    """``node id → aliases`` (alphabetical) for ``ids``."""
    found: dict[int, list[str]] = {node_id: [] for node_id in ids}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        for node_id, alias in conn.execute(
            f"SELECT node_id, alias FROM memory_aliases WHERE node_id IN ({marks}) "
            "ORDER BY node_id, alias_key",
            chunk,
        ):
            found[node_id].append(alias)
    return found


def views(conn: sqlite3.Connection, rows: Sequence[NodeRow]) -> list[dict[str, Any]]:
    """NodeViews of ``rows``, aliases included."""
    aliases = aliases_of(conn, [row.id for row in rows])
    return [view(row, aliases[row.id]) for row in rows]


def view(row: NodeRow, aliases: Sequence[str]) -> dict[str, Any]:
    """A NodeView: what a client (or the agent's tools) sees of a node."""
    return {
        "id": row.id,
        "kind": row.kind,
        "name": row.name,
        "aliases": list(aliases),
        "owner": row.owner,
        "household": row.owner is None,
        "required_tier": row.required_tier,
        "created_at": iso_millis(row.created_at),
        "updated_at": iso_millis(row.updated_at),
    }


def lite(row: NodeRow) -> dict[str, Any]:
    """A node named inside a relation."""
    return {"id": row.id, "kind": row.kind, "name": row.name}


def insert(
    conn: sqlite3.Connection,
    *,
    owner: str | None,
    kind: str,
    name: str,
    aliases: Sequence[str] = (),
    required_tier: int = 0,
    created_by: str | None,
    now: float,
) -> int:
    """A new node with its aliases and its search row, in the caller's transaction; its id."""
    try:
        cursor = conn.execute(
            "INSERT INTO memory_nodes (owner, kind, name, name_key, required_tier, created_by, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (owner, kind, name, key(name), required_tier, created_by, now, now),
        )
    except sqlite3.IntegrityError:
        raise NodeExistsError(
            f"there is already a {kind} named {name!r}", kind=kind, name=name
        ) from None
    node_id = int(cursor.lastrowid or 0)
    set_aliases(conn, node_id, aliases)
    reindex(conn, node_id, name, aliases)
    return node_id


def rename(
    conn: sqlite3.Connection, row: NodeRow, name: str, *, by_person: bool, now: float
) -> None:
    """Give the node a new name (in the caller's transaction); its search row follows."""
    try:
        conn.execute(
            "UPDATE memory_nodes SET name = ?, name_key = ?, updated_at = ?, "
            "named_by_person = named_by_person OR ? WHERE id = ?",
            (name, key(name), now, by_person, row.id),
        )
    except sqlite3.IntegrityError:
        raise NodeExistsError(
            f"there is already a {row.kind} named {name!r}", kind=row.kind, name=name
        ) from None


def set_aliases(conn: sqlite3.Connection, node_id: int, aliases: Sequence[str]) -> None:
    """Replace the node's aliases (the search row is the caller's to refresh)."""
    conn.execute("DELETE FROM memory_aliases WHERE node_id = ?", (node_id,))
    conn.executemany(
        "INSERT OR IGNORE INTO memory_aliases (node_id, alias, alias_key) VALUES (?, ?, ?)",
        [(node_id, alias, key(alias)) for alias in aliases],
    )


def reindex(conn: sqlite3.Connection, node_id: int, name: str, aliases: Sequence[str]) -> None:
    """The node's search row: its name and aliases."""
    conn.execute("DELETE FROM memory_search WHERE rowid = ?", (node_rowid(node_id),))
    conn.execute(
        "INSERT INTO memory_search (rowid, name, body) VALUES (?, ?, '')",
        (node_rowid(node_id), "\n".join((name, *aliases))),
    )


def delete(conn: sqlite3.Connection, node_ids: Sequence[int]) -> None:
    """Delete nodes with their facts' and their own search rows (rows cascade), in the caller's
    transaction."""
    for start in range(0, len(node_ids), 500):
        chunk = list(node_ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        conn.execute(
            "DELETE FROM memory_search WHERE rowid IN "
            f"(SELECT id * 2 + 1 FROM memory_facts WHERE node_id IN ({marks}))",
            chunk,
        )
        conn.executemany(
            "DELETE FROM memory_search WHERE rowid = ?", [(node_rowid(n),) for n in chunk]
        )
        conn.execute(f"DELETE FROM memory_nodes WHERE id IN ({marks})", chunk)


def node_rowid(node_id: int) -> int:
    """The search row of a node."""
    return node_id * 2


def may_change(
    owner: str | None, created_by: str | None, person_id: str, *, is_admin: bool
) -> bool:
    """One's own rows are one's own; a household row is its maker's and the admins'."""
    return owner == person_id or (owner is None and (is_admin or created_by == person_id))
