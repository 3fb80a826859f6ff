"""The entity service: one apply path for pull, push, webhooks and actions; reads; change events.

What integrations declare about their types (views, categories) is ``hub/entities/types.py``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, Final, TypedDict

from hub.core.bus import EventBus, EventType
from hub.core.database import Database
from hub.core.disk import DiskFaultError
from hub.core.errors import ENTITY_NOT_FOUND, NotFoundError
from hub.entities import search_index
from hub.entities.listing import FULL, Form, Listings
from hub.entities.localized import DeviceRow
from hub.entities.query import EntityFilter
from hub.entities.schema import ENTITY_COLUMNS, EntityRow
from hub.entities.store import Alongside, ApplyOutcome, ApplyRequest, Rider, apply_batch
from hub.entities.types import EntityTypes
from hub.integrations.entities import (
    DeviceInfo,
    EntityStateRecord,
    EntityStateSyncResult,
    EntityStateTypeDescriptor,
)
from hub.integrations.entry import EntryNotFoundError
from hub.integrations.registry import IntegrationRegistry

_LOGGER = logging.getLogger(__name__)

INDEX_DELAY: Final = 0.5
"""Seconds the writer lets changed entities gather before it indexes them together: an entity
written many times meanwhile is indexed once. Searches never wait for it (they index first)."""
INDEX_ROWS: Final = 2000
"""Entities pending after which the writer indexes at once rather than wait out the delay."""


class EntityEventData(TypedDict):
    """What the bus says about a changed entity: its view before and after."""

    entity_id: int
    entry_id: str
    domain: str
    entity_type: str
    external_id: str
    old_state: dict[str, Any] | None
    new_state: dict[str, Any] | None


EVENT_ENTITY_CREATED: Final = EventType[EntityEventData]("entity.created")
EVENT_ENTITY_UPDATED: Final = EventType[EntityEventData]("entity.updated")
EVENT_ENTITY_DELETED: Final = EventType[EntityEventData]("entity.deleted")


class EntityNotFoundError(NotFoundError):
    """No entity with that id."""

    code = ENTITY_NOT_FOUND


class EntityService:
    """Applies records in batched transactions (group commit), then tells the bus what changed."""

    def __init__(self, database: Database, bus: EventBus, registry: IntegrationRegistry) -> None:
        self._db = database
        self._bus = bus
        self._pending: list[tuple[ApplyRequest, asyncio.Future[ApplyOutcome]]] = []
        self._wakeup = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._stopping = False
        self.types = EntityTypes(registry)
        """What each integration declares about its entity types, read once per domain."""
        self._removed: set[str] = set()
        """Entries whose entities were deleted; a late apply for one is refused, never stored."""
        self.batches = 0
        """Transactions the writer committed (for diagnostics and benchmarks)."""
        self._listings = Listings(database)
        self._unindexed = 0
        self._index_due = True
        """Whether the writer should index pending entities; at start, those left by a crash."""
        self._index_timer: asyncio.TimerHandle | None = None
        self.riders: list[Callable[[str, str], Rider | None]] = []
        """Asked on every apply with ``(entry_id, domain)``, on the loop: a write to add to that
        apply's transaction (``ApplyRequest.riders``), or ``None``. The memory links entities so."""

    def start(self) -> None:
        """Start the writer task."""
        self._writer = asyncio.get_running_loop().create_task(
            self._write_loop(), name="entity writer"
        )
        self._wakeup.set()  # the first round indexes whatever the last run left pending

    async def stop(self) -> None:
        """Finish what is queued, then stop the writer."""
        writer = self._writer
        if writer is None:
            return
        self._stopping = True
        self._wakeup.set()
        await writer
        self._writer = None

    # Writing

    async def apply(
        self,
        entry_id: str,
        domain: str,
        result: EntityStateSyncResult,
        *,
        also: Alongside | None = None,
    ) -> ApplyOutcome:
        """Diff ``result`` against the store and write what changed, in one transaction.

        ``also``: a write of the caller's in the same transaction, given the outcome.
        """
        request = ApplyRequest(
            entry_id=entry_id,
            domain=domain,
            records=result.records,
            full=result.full,
            covered_types=result.covered_types if result.full else (),
            types=self.types.infos(domain),
            also=also,
            riders=self._riders(entry_id, domain),
        )
        return await self._submit(request)

    def _riders(self, entry_id: str, domain: str) -> tuple[Rider, ...]:
        if not self.riders:
            return ()
        found = (ask(entry_id, domain) for ask in self.riders)
        return tuple(rider for rider in found if rider is not None)

    async def upsert(self, entry_id: str, domain: str, record: EntityStateRecord) -> ApplyOutcome:
        """Create or update one entity (the push path)."""
        return await self.apply(
            entry_id, domain, EntityStateSyncResult(records=(record,), full=False)
        )

    async def remove(self, entry_id: str, domain: str, entity_type: str, external_id: str) -> bool:
        """Delete one entity of an entry; ``False`` if there was none."""
        request = ApplyRequest(
            entry_id=entry_id,
            domain=domain,
            records=(),
            full=False,
            covered_types=(),
            types=self.types.infos(domain),
            removals=((entity_type, external_id),),
        )
        return (await self._submit(request)).deleted > 0

    async def remove_entry(self, entry_id: str) -> int:
        """Delete every entity and device of an entry (it was removed); later applies are refused."""
        # An action or webhook that passed its checks before the entry was unloaded can still be
        # applying: without this it would write its entity back as an orphan of a deleted entry.
        # Batches already queued on the database's one thread run before this delete; every
        # batch written from now on leaves the entry out.
        self._removed.add(entry_id)

        def delete(conn: Any) -> int:
            conn.execute("BEGIN IMMEDIATE")
            try:
                ids = [
                    row[0]
                    for row in conn.execute(
                        "SELECT id FROM entities WHERE entry_id = ?", (entry_id,)
                    )
                ]
                search_index.remove_now(conn, ids)
                conn.execute("DELETE FROM entities WHERE entry_id = ?", (entry_id,))
                conn.execute("DELETE FROM devices WHERE entry_id = ?", (entry_id,))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # a full disk can end the transaction before we do
                    conn.execute("ROLLBACK")
                raise
            return len(ids)

        try:
            return await self._db.run(delete)
        except DiskFaultError:
            # Nothing was deleted: the entry's removal is called off (``ConfigEntries.remove``
            # stops on this error) and the entry stays, so its applies are taken again.
            self._removed.discard(entry_id)
            raise
        finally:
            self._listings.changed()

    async def _submit(self, request: ApplyRequest) -> ApplyOutcome:
        if self._writer is None or self._stopping:
            raise RuntimeError("the entity service is not running")
        future: asyncio.Future[ApplyOutcome] = asyncio.get_running_loop().create_future()
        self._pending.append((request, future))
        self._wakeup.set()
        return await future

    async def _write_loop(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            # Everything that arrived while the last batch was being written goes in this one.
            batch, self._pending = self._pending, []
            if batch:
                await self._write(batch)
            if self._index_due or (self._stopping and self._unindexed and not self._pending):
                await self._index()
            if self._pending or self._index_due:
                self._wakeup.set()
            elif self._stopping:
                if self._index_timer is not None:
                    self._index_timer.cancel()
                return

    def _queued_for_search(self, count: int) -> None:
        self._unindexed += count
        if self._unindexed >= INDEX_ROWS:
            self._index_due = True
        elif self._index_timer is None:
            self._index_timer = asyncio.get_running_loop().call_later(INDEX_DELAY, self._index_now)

    def _index_now(self) -> None:
        self._index_timer = None
        self._index_due = True
        self._wakeup.set()

    async def _index(self) -> None:
        """Index one batch of pending entities; a failure is retried after the delay."""
        self._index_due = False
        self._unindexed = 0
        if self._index_timer is not None:
            self._index_timer.cancel()
            self._index_timer = None
        try:
            more = await self._db.run(search_index.catch_up)
        except Exception as err:  # what stays pending is indexed later, or by the next search
            if isinstance(err, DiskFaultError):  # the database logs the episode once
                _LOGGER.debug("Indexing entities for search refused: %s", err)
            else:
                _LOGGER.exception("Indexing entities for search failed")
            if not self._stopping:
                self._queued_for_search(1)
            return
        if more:
            self._unindexed = 1
            self._index_due = True

    async def _write(self, batch: list[tuple[ApplyRequest, asyncio.Future[ApplyOutcome]]]) -> None:
        refused = [(r, f) for r, f in batch if r.entry_id in self._removed]
        for request, future in refused:
            if not future.done():
                future.set_exception(EntryNotFoundError(f"entry {request.entry_id} was removed"))
        if refused:
            batch = [(r, f) for r, f in batch if r.entry_id not in self._removed]
            if not batch:
                return
        requests = [request for request, _ in batch]
        try:
            results = await self._db.run(partial(apply_batch, requests=requests, now=time.time()))
        except Exception as err:  # every waiting caller hears about it
            self._listings.changed()  # a refused batch may have written part of itself
            if isinstance(err, DiskFaultError):  # the database logs the episode once
                _LOGGER.debug("Entity batch of %d apply(s) refused: %s", len(batch), err)
            else:
                _LOGGER.exception("Entity batch of %d apply(s) failed", len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_exception(err)
            return
        self.batches += 1
        self._listings.changed(_changed_ids(results))  # before anyone hears of the write
        queued = sum(r.queued_for_search for r in results if isinstance(r, ApplyOutcome))
        if queued:
            self._queued_for_search(queued)
        for (request, future), result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                _LOGGER.error("Applying entities of entry %s failed: %s", request.entry_id, result)
                if not future.done():
                    future.set_exception(result)
                continue
            self._announce(request, result)
            if not future.done():
                future.set_result(result)

    def _announce(self, request: ApplyRequest, outcome: ApplyOutcome) -> None:
        origin = f"integration.{request.domain}"
        for change in outcome.changes:
            row = change.new or change.old
            assert row is not None
            data = EntityEventData(
                entity_id=row.id,
                entry_id=row.entry_id,
                domain=row.domain,
                entity_type=row.entity_type,
                external_id=row.external_id,
                old_state=None if change.old is None else self.view(change.old),
                new_state=None if change.new is None else self.view(change.new),
            )
            cause = request.cause
            if change.old is None:
                self._bus.fire(EVENT_ENTITY_CREATED, data, origin=origin, cause=cause)
            elif change.new is None:
                self._bus.fire(EVENT_ENTITY_DELETED, data, origin=origin, cause=cause)
            else:
                self._bus.fire(EVENT_ENTITY_UPDATED, data, origin=origin, cause=cause)

    # Reading

    async def get(self, entity_id: int) -> EntityRow:
        """One entity, or ``EntityNotFoundError``."""
        rows = await self._select(
            f"SELECT {ENTITY_COLUMNS} FROM entities WHERE id = ?", (entity_id,)
        )
        if not rows:
            raise EntityNotFoundError(f"no entity {entity_id}")
        return rows[0]

    async def find(self, entry_id: str, entity_type: str, external_id: str) -> EntityRow | None:
        """An entity by its identity within an entry."""
        rows = await self._select(
            f"SELECT {ENTITY_COLUMNS} FROM entities "
            "WHERE entry_id = ? AND entity_type = ? AND external_id = ?",
            (entry_id, entity_type, external_id),
        )
        return rows[0] if rows else None

    async def record(self, row: EntityRow) -> EntityStateRecord:
        """``row`` as its integration's record, parent and device included: an action's ``current``.

        An integration that builds its answer from ``current`` (as the specification shows) thus
        keeps the entity's links; a link that is gone is left out, not made ``None``.
        """
        links: dict[str, Any] = {}
        if row.parent_id is not None:
            parent = await self._db.conn.execute_fetchall(
                "SELECT entity_type, external_id FROM entities WHERE id = ?", (row.parent_id,)
            )
            for entity_type, external_id in parent:
                links.update(parent_type=entity_type, parent_external_id=external_id)
        if row.device_id is not None:
            device = await self._db.conn.execute_fetchall(
                "SELECT info FROM devices WHERE id = ?", (row.device_id,)
            )
            for (info,) in device:
                links["device"] = DeviceInfo.model_validate_json(info)
        return EntityStateRecord(
            entity_type=row.entity_type,
            external_id=row.external_id,
            name=row.name,
            state=row.state,
            attributes=row.attributes,
            **links,
        )

    async def list_entities(
        self,
        *,
        domain: str | None = None,
        entry_ids: Iterable[str] | None = None,
        entity_type: str | None = None,
        device_id: int | None = None,
        visible: bool | None = None,
        category: str | None = None,
        limit: int = 10_000,
    ) -> list[EntityRow]:
        """Entities matching every filter given, by id; ``category`` ``none`` is uncategorised."""
        # Every filter is SQL, so the limit counts only what matches.
        found = self._where(domain, entry_ids, entity_type, device_id, visible, category)
        if found is None:
            return []
        where, params = found
        return await self._select(
            f"SELECT {ENTITY_COLUMNS} FROM entities WHERE {where} ORDER BY id LIMIT ?",
            [*params, limit],
        )

    async def list_json(
        self,
        *,
        domain: str | None = None,
        entry_ids: Iterable[str] | None = None,
        entity_type: str | None = None,
        device_id: int | None = None,
        visible: bool | None = None,
        category: str | None = None,
        limit: int = 10_000,
        layout: Form = FULL,
    ) -> bytes:
        """``list_entities``' entities as JSON text: a list of views, or ``layout``'s form."""
        found = self._where(domain, entry_ids, entity_type, device_id, visible, category)
        if found is None:
            return layout.wrap(())
        where, params = found
        return await self._listings.listing(layout, where, params, limit, self.types.loaded())

    def _where(
        self,
        domain: str | None,
        entry_ids: Iterable[str] | None,
        entity_type: str | None,
        device_id: int | None,
        visible: bool | None,
        category: str | None,
    ) -> tuple[str, list[Any]] | None:
        """The SQL condition of the listing filters; ``None`` when nothing can match."""
        wanted = EntityFilter(
            domain=domain,
            entry_ids=None if entry_ids is None else frozenset(entry_ids),
            entity_type=entity_type,
            device_id=device_id,
            visible=visible,
            category=category,
        )
        return wanted.where(self.types.categorised(category))

    async def search(
        self,
        query: str,
        *,
        entry_ids: Iterable[str] | None = None,
        category: str | None = None,
        limit: int = 20,
    ) -> list[tuple[EntityRow, float]]:
        """Entities of ``rag=True`` types ranked by FTS5 (bm25) for ``query``."""
        match = _fts_query(query)
        if not match:
            return []
        wanted = EntityFilter(
            entry_ids=None if entry_ids is None else frozenset(entry_ids), category=category
        )
        # Filtered inside the query, before its limit: other people's matches can neither crowd
        # out the caller's own nor be counted through the gap they leave.
        found = wanted.where(self.types.categorised(category), alias="e.")
        if found is None:
            return []
        where, params = found
        columns = ", ".join(f"e.{c.strip()}" for c in ENTITY_COLUMNS.split(","))
        sql = (
            f"SELECT {columns}, bm25(entity_search, 2.0, 1.0) AS rank "
            "FROM entity_search JOIN entities e ON e.id = entity_search.rowid "
            f"WHERE entity_search MATCH ? AND {where} ORDER BY rank LIMIT ?"
        )
        rows = await self._db.run(
            partial(search_index.search, sql=sql, params=(match, *params, limit))
        )
        return [(EntityRow.from_sql(tuple(row)[:-1]), float(tuple(row)[-1])) for row in rows]

    async def devices(self, entry_ids: Iterable[str]) -> list[DeviceRow]:
        """The devices of the entries ``entry_ids``, by id."""
        wanted = sorted(set(entry_ids))
        if not wanted:
            return []
        marks = ", ".join("?" * len(wanted))
        rows = await self._db.conn.execute_fetchall(
            f"SELECT id, entry_id, info FROM devices WHERE entry_id IN ({marks}) ORDER BY id",
            wanted,
        )
        return [
            DeviceRow(int(row_id), str(entry_id), DeviceInfo.model_validate_json(info))
            for row_id, entry_id, info in rows
        ]

    async def _select(self, sql: str, params: Sequence[Any]) -> list[EntityRow]:
        rows = await self._db.conn.execute_fetchall(sql, params)
        return [EntityRow.from_sql(tuple(row)) for row in rows]

    # Views

    def descriptor(self, domain: str, entity_type: str) -> EntityStateTypeDescriptor | None:
        """The integration's declaration of an entity type, if it is still loaded."""
        return self.types.descriptor(domain, entity_type)

    def view(self, row: EntityRow) -> dict[str, Any]:
        """The JSON a client sees for an entity."""
        return self.types.view(row)


def _changed_ids(results: Sequence[ApplyOutcome | BaseException]) -> list[int] | None:
    """The entities a batch changed; ``None`` when it deleted one (SQLite unlinks its children)."""
    ids: list[int] = []
    for result in results:
        if isinstance(result, BaseException):
            continue  # rolled back to its savepoint: nothing of it was written
        for change in result.changes:
            if change.new is None:
                return None
            ids.append(change.new.id)
    return ids


def _fts_query(text: str) -> str:
    """A safe FTS5 query: each word a quoted prefix term, so user text is never FTS syntax."""
    words = [word for word in "".join(c if c.isalnum() else " " for c in text).split() if word]
    return " ".join(f'"{word}"*' for word in words[:16])
