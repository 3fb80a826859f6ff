"""The event log: every bus event, written in batches to ``event_log`` and trimmed to the newest N."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final

from hub.core.bus import MATCH_ALL, Event, EventBus, Subscription, SubscriptionClosed
from hub.core.database import Database, insert_rows, unsynced
from hub.core.disk import DiskFaultError
from hub.core.jsonwalk import is_text

_LOGGER = logging.getLogger(__name__)

DEFAULT_SIZE: Final = 10_000
MAX_DATA_BYTES: Final = 64 * 1024
"""An event's data as stored; larger data is replaced by a truncated copy and a marker."""
WRITE_BATCH_MAX: Final = 500
"""Events taken from the queue at a time (written in transactions of ``ROWS_PER_WRITE``)."""
ROWS_PER_WRITE: Final = 100
"""Events per transaction: under a millisecond of work each (3-4 ms of the database's thread
while the event loop is busy and holds the GIL), so what is queued behind waits that long."""
ENCODE_SLICE: Final = 50
"""Events encoded at a time on the event loop (about 1 ms) before it runs other work."""
WRITE_DELAY: Final = 0.25
"""Seconds events gather before they are written together."""
TRIM_MAX: Final = 5000
"""Rows one write may trim: shrinking ``event_log_size`` a lot is caught up over several writes."""

PACKED: Final = b"\x01"
"""First byte of data stored deflated with ``_PACK_DICT`` (the column is a BLOB); data stored as it
is is UTF-8 JSON of an object, whose first byte is ``{``."""
PACK_MIN: Final = 64
"""Shorter data is stored as it is: deflate would win too little for the work."""
_PACK_BITS: Final = -11
"""A raw deflate stream with a 2 KiB window: the dictionary fits, and a compressor costs 4 µs, not
the 100+ µs the default 32 KiB window costs to set up for every event."""
_PACK_DICT: Final = (
    b'"hub"{}"integration.webhook"{"entry_id":"","name":"","entity_count":1,"entity_ids":[""],"event_type":null,'
    b'"event_data":{}}{"entity_id":1,"entry_id":"","domain":"","entity_type":"","external_id":"",'
    b'"old_state":null,"new_state":null}"new_state":{"id":1,"entry_id":"","domain":"webhook",'
    b'"entity_type":"value","external_id":"","name":"","state":"","attributes":{},"parent_id":null,'
    b'"device_id":null,"visible":true,"category":null,"device_class":null,"state_class":null,'
    b'"unit":null,"actions":[],"created_at":"2026-01-01T00:00:00.000+00:00","updated_at":"'
    b'2026-01-01T00:00:00.000+00:00","last_changed":"2026-01-01T00:00:00.000+00:00"}},'
    b'"old_state":{"id":1,"entry_id":"","domain":"","entity_type":"","external_id":"","name":"",'
    b'"state":"","attributes":{},"parent_id":null,"device_id":null,"visible":true,"category":null,'
    b'"device_class":null,"state_class":null,"unit":null,"actions":[],"created_at":"2026-01-01T'
    b'00:00:00.000+00:00","updated_at":"2026-01-01T00:00:00.000+00:00","last_changed":"'
)
"""What entity and webhook events say again and again (keys, nulls, timestamps' shape): deflate
finds it here, so a 600-byte ``entity.created`` is stored in about 80. Rows written with this
dictionary need it to be read: never edit it; a new one gets a new ``PACKED`` byte."""

Events = Sequence[Event[Mapping[str, Any]]]
Audience = Callable[[Event[Mapping[str, Any]]], str | None]
"""Whose an event is (``hub.api.access.EventAudience``): stored with it, so reads filter in SQL."""


