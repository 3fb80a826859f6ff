"""The one apply path: a batch of applies in one transaction on the database's thread."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Final, TypeVar

from hub.core.bus import CAUSE, RunCause
from hub.core.disk import is_disk_error
from hub.core.jsonwalk import first_flaw
from hub.core.yamlfile import dotted
from hub.entities import search_index
from hub.entities.schema import ENTITY_COLUMNS, EntityRow
from hub.integrations.entities import DeviceInfo, EntityStateRecord, default_text

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

HASH_CHARS: Final = 16
"""Hex digits of the content hash stored per entity: 64 bits tell a change apart as surely as 256
do here (it is compared with the same entity's previous hash, never used as an identity)."""


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """What the apply path needs to know about an entity type."""

    visible_default: bool = True
    rag: bool = False
    to_text: Callable[[EntityStateRecord], str] | None = None


Rider = Callable[[sqlite3.Connection, "ApplyOutcome"], object]
"""A write that rides in an apply's transaction, given the apply's outcome."""


@dataclass(frozen=True, slots=True)
class Alongside:
    """A write of the caller's that commits (or fails) with its apply: a webhook's delivery log
    row rides in the entities' transaction instead of its own.

    ``write`` is given ``item`` with the apply's outcome, together with those of every other
    apply of the same batch whose ``write`` is equal (the same function, or a method of the same
    object): one statement can then write them all (``hub.core.database.insert_rows``).
    """

    write: Callable[[sqlite3.Connection, Sequence[tuple[Any, ApplyOutcome]]], object]
    item: Any


@dataclass(slots=True)
class ApplyRequest:
    """One apply: records of one entry, and what ``full`` covers."""

    entry_id: str
    domain: str
    records: Sequence[EntityStateRecord]
    full: bool
    covered_types: tuple[str, ...]
    types: Mapping[str, TypeInfo]
    removals: tuple[tuple[str, str], ...] = ()
    """``(entity_type, external_id)`` pairs to delete (the push writer's remove)."""
    also: Alongside | None = None
    """A write of the caller's that commits (or fails) with this apply."""
    riders: tuple[Rider, ...] = ()
    """Writes other parts of the hub add to this apply (``EntityService.riders``): each in a
    savepoint of its own, so its failure is logged and the apply stands."""
    cause: RunCause | None = field(default_factory=CAUSE.get)
    """The workflow run this apply was made in (taken when it is made): its entity events say so."""


@dataclass(slots=True)
class Change:
    """One entity that changed: ``old`` is ``None`` when created, ``new`` when deleted."""

    old: EntityRow | None
    new: EntityRow | None


@dataclass(slots=True)
class ApplyOutcome:
    """What one apply did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    queued_for_search: int = 0
    """Entities this apply left for the search index to take in (``hub.entities.search_index``)."""

    def counts(self) -> dict[str, int]:
        """The counts, for the entry's last-sync record and the API."""
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "rejected": len(self.rejected),
        }


