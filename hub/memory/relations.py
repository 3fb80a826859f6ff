"""Relations between nodes, their predicates, and queries that honour the inference flags.

A transitive predicate follows chains (``a part_of b part_of c``: ``a part_of c``), a symmetric one
reads both ways (``a knows b``: ``b knows a``). Chains are followed by a recursive CTE that is
cycle-safe (``UNION`` drops rows seen before), at most ``MAX_DEPTH`` deep and ``MAX_ROWS`` long,
so a cycle or a dense graph answers promptly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from hub.integrations.contributions import CORE_PREDICATES
from hub.memory.errors import PredicateUnknownError, RelationNotFoundError
from hub.memory.nodes import COLUMNS as NODE_COLUMNS
from hub.memory.nodes import NodeRow, lite

MAX_DEPTH: Final = 10
MAX_ROWS: Final = 500
COLUMNS: Final = (
    "r.id, r.owner, r.subject_id, r.predicate, r.object_id, r.source, r.source_ref, "
    "r.required_tier, r.created_at, r.created_by"
)
_VISIBLE_EDGE: Final = (
    "(r.owner = ? OR r.owner IS NULL) AND r.required_tier <= ? "
    "AND (m.owner = ? OR m.owner IS NULL) AND m.required_tier <= ?"
)
"""A relation and its far end ``memory_nodes m`` a person may read; params ``(p, t, p, t)``."""


@dataclass(frozen=True, slots=True)
class Predicate:
    """A predicate the memory accepts, with its inference flags."""

    key: str
    name: str
    description: str | None
    is_transitive: bool
    is_symmetric: bool
    source: str
    """``core`` or the declaring integration's domain."""

    def view(self) -> dict[str, Any]:
        """As ``GET /api/memory/predicates`` lists it."""
        return {
            "key": self.key,
            "name": self.name,
            "description": self.description,
            "is_transitive": self.is_transitive,
            "is_symmetric": self.is_symmetric,
            "source": self.source,
        }


CORE: Final = (
    Predicate("is_a", "is a", "A kind of, or an instance of, the other.", True, False, "core"),
    Predicate("part_of", "part of", "Belongs inside the other as a part.", True, False, "core"),
    Predicate("located_in", "located in", "Is found in the other place.", True, False, "core"),
    Predicate("depends_on", "depends on", "Needs the other first.", True, False, "core"),
    Predicate("related_to", "related to", "Connected in some way.", False, True, "core"),
    Predicate("knows", "knows", "Two people who know each other.", False, True, "core"),
    Predicate("member_of", "member of", "Belongs to a group.", False, False, "core"),
    Predicate("owns", "owns", "Possesses the other.", False, False, "core"),
)
assert {p.key for p in CORE} == CORE_PREDICATES


def predicates(
    declared: Iterable[tuple[str, Iterable[Mapping[str, Any]]]],
) -> dict[str, Predicate]:
    """The core predicates, then each domain's declared relation types (already clamped)."""
    found = {p.key: p for p in CORE}
    for domain, relation_types in declared:
        for row in relation_types:
            key = str(row.get("key", ""))
            if not key or key in found:
                continue
            found[key] = Predicate(
                key,
                str(row.get("name") or key),
                row.get("description"),
                bool(row.get("is_transitive")),
                bool(row.get("is_symmetric")),
                domain,
            )
    return found


def check(predicate: str, known: Mapping[str, Predicate]) -> Predicate:
    """The predicate, if registered; else a 400 naming it."""
    found = known.get(predicate)
    if found is None:
        raise PredicateUnknownError(
            f"{predicate[:80]!r} is not a known relation", predicate=predicate[:80]
        )
    return found


@dataclass(frozen=True, slots=True)
class RelationRow:
    """A relation as stored."""

    id: int
    owner: str | None
    subject_id: int
    predicate: str
    object_id: int
    source: str
    source_ref: str | None
    required_tier: int
    created_at: float
    created_by: str | None

    @classmethod
    def of(cls, row: Sequence[Any]) -> RelationRow:
        """From a row selected with ``COLUMNS``."""
        return cls(*row)