class EventLog:
    """Subscribes to every event, writes what arrived since the last write in one transaction."""

    def __init__(
        self,
        database: Database,
        bus: EventBus,
        *,
        size: int = DEFAULT_SIZE,
        delay: float = WRITE_DELAY,
        audience: Audience | None = None,
    ) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self._db = database
        self._bus = bus
        self.size = size
        self.delay = delay
        self._audience = audience
        self._hurry = asyncio.Event()
        self._sub: Subscription | None = None
        self._writer: asyncio.Task[None] | None = None
        self._busy = False
        self._written = asyncio.Condition()
        self.batches = 0
        """Transactions written since start (for diagnostics and tests)."""
        self.written = 0
        self.failed = 0
        """Events lost because their batch could not be written."""

    @property
    def dropped(self) -> int:
        """Events the bus dropped because the log fell behind (only older than ``size`` others)."""
        return 0 if self._sub is None else self._sub.dropped

    def start(self) -> None:
        """Subscribe to the bus and start the writer; needs a running loop."""
        if self._writer is not None:
            raise RuntimeError("the event log is already running")
        # A queue as long as the log: an event pushed out of it would have been trimmed anyway.
        self._sub = self._bus.subscribe(MATCH_ALL, queue_size=self.size, name="Event log")
        self._writer = asyncio.get_running_loop().create_task(
            self._write_loop(self._sub), name="event log writer"
        )

    async def stop(self) -> None:
        """Write what is queued, then unsubscribe and stop the writer."""
        sub, writer = self._sub, self._writer
        if sub is None or writer is None:
            return
        self._writer = None
        self._hurry.set()  # a writer gathering events writes them now
        rest = [await sub.get() for _ in range(sub.pending())]
        sub.close()  # the writer finishes the batch in hand and then ends
        await writer
        async with self._written:
            self._written.notify_all()  # release flush() callers: nothing more will be taken
        for start in range(0, len(rest), WRITE_BATCH_MAX):
            await self._write(rest[start : start + WRITE_BATCH_MAX])

    async def flush(self) -> None:
        """Wait until every event fired so far is written (or the log is stopped)."""
        async with self._written:
            await self._written.wait_for(self._idle)

    def _idle(self) -> bool:
        sub = self._sub
        return self._writer is None or sub is None or not (sub.pending() or self._busy)

    async def recent(
        self,
        limit: int = 100,
        event_type: str | None = None,
        audiences: frozenset[str] | None = None,
    ) -> list[dict[str, Any]]:
        """The newest events first; ``event_type`` is a type or a ``prefix.*`` pattern; with
        ``audiences``, only events of those audiences (filtered before the limit)."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        select = partial(_select, limit=limit, event_type=event_type, audiences=audiences)
        return await self._db.run(select)

    async def _write_loop(self, sub: Subscription) -> None:
        while True:
            try:
                first = await sub.get()
            except SubscriptionClosed:
                return
            self._busy = True
            try:
                if self.delay and sub.pending() < WRITE_BATCH_MAX - 1:
                    # The log is a diagnostic record, not an acknowledgement: gathering a moment's
                    # events into one transaction keeps its fsyncs off the webhooks' and syncs' path.
                    # A full batch waiting is written at once: waiting would cap the log at 500
                    # events a quarter second, and a busier hub would lose the oldest.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._hurry.wait(), self.delay)
                batch = [first]
                # Whatever arrived while the last batch was written is already queued: no waiting.
                while sub.pending() and len(batch) < WRITE_BATCH_MAX:
                    batch.append(await sub.get())
                await self._write(batch)
            finally:
                self._busy = False
                async with self._written:
                    self._written.notify_all()

    async def _write(self, batch: Events) -> None:
        rows = await self._rows(self._storable(batch))
        # Transactions of 100: the webhooks and syncs queued behind one wait a few milliseconds,
        # not the 12-17 ms a whole batch of 500 held the database's thread.
        for start in range(0, len(rows), ROWS_PER_WRITE):
            chunk = rows[start : start + ROWS_PER_WRITE]
            try:
                await self._db.run(partial(_insert, rows=chunk, size=self.size))
            except DiskFaultError as err:  # the database logs the episode once, not every batch
                self.failed += len(chunk)
                _LOGGER.debug("%d event(s) not logged: %s", len(chunk), err)
                continue
            except Exception:  # the log is best effort: a failed batch must not stop the next
                self.failed += len(chunk)
                _LOGGER.exception("Writing %d event(s) to the event log failed", len(chunk))
                continue
            self.batches += 1
            self.written += len(chunk)

    async def _rows(self, batch: Events) -> list[tuple[Any, ...]]:
        """The rows of ``batch``, encoded on the event loop a slice at a time, not on the
        database's thread, where the 17 µs an event takes held up every write queued behind."""
        audience = self._audience
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(batch), ENCODE_SLICE):
            if start:
                await asyncio.sleep(0)  # let the requests waiting on the loop run in between
            for event in batch[start : start + ENCODE_SLICE]:
                data = row_data(event.origin, encode_data(event.data))
                fired = event.time_fired.timestamp()
                key = None if audience is None else audience(event)
                rows.append((event.type, data, fired, key))
        return rows

    def _storable(self, batch: Events) -> Events:
        """``batch`` without events whose type or origin SQLite cannot take (not UTF-8)."""
        kept = [event for event in batch if is_text(event.type) and is_text(event.origin)]
        if len(kept) < len(batch):
            self.failed += len(batch) - len(kept)
            _LOGGER.warning(
                "%d event(s) with a lone surrogate in their type or origin were not logged",
                len(batch) - len(kept),
            )
        return kept


