"""``Memory``: the one service the agent's tools, the REST API and the linker go through.

Every read takes ``max_tier`` and never returns a row above it (a node above it is invisible with
its facts and relations); every operation is one round trip to the database's thread, and every
write one transaction that keeps the search index in step.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Final

from hub.core.database import Database
from hub.entities.service import EntityService
from hub.integrations.catalog import IntegrationCatalog
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.contributions import relation_types
from hub.integrations.registry import IntegrationRegistry
from hub.memory import facts, nodes, relations
from hub.memory.errors import MemoryForbiddenError, MemoryInvalidError, NodeNotFoundError
from hub.memory.links import Linker, TierRule, entity_tier, fail_closed
from hub.memory.nodes import NodeRow
from hub.memory.search import fts_any, fts_prefix, search_facts, search_nodes
from hub.memory.txn import transaction

TOP_TIER: Final = 2
"""What the web UI reads with: everything the person may see."""
DETAIL_FACTS: Final = 200
"""Facts a node's page shows (newest first)."""
RECALL_FACTS: Final = 50
"""Facts recall returns per node."""
RECALL_NODES: Final = 3
"""Nodes recall details at most."""
RECALL_RELATIONS: Final = 50
"""Relations recall walks per node and direction: what a model can use, not a whole graph."""
MAX_LIMIT: Final = 200