def get(conn: sqlite3.Connection, relation_id: int, person_id: str, max_tier: int) -> RelationRow:
    """The relation if the person may read it and both its nodes."""
    row = conn.execute(
        f"SELECT {COLUMNS} FROM memory_relations r "
        "JOIN memory_nodes s ON s.id = r.subject_id JOIN memory_nodes m ON m.id = r.object_id "
        f"WHERE r.id = ? AND {_VISIBLE_EDGE} "
        "AND (s.owner = ? OR s.owner IS NULL) AND s.required_tier <= ?",
        (relation_id, person_id, max_tier, person_id, max_tier, person_id, max_tier),
    ).fetchone()
    if row is None:
        raise RelationNotFoundError(f"no relation {relation_id}")
    return RelationRow.of(row)


def insert(
    conn: sqlite3.Connection,
    *,
    owner: str | None,
    subject_id: int,
    predicate: str,
    object_id: int,
    source: str,
    source_ref: str | None,
    required_tier: int,
    created_by: str | None,
    now: float,
) -> int:
    """The relation's id: a new one, or the one ``owner`` already has stating the same."""
    conn.execute(
        "INSERT OR IGNORE INTO memory_relations (owner, subject_id, predicate, object_id, "
        "source, source_ref, required_tier, created_at, created_by) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            owner,
            subject_id,
            predicate,
            object_id,
            source,
            source_ref,
            required_tier,
            now,
            created_by,
        ),
    )
    row = conn.execute(
        "SELECT id FROM memory_relations WHERE subject_id = ? AND predicate = ? AND object_id = ? "
        "AND ifnull(owner, '') = ifnull(?, '')",
        (subject_id, predicate, object_id, owner),
    ).fetchone()
    return int(row[0])


def around(
    conn: sqlite3.Connection,
    node_id: int,
    person_id: str,
    max_tier: int,
    known: Mapping[str, Predicate],
    *,
    limit: int = MAX_ROWS,
) -> list[dict[str, Any]]:
    """RelationViews of a node: stated either way (at most ``limit`` each way), and inferred
    along transitive predicates (at most ``limit`` rows walked each way)."""
    vis = (person_id, max_tier, person_id, max_tier)
    out = [
        RelationRow.of(row)
        for row in conn.execute(
            f"SELECT {COLUMNS} FROM memory_relations r JOIN memory_nodes m ON m.id = r.object_id "
            f"WHERE r.subject_id = ? AND {_VISIBLE_EDGE} ORDER BY r.predicate, r.id LIMIT ?",
            (node_id, *vis, limit),
        )
    ]
    into = [
        RelationRow.of(row)
        for row in conn.execute(
            f"SELECT {COLUMNS} FROM memory_relations r JOIN memory_nodes m ON m.id = r.subject_id "
            f"WHERE r.object_id = ? AND {_VISIBLE_EDGE} ORDER BY r.predicate, r.id LIMIT ?",
            (node_id, *vis, limit),
        )
    ]
    transitive = sorted(k for k, p in known.items() if p.is_transitive)
    symmetric = sorted(k for k, p in known.items() if p.is_symmetric)
    ahead = reach(
        conn, node_id, transitive, symmetric, person_id, max_tier, forward=True, limit=limit
    )
    behind = reach(
        conn, node_id, transitive, symmetric, person_id, max_tier, forward=False, limit=limit
    )
    ids = {node_id, *(r.subject_id for r in into), *(r.object_id for r in out)}
    ids |= {other for _, other in ahead} | {other for _, other in behind}
    ends = _nodes(conn, ids)
    here = ends[node_id]
    found = [_view(r, ends[r.subject_id], ends[r.object_id], inferred=False) for r in out]
    for r in into:
        if r.predicate in symmetric:  # read from this side: this node is the subject
            found.append(_view(r, here, ends[r.subject_id], inferred=True))
        else:
            found.append(_view(r, ends[r.subject_id], here, inferred=False))
    stated = {(v["subject"]["id"], v["predicate"], v["object"]["id"]) for v in found}
    for predicate, other in ahead:
        if (node_id, predicate, other) not in stated:
            found.append(_inferred(here, predicate, ends[other]))
    for predicate, other in behind:
        if (other, predicate, node_id) not in stated:
            found.append(_inferred(ends[other], predicate, here))
    return found