class _Retry(Exception):
    """A request of a batch written without savepoints failed: write it again with them."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def apply_batch(
    conn: sqlite3.Connection, requests: Sequence[ApplyRequest], now: float
) -> list[ApplyOutcome | BaseException]:
    """Apply every request in one transaction, so one failure stays its own.

    First without a savepoint per request, as failures are rare (and a savepoint's release used to
    flush a full-text segment; the index is now written apart, by ``search_index``). If a request
    fails, that transaction is rolled back and the batch written again, each request in a savepoint.
    """
    try:
        return _apply_all(conn, requests, now, isolated=False)
    except _Retry as retry:
        if len(requests) == 1:  # rolled back: nothing else was in the transaction
            return [retry.error]
    return _apply_all(conn, requests, now, isolated=True)


def _apply_all(
    conn: sqlite3.Connection, requests: Sequence[ApplyRequest], now: float, *, isolated: bool
) -> list[ApplyOutcome | BaseException]:
    results: list[ApplyOutcome | BaseException] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not isolated:
            outcomes = [_or_retry(partial(_apply, conn, request, now)) for request in requests]
            _or_retry(partial(_alongside, conn, requests, outcomes))
            conn.execute("COMMIT")
            results.extend(outcomes)
            return results
        for request in requests:
            conn.execute("SAVEPOINT apply")
            try:
                outcome = _apply(conn, request, now)
                _alongside(conn, [request], [outcome])
            except Exception as err:  # this request fails alone; the batch commits
                if is_disk_error(err):
                    raise  # the disk fails every request alike; SQLite may have rolled back already
                conn.execute("ROLLBACK TO apply")
                conn.execute("RELEASE apply")
                results.append(err)
            else:
                conn.execute("RELEASE apply")
                results.append(outcome)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # a full disk can end the transaction before we do
            conn.execute("ROLLBACK")
        raise
    return results


def _or_retry(write: Callable[[], T]) -> T:
    """``write()``; its failure (but the disk's) becomes ``_Retry``: the batch is written again
    with a savepoint per request."""
    try:
        return write()
    except Exception as err:
        if is_disk_error(err):
            raise  # the disk fails every request alike: the batch fails as it would isolated
        raise _Retry(err) from err


def _alongside(
    conn: sqlite3.Connection, requests: Sequence[ApplyRequest], outcomes: Sequence[ApplyOutcome]
) -> None:
    """Each ``Alongside`` write once, with the items of every request that names it."""
    gathered: dict[Any, list[tuple[Any, ApplyOutcome]]] = {}
    for request, outcome in zip(requests, outcomes, strict=True):
        if request.also is not None:
            gathered.setdefault(request.also.write, []).append((request.also.item, outcome))
    for write, items in gathered.items():
        write(conn, items)


def _apply(conn: sqlite3.Connection, request: ApplyRequest, now: float) -> ApplyOutcome:
    outcome = ApplyOutcome()
    entry_id = request.entry_id
    incoming: dict[tuple[str, str], EntityStateRecord] = {}
    for record in request.records:
        key = (record.entity_type, record.external_id)
        if record.entity_type not in request.types:
            outcome.rejected.append((record.external_id, f"undeclared type {record.entity_type!r}"))
            continue
        if key in incoming:
            outcome.rejected.append((record.external_id, "appears twice in one result"))
            continue
        incoming[key] = record
    for external_id, reason in outcome.rejected:
        _LOGGER.warning("Entry %s: rejected record %r: %s", entry_id, external_id, reason)

    known_rows: dict[int, EntityRow] = {}
    if request.full:
        # A full result may delete, so every stored entity of the covered types is needed.
        wanted_types = set(request.covered_types) | {key[0] for key in incoming}
        existing = _existing(conn, entry_id, wanted_types)
    else:
        # Upsert-only (push, webhooks, actions): look up just the entities named, whole rows.
        existing, known_rows = _existing_rows(conn, entry_id, [*incoming, *request.removals])
    incoming = _keep_links(conn, incoming, existing)
    devices = _devices(conn, entry_id, incoming.values(), now)

    hashes: dict[tuple[str, str], str] = {}
    unwritable: set[tuple[str, str]] = set()
    for key, record in incoming.items():
        try:
            hashes[key] = record.content_hash()[:HASH_CHARS]
        except UnicodeEncodeError:  # a lone surrogate passed on from upstream JSON: not text
            unwritable.add(key)
            reason = _not_text(record)
            outcome.rejected.append((_shown(record.external_id), reason))
            # %r: the id itself may hold the surrogate, which a UTF-8 log file cannot take.
            _LOGGER.warning(
                "Entry %s: rejected record %r: %s", entry_id, record.external_id, reason
            )
    for key in unwritable:  # a full result keeps what it held: refused is not dropped upstream
        del incoming[key]
    to_write = [key for key in incoming if existing.get(key, (0, ""))[1] != hashes[key]]
    outcome.unchanged = len(incoming) - len(to_write)
    old_ids = [existing[key][0] for key in to_write if key in existing]
    old_rows = {i: known_rows[i] for i in old_ids} if known_rows else _rows(conn, old_ids)

    ids = {key: value[0] for key, value in existing.items()}
    written: dict[tuple[str, str], EntityRow] = {}
    for key in to_write:
        record = incoming[key]
        old = old_rows.get(existing[key][0]) if key in existing else None
        row = _write(conn, request, record, hashes[key], devices, old, now)
        ids[key] = row.id
        written[key] = row
        if old is None:
            outcome.created += 1
        else:
            outcome.updated += 1
        _history(conn, row.id, old, record, now)
    # Parents may be created in this same result, so they are resolved after every write.
    for key in to_write:
        record, row = incoming[key], written[key]
        parent = None
        if record.parent_type is not None and record.parent_external_id is not None:
            parent = ids.get((record.parent_type, record.parent_external_id))
            if parent is None:
                parent = _lookup(conn, entry_id, record.parent_type, record.parent_external_id)
        if parent != row.parent_id:
            conn.execute("UPDATE entities SET parent_id = ? WHERE id = ?", (parent, row.id))
            written[key] = replace(row, parent_id=parent)

    doomed = {key for key in request.removals if key in existing}
    if request.full:
        covered = set(request.covered_types) or {key[0] for key in incoming}
        doomed |= {
            key
            for key in existing
            if key[0] in covered and key not in incoming and key not in unwritable
        }
    doomed_ids = [existing[key][0] for key in doomed]
    doomed_rows = {i: known_rows[i] for i in doomed_ids} if known_rows else _rows(conn, doomed_ids)
    for row in doomed_rows.values():
        conn.execute("DELETE FROM entities WHERE id = ?", (row.id,))
        search_index.queue_removal(conn, row.id)
        outcome.queued_for_search += 1
        outcome.changes.append(Change(row, None))
    outcome.deleted = len(doomed_rows)

    for key in to_write:
        record, row = incoming[key], written[key]
        info = request.types[record.entity_type]
        if info.rag:
            _index(conn, row.id, record, info)
            outcome.queued_for_search += 1
        outcome.changes.append(Change(old_rows.get(row.id), row))
    for rider in request.riders:
        _ride(conn, rider, outcome, request.entry_id)
    return outcome


def _ride(conn: sqlite3.Connection, rider: Rider, outcome: ApplyOutcome, entry_id: str) -> None:
    """Run ``rider`` in a savepoint: what it fails to write is rolled back, the apply stands."""
    conn.execute("SAVEPOINT rider")
    try:
        rider(conn, outcome)
    except Exception as err:
        if is_disk_error(err):
            raise  # the disk fails the apply too; SQLite may have rolled back already
        conn.execute("ROLLBACK TO rider")
        _LOGGER.exception("A write riding on entry %s's apply failed; the apply stands", entry_id)
    conn.execute("RELEASE rider")


Stored = tuple[int, str, int | None, int | None]
"""A stored entity as the apply path compares it: id, content hash, parent id, device id."""


def _existing_rows(
    conn: sqlite3.Connection, entry_id: str, keys: Sequence[tuple[str, str]]
) -> tuple[dict[tuple[str, str], Stored], dict[int, EntityRow]]:
    found: dict[tuple[str, str], Stored] = {}
    rows: dict[int, EntityRow] = {}
    query = (
        f"SELECT {ENTITY_COLUMNS}, content_hash FROM entities "
        "WHERE entry_id = ? AND entity_type = ? AND external_id = ?"
    )
    for entity_type, external_id in keys:
        raw = conn.execute(query, (entry_id, entity_type, external_id)).fetchone()
        if raw is not None:
            row = EntityRow.from_sql(raw)
            found[(entity_type, external_id)] = (row.id, str(raw[-1]), row.parent_id, row.device_id)
            rows[row.id] = row
    return found, rows


def _existing(
    conn: sqlite3.Connection, entry_id: str, types: Iterable[str]
) -> dict[tuple[str, str], Stored]:
    found: dict[tuple[str, str], Stored] = {}
    for entity_type in types:
        cursor = conn.execute(
            "SELECT external_id, id, content_hash, parent_id, device_id FROM entities "
            "WHERE entry_id = ? AND entity_type = ?",
            (entry_id, entity_type),
        )
        for external_id, row_id, content_hash, parent_id, device_id in cursor:
            found[(entity_type, external_id)] = (row_id, content_hash, parent_id, device_id)
    return found


def _keep_links(
    conn: sqlite3.Connection,
    incoming: dict[tuple[str, str], EntityStateRecord],
    existing: Mapping[tuple[str, str], Stored],
) -> dict[tuple[str, str], EntityStateRecord]:
    """``incoming`` where a record that does not mention its parent or device keeps the stored one's.

    A record built as the specification shows (a new record from an action's ``current``, a sync
    that does not know the parent) would otherwise unlink the entity; only an explicit ``None``
    does. The kept values make the record whole, so it hashes as it did when they were given.
    """
    parents: dict[tuple[str, str], int] = {}
    devices: dict[tuple[str, str], int] = {}
    for key, record in incoming.items():
        stored = existing.get(key)
        if stored is None:
            continue
        given = record.model_fields_set
        if stored[2] is not None and not {"parent_type", "parent_external_id"} & given:
            parents[key] = stored[2]
        if stored[3] is not None and "device" not in given:
            devices[key] = stored[3]
    if not parents and not devices:
        return incoming  # the common case: nothing is linked, or every record says
    parent_ids = _by_id(conn, "SELECT id, entity_type, external_id FROM entities", parents.values())
    device_infos = _by_id(conn, "SELECT id, info FROM devices", devices.values())
    kept = dict(incoming)
    for key in parents.keys() | devices.keys():
        update: dict[str, object] = {}
        parent = parent_ids.get(parents.get(key, -1))
        if parent is not None:
            update["parent_type"], update["parent_external_id"] = parent
        device = device_infos.get(devices.get(key, -1))
        if device is not None:
            update["device"] = DeviceInfo.model_validate_json(device[0])
        if update:
            kept[key] = incoming[key].model_copy(update=update)
    return kept


def _by_id(conn: sqlite3.Connection, select: str, ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """``select``'s rows by their first column, the id, for the ``ids`` given."""
    wanted = sorted(set(ids))
    found: dict[int, tuple[str, ...]] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row_id, *rest in conn.execute(f"{select} WHERE id IN ({marks})", chunk):
            found[row_id] = tuple(rest)
    return found


def _rows(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, EntityRow]:
    rows: dict[int, EntityRow] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        query = f"SELECT {ENTITY_COLUMNS} FROM entities WHERE id IN ({marks})"
        for row in conn.execute(query, chunk):
            entity = EntityRow.from_sql(row)
            rows[entity.id] = entity
    return rows


def _devices(
    conn: sqlite3.Connection, entry_id: str, records: Iterable[EntityStateRecord], now: float
) -> dict[str, int]:
    """Get or create the entry's devices named by ``records``; their info follows the newest record."""
    wanted: dict[str, DeviceInfo] = {}
    for record in records:
        if record.device is not None:
            wanted[record.device.identifier] = record.device
    if not wanted:
        return {}
    known = {
        identifier: (row_id, info)
        for identifier, row_id, info in conn.execute(
            "SELECT identifier, id, info FROM devices WHERE entry_id = ?", (entry_id,)
        )
    }
    ids: dict[str, int] = {}
    for identifier, device in wanted.items():
        info = json.dumps(device.model_dump(mode="json", exclude_none=True), sort_keys=True)
        if identifier in known:
            row_id, stored = known[identifier]
            if stored != info:
                conn.execute("UPDATE devices SET info = ? WHERE id = ?", (info, row_id))
        else:
            cursor = conn.execute(
                "INSERT INTO devices (entry_id, identifier, info, created_at) VALUES (?, ?, ?, ?)",
                (entry_id, identifier, info, now),
            )
            row_id = int(cursor.lastrowid or 0)
        ids[identifier] = row_id
    return ids


def _write(
    conn: sqlite3.Connection,
    request: ApplyRequest,
    record: EntityStateRecord,
    content_hash: str,
    devices: Mapping[str, int],
    old: EntityRow | None,
    now: float,
) -> EntityRow:
    """Insert or update one entity and return it as stored (its parent is set afterwards)."""
    state = None if record.state is None else json.dumps(record.state)
    attributes = json.dumps(record.attributes, separators=(",", ":"))
    device_id = devices.get(record.device.identifier) if record.device else None
    if old is None:
        visible = request.types[record.entity_type].visible_default
        cursor = conn.execute(
            "INSERT INTO entities (entry_id, domain, entity_type, external_id, name, state, "
            "attributes, device_id, visible, content_hash, created_at, updated_at, last_changed) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                request.entry_id,
                request.domain,
                record.entity_type,
                record.external_id,
                record.name,
                state,
                attributes,
                device_id,
                int(visible),
                content_hash,
                now,
                now,
                now,
            ),
        )
        return EntityRow(
            id=int(cursor.lastrowid or 0),
            entry_id=request.entry_id,
            domain=request.domain,
            entity_type=record.entity_type,
            external_id=record.external_id,
            name=record.name,
            state=record.state,
            attributes=record.attributes,
            parent_id=None,
            device_id=device_id,
            visible=visible,
            retention_days=None,
            created_at=now,
            updated_at=now,
            last_changed=now,
        )
    last_changed = now if old.state != record.state else old.last_changed
    conn.execute(
        "UPDATE entities SET name = ?, state = ?, attributes = ?, device_id = ?, "
        "content_hash = ?, updated_at = ?, last_changed = ? WHERE id = ?",
        (record.name, state, attributes, device_id, content_hash, now, last_changed, old.id),
    )
    return replace(
        old,
        name=record.name,
        state=record.state,
        attributes=record.attributes,
        device_id=device_id,
        updated_at=now,
        last_changed=last_changed,
    )


