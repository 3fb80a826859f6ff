"""Entities of a type with ``world_kind`` linked to a node of that kind, named like the entity.

Links are an index over the entities, kept like the entity search index: off the sync's path and
always before a read. An apply of an entry whose integration has linked types tells the linker
(``EntityService.riders``) the lowest new entity id of each such type; a moment later the linker
links every unlinked entity from there on, set-wise, a batch per transaction, so a sync of
thousands neither waits for its nodes nor holds the database for them in one go. A memory read
first links whatever is due, so it never answers without an entity written before it. At start
every linked type is due from its first entity: what was written while nothing linked (the hub was
down, a type gained ``world_kind``, a batch failed) is linked then.

A node is got-or-made within the entry's owner (a user entry's person, the household for a global
one) and carries the entry's effective required tier. A renamed entity renames its node, in the
apply's own transaction (or at the next start, if nothing heard it), unless a person renamed the
node (or other entities share it). The link
goes with the entity (foreign key cascade); the node and its facts stay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Final

from hub.core.database import Database, unsynced
from hub.entities.service import EntityService
from hub.entities.store import ApplyOutcome, Rider
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.entry import ConfigEntry, contribution_owner
from hub.integrations.loader import LoadedIntegration
from hub.integrations.manifest import IntegrationManifest, Tier
from hub.integrations.registry import IntegrationRegistry
from hub.memory import nodes
from hub.memory.errors import NodeExistsError
from hub.memory.txn import transaction

_LOGGER = logging.getLogger(__name__)

LINK_DELAY: Final = 0.25
"""Seconds after an apply before its entities are linked, so a sync's applies link together."""
LINK_BATCH: Final = 2000
"""Entities linked per transaction at most (about 20 ms of the database's thread)."""
RETRY_SECONDS: Final = 5.0

TypeKey = tuple[str, str]
"""``(domain, entity_type)`` of a linked type."""


@dataclass(frozen=True, slots=True)
class LinkItem:
    """One entity to link: to a node of ``kind`` named ``name`` owned by ``owner``."""

    entity_id: int
    name: str
    owner: str | None
    kind: str
    tier: int
    new: bool = False
    """Not linked yet (checked in this transaction): no existing link to look up."""


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose an entry's nodes are, and the tier they carry."""

    person: str | None
    tier: int


@dataclass(frozen=True, slots=True)
class LinkPlan:
    """How one entry's entities link, worked out on the loop for its apply's rider."""

    domain: str
    kinds: Mapping[str, str]
    """``entity_type → world_kind`` of the domain's linked types."""
    owner: Owner

    def scan(self, outcome: ApplyOutcome) -> tuple[list[LinkItem], dict[TypeKey, int]]:
        """An apply's renamed entities of linked types, and the lowest new entity id per type."""
        renamed: list[LinkItem] = []
        lowest: dict[TypeKey, int] = {}
        for change in outcome.changes:
            row = change.new
            if row is None:
                continue  # deleted: the link went with it
            kind = self.kinds.get(row.entity_type)
            if kind is None:
                continue
            old = change.old
            if old is None:
                key = (self.domain, row.entity_type)
                if row.id < lowest.get(key, row.id + 1):
                    lowest[key] = row.id
            elif old.name != row.name:
                name = clean(row.name)
                if name:
                    renamed.append(LinkItem(row.id, name, self.owner.person, kind, self.owner.tier))
        return renamed, lowest


def clean(name: str) -> str:
    """An entity's name as its node's: spaces collapsed, cut to a node name's length."""
    return " ".join(name.split())[: nodes.MAX_NAME]


TierRule = Callable[[IntegrationManifest, ConfigEntry | None], int]
"""The governance rule for an entry's effective required tier (``effective_required_tier``),
handed in where the app is wired so the memory need not import the agent."""


def fail_closed(_manifest: IntegrationManifest, _entry: ConfigEntry | None) -> int:
    """Without the rule, what an entity says is for the highest tier only."""
    return int(Tier.INTERNAL)


def entity_tier(
    entries: ConfigEntries,
    registry: IntegrationRegistry,
    entry_id: str,
    domain: str,
    rule: TierRule = fail_closed,
) -> int:
    """The effective required tier of an entity's entry; the highest when it cannot be told."""
    loaded = registry.get(domain)
    if loaded is None:
        return int(Tier.INTERNAL)  # fail closed: nothing says who may read it
    return int(rule(loaded.manifest, entries.get(entry_id)))