def reach(
    conn: sqlite3.Connection,
    start: int,
    transitive: Sequence[str],
    symmetric: Sequence[str],
    person_id: str,
    max_tier: int,
    *,
    forward: bool,
    limit: int = MAX_ROWS,
) -> list[tuple[str, int]]:
    """``(predicate, node)`` reached from ``start`` in two or more steps along one transitive
    predicate (``forward``: as subject; else as object); a symmetric one is walked both ways."""
    if not transitive:
        return []
    near, far = ("subject_id", "object_id") if forward else ("object_id", "subject_id")
    marks = ",".join("?" * len(transitive))
    both = [p for p in transitive if p in set(symmetric)]
    both_marks = ",".join("?" * len(both))
    vis = (person_id, max_tier, person_id, max_tier)
    # Visibility is a column, not a condition on the relation: a condition there makes SQLite
    # build a Bloom filter over the whole table at every step. Rows not visible are not walked
    # on (``reach.ok``) and not returned.
    seed = (
        f"SELECT r.predicate, r.{far}, 1, {_VISIBLE_EDGE} FROM memory_relations r "
        f"JOIN memory_nodes m ON m.id = r.{far} WHERE r.{near} = ? AND r.predicate IN ({marks})"
    )
    step = (
        f"SELECT r.predicate, r.{far}, reach.depth + 1, {_VISIBLE_EDGE} FROM reach "
        f"JOIN memory_relations r ON r.{near} = reach.id AND r.predicate = reach.predicate "
        f"JOIN memory_nodes m ON m.id = r.{far} WHERE reach.ok AND reach.depth < ?"
    )
    params: list[Any] = [*vis, start, *transitive]
    parts = [seed]
    if both:
        parts.append(
            f"SELECT r.predicate, r.{near}, 1, {_VISIBLE_EDGE} FROM memory_relations r "
            f"JOIN memory_nodes m ON m.id = r.{near} "
            f"WHERE r.{far} = ? AND r.predicate IN ({both_marks})"
        )
        params += [*vis, start, *both]
    parts.append(step)
    params += [*vis, MAX_DEPTH]
    if both:
        parts.append(
            f"SELECT r.predicate, r.{near}, reach.depth + 1, {_VISIBLE_EDGE} FROM reach "
            f"JOIN memory_relations r ON r.{far} = reach.id AND r.predicate = reach.predicate "
            f"JOIN memory_nodes m ON m.id = r.{near} "
            f"WHERE reach.ok AND reach.depth < ? AND reach.predicate IN ({both_marks})"
        )
        params += [*vis, MAX_DEPTH, *both]
    sql = (
        "WITH RECURSIVE reach(predicate, id, depth, ok) AS ("
        + " UNION ".join(parts)
        + " LIMIT ?) SELECT predicate, id FROM reach WHERE ok AND id <> ? "
        "GROUP BY predicate, id HAVING min(depth) >= 2 ORDER BY predicate, min(depth), id"
    )
    params += [min(limit, MAX_ROWS), start]
    return [(row[0], int(row[1])) for row in conn.execute(sql, params)]


def _nodes(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, NodeRow]:
    wanted = sorted(ids)
    found: dict[int, NodeRow] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT {NODE_COLUMNS} FROM memory_nodes n WHERE n.id IN ({marks})", chunk
        ):
            found[row[0]] = NodeRow.of(row)
    return found


def _view(r: RelationRow, subject: NodeRow, obj: NodeRow, *, inferred: bool) -> dict[str, Any]:
    return {
        "id": r.id,
        "subject": lite(subject),
        "predicate": r.predicate,
        "object": lite(obj),
        "inferred": inferred,
        "source": r.source,
        "owner": r.owner,
        "household": r.owner is None,
    }


def _inferred(subject: NodeRow, predicate: str, obj: NodeRow) -> dict[str, Any]:
    """A relation no one stated: it follows from a chain of stated ones."""
    return {
        "id": None,
        "subject": lite(subject),
        "predicate": predicate,
        "object": lite(obj),
        "inferred": True,
        "source": "inferred",
        "owner": None,
        "household": False,
    }
