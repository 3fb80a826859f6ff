"""Entities of a type with ``world_kind`` linked to a node of that kind, named like the entity.

A bus subscription gathers ``entity.created`` / ``entity.updated`` events and links each batch in
one transaction: get-or-create the node within the entry's owner (a user entry's person, the
household for a global one), carrying the entry's effective required tier. A renamed entity renames
its node unless a person renamed the node (or other entities share it). The link goes with the
entity (foreign key cascade); the node and its facts stay. Entities the listener missed (the hub
was down, the queue overflowed) are found by a sweep at start and after any drop.
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
from typing import Any, Final

from hub.core.bus import Event, EventBus, Subscription, SubscriptionClosed
from hub.core.database import Database, unsynced
from hub.core.disk import DiskFaultError
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.entities import EntityStateTypeDescriptor
from hub.integrations.entry import ConfigEntry, contribution_owner
from hub.integrations.loader import LoadedIntegration
from hub.integrations.manifest import IntegrationManifest, Tier
from hub.integrations.registry import IntegrationRegistry
from hub.memory import nodes
from hub.memory.errors import NodeExistsError
from hub.memory.txn import transaction

_LOGGER = logging.getLogger(__name__)

LINK_BATCH: Final = 5000
"""Events linked per transaction at most."""
LINK_QUEUE: Final = 20_000
"""Events the subscription holds; a burst beyond it is caught up by a sweep."""
SWEEP_ROWS: Final = 2000
RETRY_SECONDS: Final = 5.0


@dataclass(frozen=True, slots=True)
class LinkItem:
    """One entity to link: to a node of ``kind`` named ``name`` owned by ``owner``."""

    entity_id: int
    name: str
    owner: str | None
    kind: str
    tier: int
    new: bool = False
    """Just created: it cannot have a link yet (a deleted entity's link went with it)."""


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
        bus: EventBus,
        entries: ConfigEntries,
        registry: IntegrationRegistry,
        tier_rule: TierRule = fail_closed,
    ) -> None:
        self._db = database
        self._bus = bus
        self.tier_rule = tier_rule
        self._entries = entries
        self._registry = registry
        self._types: dict[int, dict[str, EntityStateTypeDescriptor]] = {}
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._sweep_due = True
        self._busy = False
        self._drops = 0
        self._idle = asyncio.Condition()
        self.linked = 0
        """Entities linked (or re-linked) since start."""

    # Lifecycle

    async def start(self) -> None:
        """Subscribe and link; whatever was written while no one listened is swept in first."""
        if self._task is not None:
            return
        self._sub = self._bus.subscribe(
            "entity.created", "entity.updated", queue_size=LINK_QUEUE, name="Memory links"
        )
        self._sweep_due = True
        self._task = asyncio.get_running_loop().create_task(
            self._run(self._sub), name="memory links"
        )

    async def stop(self) -> None:
        """Stop linking; what is queued is linked at the next start's sweep."""
        sub, task = self._sub, self._task
        self._sub = self._task = None
        if sub is not None:
            sub.close()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        async with self._idle:
            self._idle.notify_all()

    async def settled(self) -> None:
        """Wait until every entity event fired so far is linked (or linking stopped)."""
        async with self._idle:
            await self._idle.wait_for(self._is_idle)

    def _is_idle(self) -> bool:
        sub = self._sub
        return (
            sub is None
            or self._task is None
            or not (sub.pending() or self._busy or self._sweep_due)
        )

    # What links

    def world_kinds(self) -> set[str]:
        """The ``world_kind`` of every entity type of the integrations imported so far."""
        loaded, _, _ = self._registry.resolved()
        return {
            d.world_kind for item in loaded for d in self._declared(item).values() if d.world_kind
        }

    def world_kind(self, domain: str, entity_type: str) -> str | None:
        """The kind an entity type's entities are linked as, if any."""
        loaded = self._registry.get(domain)
        if loaded is None:
            return None
        descriptor = self._declared(loaded).get(entity_type)
        return None if descriptor is None else descriptor.world_kind

    def _declared(self, item: LoadedIntegration) -> dict[str, EntityStateTypeDescriptor]:
        # Keyed by the loaded object: a new discovery brings new objects, and new declarations.
        found = self._types.get(id(item.integration))
        if found is None:
            try:
                found = dict(item.integration.entity_types())
            except Exception:  # a broken declaration links nothing, and breaks nothing
                _LOGGER.exception("entity_types() of %s failed", item.domain)
                found = {}
            self._types[id(item.integration)] = found
        return found

    # The loop

    async def _run(self, sub: Subscription) -> None:
        while True:
            try:
                if self._sweep_due:
                    self._busy = True
                    await self._sweep()
                    self._sweep_due = False
                    await self._notify()
                first = await sub.get()
            except SubscriptionClosed:
                return
            except (DiskFaultError, sqlite3.Error) as err:
                _LOGGER.warning("Linking entities to the memory failed (%s); retrying", err)
                await self._notify(busy=False)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            except Exception:  # a bug must not end linking for good: the sweep tries again
                _LOGGER.exception("Linking entities to the memory failed; retrying")
                await self._notify(busy=False)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            self._busy = True
            batch = [first]
            while sub.pending() and len(batch) < LINK_BATCH:
                batch.append(await sub.get())
            if sub.dropped != self._drops:  # lost events: the sweep finds their entities
                self._drops = sub.dropped
                self._sweep_due = True
            try:
                await self._link(self._items(batch))
            except Exception:  # the next start's sweep links them; linking must go on
                _LOGGER.exception("Linking %d entities to the memory failed", len(batch))
                self._sweep_due = True
            await self._notify(busy=False)

    async def _notify(self, *, busy: bool = False) -> None:
        self._busy = busy
        async with self._idle:
            self._idle.notify_all()

    def _items(self, events: Sequence[Event[Mapping[str, Any]]]) -> list[LinkItem]:
        """What a batch of entity events asks to link (the latest event of an entity wins)."""
        items: dict[int, LinkItem] = {}
        owners: dict[str, tuple[str | None, int] | None] = {}
        kinds: dict[tuple[Any, Any], str | None] = {}
        for event in events:
            data = event.data
            type_key = (data.get("domain"), data.get("entity_type"))
            kind = kinds.get(type_key, "")  # "" : not looked up yet in this batch
            if kind == "":
                kind = kinds[type_key] = self._kind_of(type_key)
            state = data.get("new_state")
            if kind is None or not state:
                continue
            name = " ".join(str(state.get("name") or "").split())[: nodes.MAX_NAME]
            entry_id = str(data.get("entry_id"))
            if entry_id not in owners:
                owners[entry_id] = self._owner_and_tier(entry_id, str(type_key[0]))
            whose = owners[entry_id]
            if whose is None or not name:
                continue
            entity_id = int(data["entity_id"])
            items[entity_id] = LinkItem(
                entity_id, name, whose[0], kind, whose[1], new=event.type == "entity.created"
            )
        return list(items.values())

    def _kind_of(self, type_key: tuple[Any, Any]) -> str | None:
        domain, entity_type = type_key
        if not isinstance(domain, str) or not isinstance(entity_type, str):
            return None
        return self.world_kind(domain, entity_type)

    def _owner_and_tier(self, entry_id: str, domain: str) -> tuple[str | None, int] | None:
        """Whose the entry's nodes are and the tier they carry; ``None`` for a removed entry."""
        entry = self._entries.get(entry_id)
        if entry is None:
            return None  # removed meanwhile: its entities go too
        tier = entity_tier(self._entries, self._registry, entry_id, domain, self.tier_rule)
        return contribution_owner(entry), tier

    async def _link(self, items: Sequence[LinkItem]) -> None:
        if items:
            await self._db.run(partial(_link, items=items, now=time.time()))
            self.linked += len(items)

    async def _sweep(self) -> None:
        """Link every entity of a ``world_kind`` type that has no link yet."""
        loaded, _, _ = self._registry.resolved()
        types = [
            (item.domain, key, d.world_kind)
            for item in loaded
            for key, d in self._declared(item).items()
            if d.world_kind
        ]
        for domain, entity_type, kind in types:
            while True:
                rows = await self._db.run(
                    partial(_unlinked, domain=domain, entity_type=entity_type)
                )
                owners: dict[str, tuple[str | None, int] | None] = {}
                items = []
                for entity_id, entry_id, name in rows:
                    if entry_id not in owners:
                        owners[entry_id] = self._owner_and_tier(entry_id, domain)
                    whose = owners[entry_id]
                    if whose is not None:
                        text = " ".join(name.split())[: nodes.MAX_NAME] or str(entity_id)
                        items.append(LinkItem(entity_id, text, whose[0], kind, whose[1], new=True))
                await self._link(items)
                if len(rows) < SWEEP_ROWS or not items:
                    break