class Memory:
    """Nodes, aliases, facts, relations and entity links, scoped per person and tier."""

    def __init__(
        self,
        database: Database,
        entities: EntityService,
        entries: ConfigEntries,
        registry: IntegrationRegistry,
        catalog: IntegrationCatalog,
        *,
        is_admin: Callable[[str], bool] | None = None,
        tier_rule: TierRule = fail_closed,
    ) -> None:
        self._db = database
        self._entries = entries
        self._registry = registry
        self._catalog = catalog
        self._is_admin = is_admin or (lambda _person_id: False)
        self._declared: dict[int, tuple[dict[str, Any], ...]] = {}
        self.links = Linker(database, entities, entries, registry, tier_rule)

    # Lifecycle

    async def start(self) -> None:
        """Link entities of ``world_kind`` types as they are written (and those missed meanwhile)."""
        await self.links.start()

    async def stop(self) -> None:
        """Stop linking (what is left is linked at the next start)."""
        await self.links.stop()

    # Vocabulary

    def kinds(self) -> list[str]:
        """The core kinds, then every ``world_kind`` a loaded integration's entity types use."""
        return [*nodes.CORE_KINDS, *sorted(set(self.links.world_kinds()) - set(nodes.CORE_KINDS))]

    def predicates(self) -> list[dict[str, Any]]:
        """Every predicate a relation may use, core ones first."""
        return [p.view() for p in self._predicates().values()]

    def _predicates(self) -> dict[str, relations.Predicate]:
        # Imported integrations answer for themselves (clamped as the catalog does); the catalog
        # remembers the relation types of those not imported since the start.
        loaded, _, _ = self._registry.resolved()
        declared: dict[str, tuple[dict[str, Any], ...]] = {
            row.domain: row.relation_types
            for row in self._catalog.rows()
            if row.status == "loaded" and row.enabled
        }
        for item in loaded:
            cached = self._declared.get(id(item.integration))
            if cached is None:
                cached = self._declared[id(item.integration)] = tuple(relation_types(item))
            declared[item.domain] = cached
        return relations.predicates(sorted(declared.items()))

    # Reading

    async def search(
        self,
        person_id: str,
        q: str,
        *,
        kind: str | None = None,
        limit: int = 20,
        max_tier: int = TOP_TIER,
    ) -> list[dict[str, Any]]:
        """Visible nodes whose name, an alias or a fact matches ``q`` (all nodes when empty)."""
        limit = max(1, min(limit, MAX_LIMIT))
        query = fts_prefix(q)

        def search(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = search_nodes(conn, person_id, query, kind=kind, limit=limit, max_tier=max_tier)
            return nodes.views(conn, rows)

        await self.links.caught_up()
        return await self._db.run(search)

    async def node(
        self, person_id: str, node_id: int, *, max_tier: int = TOP_TIER
    ) -> dict[str, Any]:
        """A NodeDetail: the node, its facts, its relations (inferred included), linked entities."""
        known = self._predicates()

        def detail(conn: sqlite3.Connection) -> dict[str, Any]:
            row = nodes.visible(conn, node_id, person_id, max_tier)
            return _detail(conn, row, person_id, max_tier, known, DETAIL_FACTS)

        await self.links.caught_up()
        return await self._db.run(detail)

    async def resolve(
        self,
        person_id: str,
        subject: str,
        *,
        kind: str | None = None,
        create: bool = False,
        household: bool = False,
        max_tier: int = TOP_TIER,
    ) -> dict[str, Any] | None:
        """The visible node named or aliased ``subject``; with ``create``, made when missing."""
        name = nodes.clean_name(subject)
        if kind is not None:
            nodes.check_kind(kind, self.kinds())

        def find(conn: sqlite3.Connection) -> dict[str, Any] | None:
            found = nodes.find(conn, person_id, name, kind=kind, max_tier=max_tier, limit=1)
            return nodes.views(conn, found)[0] if found else None

        await self.links.caught_up()
        node = await self._db.run(find)
        if node is None and create:
            return await self.create_node(person_id, kind or "thing", name, household=household)
        return node

    async def recall(
        self, person_id: str, query: str, *, max_tier: int, limit: int = 20
    ) -> dict[str, Any]:
        """What the memory holds about ``query``: a node named so with its facts and relations,
        else the nodes and facts whose words match it best."""
        text = " ".join(query.split())[: nodes.MAX_NAME]
        limit = max(1, min(limit, MAX_LIMIT))
        known = self._predicates()
        words = fts_any(text)

        def recall(conn: sqlite3.Connection) -> dict[str, Any]:
            if not text:
                return {"nodes": [], "facts": []}
            rows = nodes.find(
                conn, person_id, text, kind=None, max_tier=max_tier, limit=RECALL_NODES
            )
            found_facts: list[dict[str, Any]] = []
            if not rows and words:
                rows = search_nodes(
                    conn,
                    person_id,
                    words,
                    kind=None,
                    limit=RECALL_NODES,
                    max_tier=max_tier,
                    names_only=True,
                )
                found_facts = search_facts(conn, person_id, words, limit=limit, max_tier=max_tier)
            details = [
                _detail(conn, row, person_id, max_tier, known, RECALL_FACTS, RECALL_RELATIONS)
                for row in rows
            ]
            return {"nodes": details, "facts": found_facts}

        await self.links.caught_up()
        return await self._db.run(recall)

    async def node_of_entity(self, entity_id: int) -> int | None:
        """The node an entity is linked to, if any."""
        await self.links.caught_up()
        rows = list(
            await self._db.conn.execute_fetchall(
                "SELECT node_id FROM memory_links WHERE entity_id = ?", (entity_id,)
            )
        )
        return int(rows[0][0]) if rows else None

    # Nodes

    async def create_node(
        self,
        person_id: str,
        kind: str,
        name: str,
        *,
        aliases: Sequence[str] = (),
        household: bool = False,
    ) -> dict[str, Any]:
        """A node of the person's (or, ``household``, everyone's)."""
        nodes.check_kind(kind, self.kinds())
        name = nodes.clean_name(name)
        wanted = nodes.clean_aliases(aliases, name)
        owner = None if household else person_id
        now = time.time()

        def create(conn: sqlite3.Connection) -> dict[str, Any]:
            with transaction(conn):
                node_id = nodes.insert(
                    conn,
                    owner=owner,
                    kind=kind,
                    name=name,
                    aliases=wanted,
                    created_by=person_id,
                    now=now,
                )
            return _node_view(conn, node_id)

        return await self._db.run(create)

    async def update_node(
        self,
        person_id: str,
        node_id: int,
        *,
        name: str | None = None,
        aliases: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Rename a node or replace its aliases."""
        new_name = None if name is None else nodes.clean_name(name)
        is_admin = self._is_admin(person_id)
        now = time.time()

        def update(conn: sqlite3.Connection) -> dict[str, Any]:
            with transaction(conn):
                row = nodes.visible(conn, node_id, person_id, TOP_TIER)
                _may_change(row.owner, row.created_by, person_id, is_admin)
                final = new_name or row.name
                wanted = (
                    nodes.aliases_of(conn, [row.id])[row.id]
                    if aliases is None
                    else nodes.clean_aliases(aliases, final)
                )
                if new_name is not None and new_name != row.name:
                    nodes.rename(conn, row, new_name, by_person=True, now=now)
                if aliases is not None:
                    nodes.set_aliases(conn, row.id, wanted)
                conn.execute("UPDATE memory_nodes SET updated_at = ? WHERE id = ?", (now, row.id))
                nodes.reindex(
                    conn, row.id, final, [a for a in wanted if nodes.key(a) != nodes.key(final)]
                )
            return _node_view(conn, node_id)

        return await self._db.run(update)

    async def delete_node(self, person_id: str, node_id: int) -> None:
        """Delete a node with its facts, relations and entity links (the entities stay)."""
        is_admin = self._is_admin(person_id)

        def delete(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                row = nodes.visible(conn, node_id, person_id, TOP_TIER)
                _may_change(row.owner, row.created_by, person_id, is_admin)
                nodes.delete(conn, [row.id])

        await self._db.run(delete)

    # Facts

    async def add_fact(
        self,
        person_id: str,
        node_id: int,
        text: str,
        *,
        source: str = "person",
        source_ref: str | None = None,
        required_tier: int = 0,
        household: bool = False,
    ) -> dict[str, Any]:
        """A fact about a node the person may see: theirs, or (``household``) everyone's."""
        text = facts.clean_text(text)
        facts.check_source(source)
        tier = max(required_tier, await self._source_tier(source, source_ref))
        owner = None if household else person_id
        now = time.time()

        def add(conn: sqlite3.Connection) -> dict[str, Any]:
            with transaction(conn):
                node = nodes.visible(conn, node_id, person_id, TOP_TIER)
                if household and node.owner is not None:
                    raise _household_private()
                facts.check_room(conn, owner)
                fact_id = facts.insert(
                    conn,
                    node_id=node.id,
                    owner=owner,
                    text=text,
                    source=source,
                    source_ref=source_ref,
                    required_tier=tier,
                    created_by=person_id,
                    now=now,
                )
                conn.execute("UPDATE memory_nodes SET updated_at = ? WHERE id = ?", (now, node.id))
            return facts.visible(conn, fact_id, person_id, TOP_TIER).view()

        return await self._db.run(add)

    async def update_fact(
        self, person_id: str, fact_id: int, text: str, *, max_tier: int = TOP_TIER
    ) -> dict[str, Any]:
        """Change a fact's text."""
        text = facts.clean_text(text)
        is_admin = self._is_admin(person_id)

        def update(conn: sqlite3.Connection) -> dict[str, Any]:
            with transaction(conn):
                row = facts.visible(conn, fact_id, person_id, max_tier)
                _may_change(row.owner, row.created_by, person_id, is_admin)
                facts.set_text(conn, fact_id, text)
            return facts.visible(conn, fact_id, person_id, TOP_TIER).view()

        return await self._db.run(update)

    async def delete_fact(self, person_id: str, fact_id: int, *, max_tier: int = TOP_TIER) -> None:
        """Delete a fact the person may see and change."""
        is_admin = self._is_admin(person_id)

        def delete(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                row = facts.visible(conn, fact_id, person_id, max_tier)
                _may_change(row.owner, row.created_by, person_id, is_admin)
                facts.delete(conn, fact_id)

        await self._db.run(delete)

    # Relations

    async def relate(
        self,
        person_id: str,
        subject_id: int,
        predicate: str,
        object_id: int,
        *,
        source: str = "person",
        source_ref: str | None = None,
        household: bool = False,
        max_tier: int = TOP_TIER,
    ) -> dict[str, Any]:
        """State ``subject predicate object`` (the same statement twice is one relation)."""
        known = self._predicates()
        relations.check(predicate, known)
        facts.check_source(source)
        if subject_id == object_id:
            raise MemoryInvalidError(
                "a node cannot be related to itself", key="errors.memory_relation_self"
            )
        tier = await self._source_tier(source, source_ref)
        owner = None if household else person_id
        now = time.time()

        def relate(conn: sqlite3.Connection) -> dict[str, Any]:
            with transaction(conn):
                subject = nodes.visible(conn, subject_id, person_id, max_tier)
                obj = nodes.visible(conn, object_id, person_id, max_tier)
                if household and (subject.owner is not None or obj.owner is not None):
                    raise _household_private()
                relation_id = relations.insert(
                    conn,
                    owner=owner,
                    subject_id=subject.id,
                    predicate=predicate,
                    object_id=obj.id,
                    source=source,
                    source_ref=source_ref,
                    required_tier=tier,
                    created_by=person_id,
                    now=now,
                )
            row = relations.get(conn, relation_id, person_id, TOP_TIER)
            return {
                "id": row.id,
                "subject": nodes.lite(subject),
                "predicate": row.predicate,
                "object": nodes.lite(obj),
                "inferred": False,
                "source": row.source,
                "owner": row.owner,
                "household": row.owner is None,
            }

        return await self._db.run(relate)

    async def delete_relation(
        self, person_id: str, relation_id: int, *, max_tier: int = TOP_TIER
    ) -> None:
        """Delete a relation the person may see and change."""
        is_admin = self._is_admin(person_id)

        def delete(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                row = relations.get(conn, relation_id, person_id, max_tier)
                _may_change(row.owner, row.created_by, person_id, is_admin)
                conn.execute("DELETE FROM memory_relations WHERE id = ?", (row.id,))

        await self._db.run(delete)

    # People

    async def forget_person(self, person_id: str) -> None:
        """Delete every row the person owns (and their search rows); household rows they made
        stay the household's, without their name on them."""
        await self._db.run(partial(_forget, person_id=person_id))

    # Internals

    async def _source_tier(self, source: str, source_ref: str | None) -> int:
        """The tier a row drawn from an entity (a message is one) carries: its entry's; else 0."""
        if source not in ("entity", "message") or source_ref is None or not source_ref.isdigit():
            return 0
        rows = list(
            await self._db.conn.execute_fetchall(
                "SELECT entry_id, domain FROM entities WHERE id = ?", (int(source_ref),)
            )
        )
        if not rows:
            return 0
        return entity_tier(
            self._entries, self._registry, rows[0][0], rows[0][1], self.links.tier_rule
        )


def _detail(
    conn: sqlite3.Connection,
    row: NodeRow,
    person_id: str,
    max_tier: int,
    known: dict[str, relations.Predicate],
    fact_limit: int,
    relation_limit: int = relations.MAX_ROWS,
) -> dict[str, Any]:
    detail = nodes.views(conn, [row])[0]
    found = facts.of_nodes(conn, [row.id], person_id, max_tier, limit=fact_limit)[row.id]
    detail["facts"] = [fact.view() for fact in found]
    detail["relations"] = relations.around(
        conn, row.id, person_id, max_tier, known, limit=relation_limit
    )
    detail["entities"] = [
        r[0]
        for r in conn.execute(
            "SELECT entity_id FROM memory_links WHERE node_id = ? ORDER BY entity_id", (row.id,)
        )
    ]
    return detail


def _node_view(conn: sqlite3.Connection, node_id: int) -> dict[str, Any]:
    row = nodes.get(conn, node_id)
    if row is None:
        raise NodeNotFoundError(f"no node {node_id}")
    return nodes.views(conn, [row])[0]


def _may_change(owner: str | None, created_by: str | None, person_id: str, is_admin: bool) -> None:
    if not nodes.may_change(owner, created_by, person_id, is_admin=is_admin):
        raise MemoryForbiddenError(
            "only the person who added this household memory, or an admin, may change it"
        )


def _household_private() -> MemoryInvalidError:
    return MemoryInvalidError(
        "a household fact or relation can only be about household nodes",
        key="errors.memory_household_private",
    )


def _forget(conn: sqlite3.Connection, *, person_id: str) -> None:
    with transaction(conn):
        # Search rows first: the rows they point at are gone after.
        conn.execute(
            "DELETE FROM memory_search WHERE rowid IN (SELECT id * 2 + 1 FROM memory_facts "
            "WHERE owner = ? OR node_id IN "
            "(SELECT id FROM memory_nodes WHERE ifnull(owner, '') = ?))",
            (person_id, person_id),
        )
        conn.execute(
            "DELETE FROM memory_search WHERE rowid IN "
            "(SELECT id * 2 FROM memory_nodes WHERE ifnull(owner, '') = ?)",
            (person_id,),
        )
        conn.execute("DELETE FROM memory_facts WHERE owner = ?", (person_id,))
        conn.execute("DELETE FROM memory_relations WHERE owner = ?", (person_id,))
        conn.execute(  # aliases, links and what else hangs on them cascade
            "DELETE FROM memory_nodes WHERE ifnull(owner, '') = ?", (person_id,)
        )
        for table in ("memory_nodes", "memory_facts", "memory_relations"):
            conn.execute(f"UPDATE {table} SET created_by = NULL WHERE created_by = ?", (person_id,))
