"""Full-text search over node names, aliases and fact texts (the ``memory_search`` FTS5 table).

A node's row is ``2 * id``, a fact's ``2 * id + 1``; a hit counts only when the caller may read
what it points at, so another person's words never surface a node, not even a household one.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Final

from hub.memory import facts, nodes
from hub.memory.nodes import NodeRow

MAX_HITS: Final = 200
"""Best-ranked index rows looked at per search, so a common word costs a bounded amount."""
MAX_WORDS: Final = 8
STOP_WORDS: Final = frozenset(
    (  # noqa: SIM905  # seventy words read better as text
        "the and for are was were what where when who whom which with this that from have has had "
        "about into does did not you your our their his her its there here how why any all "
        "der die das und oder ist sind war wer wie was wann warum wo mit von für auf aus ein eine "
        "einen einem einer den dem des nicht ich du er sie es wir ihr"
    ).split()
)
"""Words that match nearly every fact: a recall question's "where is the …" ranks by the rest."""


def _words(text: str) -> list[str]:
    return [w for w in "".join(c if c.isalnum() else " " for c in text).split() if w]


def fts_prefix(text: str) -> str:
    """Every word as a quoted prefix term, all required: user text is never FTS syntax."""
    return " ".join(f'"{word}"*' for word in _words(text)[:16])


def fts_any(text: str) -> str:
    """The question's telling words, any of them (ranked by how many and how rare)."""
    words = [w for w in _words(text) if len(w) >= 3 and w.casefold() not in STOP_WORDS]
    unique = list(dict.fromkeys(w.casefold() for w in words))[:MAX_WORDS]
    return " OR ".join(f'"{word}"' for word in unique)


def search_nodes(
    conn: sqlite3.Connection,
    person_id: str,
    query: str,
    *,
    kind: str | None,
    limit: int,
    max_tier: int,
    names_only: bool = False,
) -> list[NodeRow]:
    """Visible nodes matching ``query`` (an FTS expression) by name, alias or (unless
    ``names_only``) a visible fact; best first. An empty query lists the latest changed."""
    vis = (person_id, max_tier)
    kind_clause = "" if kind is None else " AND n.kind = ?"
    kind_params: tuple[Any, ...] = () if kind is None else (kind,)
    if not query:
        rows = conn.execute(
            f"SELECT {nodes.COLUMNS} FROM memory_nodes n WHERE {nodes.VISIBLE}{kind_clause} "
            "ORDER BY n.updated_at DESC, n.id DESC LIMIT ?",
            (*vis, *kind_params, limit),
        ).fetchall()
        return [NodeRow.of(row) for row in rows]
    by_fact = (
        ""
        if names_only
        else (
            " UNION ALL SELECT n.id AS node_id, h.rank AS rank FROM hits h "
            "JOIN memory_facts f ON f.id = h.r / 2 JOIN memory_nodes n ON n.id = f.node_id "
            f"WHERE h.r % 2 = 1 AND {facts.VISIBLE_FACT}{kind_clause}"
        )
    )
    match = f"name : ({query})" if names_only else query
    params: list[Any] = [match, MAX_HITS, *vis, *kind_params]
    if not names_only:
        params += [*vis, *vis, *kind_params]
    params.append(limit)
    rows = conn.execute(
        "WITH hits(r, rank) AS (SELECT rowid, rank FROM memory_search "
        "WHERE memory_search MATCH ? ORDER BY rank LIMIT ?), "
        "found(node_id, rank) AS (SELECT n.id, h.rank FROM hits h "
        f"JOIN memory_nodes n ON n.id = h.r / 2 WHERE h.r % 2 = 0 AND {nodes.VISIBLE}{kind_clause}"
        f"{by_fact}), best(node_id, rank) AS (SELECT node_id, min(rank) FROM found "
        "GROUP BY node_id ORDER BY 2 LIMIT ?) "
        f"SELECT {nodes.COLUMNS} FROM best JOIN memory_nodes n ON n.id = best.node_id "
        "ORDER BY best.rank, n.id",
        params,
    ).fetchall()
    return [NodeRow.of(row) for row in rows]


def search_facts(
    conn: sqlite3.Connection, person_id: str, query: str, *, limit: int, max_tier: int
) -> list[dict[str, Any]]:
    """FactViews (each with its node) of visible facts matching ``query``, best first."""
    if not query:
        return []
    vis = (person_id, max_tier, person_id, max_tier)
    rows = conn.execute(
        "WITH hits(r, rank) AS (SELECT rowid, rank FROM memory_search "
        "WHERE memory_search MATCH ? ORDER BY rank LIMIT ?) "
        f"SELECT {facts.COLUMNS}, {nodes.COLUMNS} FROM hits h "
        "JOIN memory_facts f ON f.id = h.r / 2 JOIN memory_nodes n ON n.id = f.node_id "
        f"WHERE h.r % 2 = 1 AND {facts.VISIBLE_FACT} ORDER BY h.rank, f.id LIMIT ?",
        (f"body : ({query})", MAX_HITS, *vis, limit),
    ).fetchall()
    width = len(facts.COLUMNS.split(","))
    found = []
    for row in rows:
        view = facts.FactRow.of(row[:width]).view()
        view["node"] = nodes.lite(NodeRow.of(row[width:]))
        found.append(view)
    return found