def _unlinked(
    conn: sqlite3.Connection, *, domain: str, entity_type: str
) -> list[tuple[int, str, str]]:
    return [
        (row[0], row[1], row[2])
        for row in conn.execute(
            "SELECT e.id, e.entry_id, e.name FROM entities e WHERE e.domain = ? "
            "AND e.entity_type = ? AND NOT EXISTS "
            "(SELECT 1 FROM memory_links l WHERE l.entity_id = e.id) ORDER BY e.id LIMIT ?",
            (domain, entity_type, SWEEP_ROWS),
        )
    ]


def _link(conn: sqlite3.Connection, *, items: Sequence[LinkItem], now: float) -> None:
    """Link ``items`` in one transaction: set-wise for the new ones (a sync's thousands).

    Not waiting for the disk: links follow from the entities, and what a power cut loses the
    start's sweep makes again, so a sync's fsync is not paid twice.
    """
    with unsynced(conn), transaction(conn):
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
        existing = _existing(conn, [item.entity_id for item in fresh])
        pairs = []
        for item in fresh:
            if item.entity_id not in existing:
                continue  # deleted since its event: no row to link, and no link wanted
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
        conn.executemany(
            "INSERT OR REPLACE INTO memory_links (entity_id, node_id) VALUES (?, ?)", pairs
        )


def _existing(conn: sqlite3.Connection, entity_ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(entity_ids), 500):
        chunk = list(entity_ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        found.update(
            row[0] for row in conn.execute(f"SELECT id FROM entities WHERE id IN ({marks})", chunk)
        )
    return found


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