class Linker:
    """Keeps ``memory_links`` in step with the entities of ``world_kind`` types."""

    def __init__(
        self,
        database: Database,
        entities: EntityService,
        entries: ConfigEntries,
        registry: IntegrationRegistry,
        tier_rule: TierRule = fail_closed,
    ) -> None:
        self._db = database
        self._entities = entities
        self.tier_rule = tier_rule
        self._entries = entries
        self._registry = registry
        self._types: dict[int, dict[str, str]] = {}
        """The linked types of each loaded integration object (see ``_linked_types``)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._due: dict[TypeKey, int] = {}
        """Linked types with entities that may be unlinked, from which entity id on."""
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self.linked = 0
        """Entities linked since start (renames not counted)."""

    # Lifecycle

    async def start(self) -> None:
        """Hear every apply from now; every linked type is due from its first entity."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._entities.riders.append(self._rider)
        loaded, _, _ = self._registry.resolved()
        for item in loaded:
            for entity_type in self._kinds(item.domain):
                self._due[(item.domain, entity_type)] = 0
        self._arm(0)

    async def stop(self) -> None:
        """Stop linking; what is due is linked at the next start."""
        if self._loop is None:
            return
        self._loop = None
        with contextlib.suppress(ValueError):
            self._entities.riders.remove(self._rider)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._due.clear()

    async def caught_up(self) -> None:
        """Link every entity written so far (a read sees them all); at once, not after the delay."""
        while self._loop is not None and (self._due or self._running()):
            if not self._running():
                self._begin()
            task = self._task
            assert task is not None
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)
            if self._due and self._timer is not None:  # a failure: retried after its delay
                return

    # What links

    def world_kinds(self) -> set[str]:
        """The ``world_kind`` of every entity type of the integrations imported so far."""
        loaded, _, _ = self._registry.resolved()
        return {kind for item in loaded for kind in self._linked_types(item).values()}

    def world_kind(self, domain: str, entity_type: str) -> str | None:
        """The kind an entity type's entities are linked as, if any."""
        return self._kinds(domain).get(entity_type)

    def _kinds(self, domain: str) -> Mapping[str, str]:
        """``entity_type → world_kind`` of a domain's linked types (asked on every apply)."""
        loaded = self._registry.get(domain)
        return {} if loaded is None else self._linked_types(loaded)

    def _linked_types(self, item: LoadedIntegration) -> Mapping[str, str]:
        # Keyed by the loaded object: a new discovery brings new objects, and new declarations.
        found = self._types.get(id(item.integration))
        if found is None:
            try:
                declared = item.integration.entity_types()
                found = {key: d.world_kind for key, d in declared.items() if d.world_kind}
            except Exception:  # a broken declaration links nothing, and breaks nothing
                _LOGGER.exception("entity_types() of %s failed", item.domain)
                found = {}
            self._types[id(item.integration)] = found
        return found

    def _owner(self, entry_id: str, domain: str) -> Owner | None:
        """Whose the entry's nodes are and the tier they carry; ``None`` for a removed entry."""
        entry = self._entries.get(entry_id)
        if entry is None:
            return None  # removed meanwhile: its entities go too
        tier = entity_tier(self._entries, self._registry, entry_id, domain, self.tier_rule)
        return Owner(contribution_owner(entry), tier)

    # Hearing applies

    def _rider(self, entry_id: str, domain: str) -> Rider | None:
        """What an apply of ``entry_id`` does for the links; ``None`` when nothing of it links."""
        kinds = self._kinds(domain)
        if not kinds:
            return None
        owner = self._owner(entry_id, domain)
        if owner is None:
            return None
        return partial(self._ride, plan=LinkPlan(domain, kinds, owner))

    def _ride(self, conn: sqlite3.Connection, outcome: ApplyOutcome, *, plan: LinkPlan) -> None:
        """In the apply's transaction: follow renames now, and mark the new entities due."""
        renamed, lowest = plan.scan(outcome)
        if renamed:
            link(conn, renamed, time.time())
        loop = self._loop
        if lowest and loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed: the next start links them
                loop.call_soon_threadsafe(self._mark_due, lowest)

    def _mark_due(self, lowest: Mapping[TypeKey, int]) -> None:
        for key, entity_id in lowest.items():
            self._due[key] = min(self._due.get(key, entity_id), entity_id)
        self._arm(LINK_DELAY)

    # Linking what is due

    def _running(self) -> bool:
        return self._task is not None and not self._task.done()

    def _arm(self, delay: float) -> None:
        if self._loop is None or self._timer is not None or self._running():
            return  # a running catch-up takes what is due when it ends
        self._timer = self._loop.call_later(delay, self._begin)

    def _begin(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._loop is not None and not self._running():
            self._task = self._loop.create_task(self._catch_up(), name="memory links")

    async def _catch_up(self) -> None:
        while self._due:
            key, start = next(iter(self._due.items()))
            del self._due[key]  # what is marked meanwhile is due again, and taken next round
            try:
                await self._link_type(key, start)
            except asyncio.CancelledError:
                self._due[key] = min(self._due.get(key, start), start)
                raise
            except Exception:  # linking must go on: retried after a delay, and at every start
                _LOGGER.exception("Linking %s entities of %s to the memory failed", key[1], key[0])
                self._due[key] = min(self._due.get(key, start), start)
                if self._loop is not None:
                    self._timer = self._loop.call_later(RETRY_SECONDS, self._begin)
                return
        # Marks that came while the last type was linked were taken above; none are left.

    async def _link_type(self, key: TypeKey, start: int) -> None:
        """Link the unlinked entities of one type from entity id ``start`` on."""
        domain, entity_type = key
        kind = self._kinds(domain).get(entity_type)
        if kind is None:
            return  # the type no longer links
        owners = {
            entry.entry_id: self._owner(entry.entry_id, domain)
            for entry in self._entries.entries()
            if entry.domain == domain
        }
        if start == 0:  # a whole type's sweep (at start): renames made meanwhile are followed too
            await self._db.run(
                partial(_follow_renames, key=key, kind=kind, owners=owners, now=time.time())
            )
        while True:
            done, start = await self._db.run(
                partial(
                    _link_batch, key=key, kind=kind, owners=owners, start=start, now=time.time()
                )
            )
            self.linked += done
            if start < 0:
                return


def _link_batch(
    conn: sqlite3.Connection,
    *,
    key: TypeKey,
    kind: str,
    owners: Mapping[str, Owner | None],
    start: int,
    now: float,
) -> tuple[int, int]:
    """Link up to ``LINK_BATCH`` unlinked entities of a type from id ``start`` on, in one
    transaction; how many, and the id to go on from (``-1``: none are left).

    Not waiting for the disk: links follow from the entities, and what a power cut loses the next
    start links again.
    """
    with unsynced(conn), transaction(conn):
        rows = _unlinked(conn, key, start)
        items = _items(rows, owners, kind, new=True)
        link(conn, items, now)
    if len(rows) < LINK_BATCH:
        return len(items), -1
    return len(items), rows[-1][0] + 1


def _follow_renames(
    conn: sqlite3.Connection,
    *,
    key: TypeKey,
    kind: str,
    owners: Mapping[str, Owner | None],
    now: float,
) -> None:
    """Rename the nodes of a type's linked entities renamed while nothing heard the apply."""
    rows = conn.execute(
        "SELECT e.id, e.entry_id, e.name FROM memory_links l JOIN entities e ON e.id = l.entity_id "
        "JOIN memory_nodes n ON n.id = l.node_id WHERE e.domain = ? AND e.entity_type = ? "
        "AND n.named_by_person = 0 AND n.name != e.name",
        key,
    ).fetchall()
    items = _items(rows, owners, kind, new=False)
    if items:
        with unsynced(conn), transaction(conn):
            link(conn, items, now)


def _items(
    rows: Sequence[tuple[int, str, str]],
    owners: Mapping[str, Owner | None],
    kind: str,
    *,
    new: bool,
) -> list[LinkItem]:
    """What ``(entity id, entry id, name)`` rows link as. An entry made since or removed has no
    owner here: its entities wait for the next start. A new link takes the entity's id for a
    name it lacks; a rename never empties a node's name."""
    items = []
    for entity_id, entry_id, name in rows:
        owner = owners.get(entry_id)
        text = clean(name) or (str(entity_id) if new else "")
        if owner is not None and text:
            items.append(LinkItem(entity_id, text, owner.person, kind, owner.tier, new=new))
    return items


def _unlinked(conn: sqlite3.Connection, key: TypeKey, start: int) -> list[tuple[int, str, str]]:
    return [
        (row[0], row[1], row[2])
        for row in conn.execute(
            "SELECT e.id, e.entry_id, e.name FROM entities e WHERE e.domain = ? "
            "AND e.entity_type = ? AND e.id >= ? AND NOT EXISTS "
            "(SELECT 1 FROM memory_links l WHERE l.entity_id = e.id) ORDER BY e.id LIMIT ?",
            (*key, start, LINK_BATCH),
        )
    ]


def link(conn: sqlite3.Connection, items: Sequence[LinkItem], now: float) -> None:
    """Link ``items`` (entities that exist) in the caller's transaction: set-wise for the
    unlinked ones (a sync's thousands); a linked one's node follows its name."""
    linked = _linked(conn, [item.entity_id for item in items if not item.new])
    fresh = [item for item in items if item.entity_id not in linked]
    for item in items:
        found = linked.get(item.entity_id)
        if found is not None:
            _follow_rename(conn, found[0], found[1], item, now)
    if not fresh:
        return
    newest = conn.execute("SELECT ifnull(max(id), 0) FROM memory_nodes").fetchone()[0]
    # Get-or-create: a name the owner has for that kind already is the node to link to.
    conn.executemany(
        "INSERT OR IGNORE INTO memory_nodes (owner, kind, name, name_key, required_tier, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (item.owner, item.kind, item.name, nodes.key(item.name), item.tier, now, now)
            for item in fresh
        ],
    )
    # New rows take ids above the largest before them: exactly these need search rows.
    conn.execute(
        "INSERT INTO memory_search (rowid, name, body) SELECT id * 2, name, '' "
        "FROM memory_nodes "
        "WHERE id > ?",
        (newest,),
    )
    made = {
        (owner_key, name_key, kind): node_id
        for node_id, owner_key, name_key, kind in conn.execute(
            "SELECT id, ifnull(owner, ''), name_key, kind FROM memory_nodes WHERE id > ?",
            (newest,),
        )
    }
    pairs = []
    for item in fresh:
        wanted = (item.owner or "", nodes.key(item.name), item.kind)
        node_id = made.get(wanted)
        if node_id is None:  # the owner had a node of that name already
            row = conn.execute(
                "SELECT id FROM memory_nodes WHERE ifnull(owner, '') = ? AND name_key = ? "
                "AND kind = ?",
                wanted,
            ).fetchone()
            if row is None:
                continue
            node_id = made[wanted] = int(row[0])
        pairs.append((item.entity_id, node_id))
    conn.executemany("INSERT INTO memory_links (entity_id, node_id) VALUES (?, ?)", pairs)


def _linked(
    conn: sqlite3.Connection, entity_ids: Sequence[int]
) -> dict[int, tuple[nodes.NodeRow, int]]:
    """``entity id → (its node, how many entities share that node)`` of those linked already."""
    found: dict[int, tuple[nodes.NodeRow, int]] = {}
    for start in range(0, len(entity_ids), 500):
        chunk = list(entity_ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT l.entity_id, {nodes.COLUMNS}, (SELECT count(*) FROM memory_links k "
            "WHERE k.node_id = n.id) FROM memory_links l JOIN memory_nodes n "
            f"ON n.id = l.node_id WHERE l.entity_id IN ({marks})",
            chunk,
        ):
            found[row[0]] = (nodes.NodeRow.of(row[1:-1]), row[-1])
    return found


def _follow_rename(
    conn: sqlite3.Connection, node: nodes.NodeRow, links: int, item: LinkItem, now: float
) -> None:
    if node.named_by_person or links != 1 or node.name == item.name:
        return
    try:
        nodes.rename(conn, node, item.name, by_person=False, now=now)
    except NodeExistsError:
        return  # another node has that name: this one keeps its own
    aliases = nodes.aliases_of(conn, [node.id])[node.id]
    nodes.reindex(conn, node.id, item.name, aliases)