def encode_data(data: Mapping[str, Any]) -> str:
    """An event's data as JSON of at most ``MAX_DATA_BYTES``; larger data keeps a marked prefix."""
    try:
        text = json.dumps(dict(data), ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError) as err:  # a cycle, or a key json cannot write
        return json.dumps({"_unserializable": str(err)[:200]})
    if not is_text(text):
        # A lone surrogate from outside: SQLite cannot take it, and the whole batch (everyone's
        # events) would be lost with it. JSON's own escape keeps the event, and the surrogate.
        _LOGGER.warning("Event data with a lone surrogate was logged with it escaped")
        text = json.dumps(dict(data), separators=(",", ":"), default=str)
    size = len(text.encode())
    if size <= MAX_DATA_BYTES:
        return text
    keep = MAX_DATA_BYTES // 2
    while True:
        # Escapes can make the prefix longer than it was, so shrink until the whole fits.
        marked = json.dumps(
            {"_truncated": True, "bytes": size, "prefix": text[:keep]},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        if len(marked.encode()) <= MAX_DATA_BYTES:
            return marked
        keep //= 2


def pack_data(text: str) -> bytes:
    """``text`` (from ``encode_data``) as stored: deflated when that is shorter, else its UTF-8."""
    raw = text.encode()
    if len(raw) < PACK_MIN:
        return raw
    packer = zlib.compressobj(6, zlib.DEFLATED, _PACK_BITS, 4, zdict=_PACK_DICT)
    packed = PACKED + packer.compress(raw) + packer.flush()
    return packed if len(packed) < len(raw) else raw


def unpack_data(stored: bytes | str) -> str:
    """The JSON text of a stored event's data (``pack_data`` undone)."""
    if isinstance(stored, str):
        return stored
    try:
        if not stored.startswith(PACKED):
            return stored.decode()
        unpacker = zlib.decompressobj(_PACK_BITS, zdict=_PACK_DICT)
        return (unpacker.decompress(stored[len(PACKED) :]) + unpacker.flush()).decode()
    except (zlib.error, UnicodeDecodeError) as err:  # a damaged row: say so, and read on
        return json.dumps({"_unreadable": str(err)[:200]})


_DECODER: Final = json.JSONDecoder()


def row_data(origin: str, data: str) -> bytes:
    """What ``event_log.data`` holds: the origin as a JSON string, then the data, packed together
    (an origin such as ``integration.webhook``, in every row, costs a few bits there)."""
    return pack_data(json.dumps(origin, ensure_ascii=False) + data)


def read_row_data(stored: bytes | str) -> tuple[str, str]:
    """``(origin, data JSON)`` of a stored ``row_data``."""
    text = unpack_data(stored)
    try:
        origin, end = _DECODER.raw_decode(text)
    except ValueError:
        return "", text
    return (origin, text[end:]) if isinstance(origin, str) else ("", text)


def _insert(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]], size: int) -> None:
    insert = "INSERT INTO event_log (event_type, data, time_fired, audience)"
    # The log is best effort: its commit does not wait for the disk, so it does not hold up the
    # entity writes that share the database's thread (the next of them syncs it along).
    with unsynced(conn):
        conn.execute("BEGIN IMMEDIATE")
        try:
            insert_rows(conn, insert, rows)
            newest, oldest = conn.execute("SELECT max(id), min(id) FROM event_log").fetchone()
            # Ids only grow and rows leave oldest first: the newest ``size`` are the last ``size`` ids.
            if newest is not None and newest - oldest >= size:
                cut = min(newest - size, oldest + TRIM_MAX - 1)
                conn.execute("DELETE FROM event_log WHERE id <= ?", (cut,))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def _select(
    conn: sqlite3.Connection,
    limit: int,
    event_type: str | None,
    audiences: frozenset[str] | None,
) -> list[dict[str, Any]]:
    sql = "SELECT id, event_type, data, time_fired FROM event_log"
    where: list[str] = []
    params: list[Any] = []
    if event_type is not None and event_type != MATCH_ALL:
        if event_type.endswith(".*"):
            prefix = event_type[:-1]
            where.append("substr(event_type, 1, ?) = ?")
            params += [len(prefix), prefix]
        else:
            where.append("event_type = ?")
            params.append(event_type)
    if audiences is not None:
        # In the WHERE, so a page holds ``limit`` events the caller may see whenever there are.
        where.append(f"audience IN ({', '.join('?' * len(audiences))})")
        params += sorted(audiences)
    if where:
        sql += " WHERE " + " AND ".join(where)
    params.append(limit)
    # Decoded here, on the database thread, so large pages do not hold up the event loop.
    found = []
    for row_id, kind, stored, fired in conn.execute(f"{sql} ORDER BY id DESC LIMIT ?", params):
        origin, data = read_row_data(stored)
        found.append(
            {
                "id": row_id,
                "event_type": kind,
                "origin": origin,
                "data": json.loads(data),
                "time_fired": datetime.fromtimestamp(fired, UTC).isoformat(),
            }
        )
    return found