def _history(
    conn: sqlite3.Connection,
    row_id: int,
    old: EntityRow | None,
    record: EntityStateRecord,
    now: float,
) -> None:
    if old is not None and old.state == record.state:
        return
    state = None if record.state is None else json.dumps(record.state)
    conn.execute(
        "INSERT INTO history (entity_id, state, changed_at) VALUES (?, ?, ?)", (row_id, state, now)
    )


def _index(
    conn: sqlite3.Connection, row_id: int, record: EntityStateRecord, info: TypeInfo
) -> None:
    try:
        text = info.to_text(record) if info.to_text else default_text(record)
    except Exception:  # an integration's to_text must not fail the apply
        _LOGGER.exception("to_text of %s failed; indexing its attributes", record.entity_type)
        text = default_text(record)
    search_index.queue(conn, row_id, record.name, text)


def _lookup(
    conn: sqlite3.Connection, entry_id: str, entity_type: str, external_id: str
) -> int | None:
    row = conn.execute(
        "SELECT id FROM entities WHERE entry_id = ? AND entity_type = ? AND external_id = ?",
        (entry_id, entity_type, external_id),
    ).fetchone()
    return None if row is None else int(row[0])


def _not_text(record: EntityStateRecord) -> str:
    """Where a record holds a string UTF-8 cannot write, and what it is."""
    flaw = first_flaw(record.model_dump())
    return "not text" if flaw is None else f"{dotted(flaw.path)}: {flaw.describe()}"


def _shown(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode()
