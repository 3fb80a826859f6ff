"""The delivery log and the exactly-once store of inbound webhooks, both in ``hub.db``.

Every delivery an entry's token admits is a row: when, from where, the sender's delivery id, the
headers without secrets, the body up to a cap, and its outcome. A sender's delivery id is claimed in
the same transaction as the row, so a repeat within the window finds it even after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import sqlite3
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Final, Literal

from hub.config import WebhooksConfig
from hub.core.database import Database, insert_rows
from hub.entities.store import Alongside, ApplyOutcome

_LOGGER = logging.getLogger(__name__)

Outcome = Literal["accepted", "applied", "duplicate", "refused", "failed"]
Conflict = Literal["fail", "ignore", "update"]

DELIVERY_MIGRATIONS: Final[tuple[str, ...]] = (
    """
    CREATE TABLE webhook_deliveries (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        entry_id TEXT NOT NULL,
        received_at REAL NOT NULL,
        remote TEXT,
        delivery_id TEXT,
        headers TEXT NOT NULL,
        body_size INTEGER NOT NULL,
        truncated INTEGER NOT NULL,
        replay INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        status INTEGER NOT NULL,
        reason TEXT,
        counts TEXT
    ) STRICT;
    CREATE INDEX webhook_deliveries_by_arrival ON webhook_deliveries (entry_id, received_at, seq);
    CREATE INDEX webhook_deliveries_by_time ON webhook_deliveries (received_at);
    CREATE TABLE webhook_delivery_bodies (
        delivery_seq INTEGER PRIMARY KEY
            REFERENCES webhook_deliveries (seq) ON DELETE CASCADE,
        body BLOB NOT NULL
    ) STRICT;
    CREATE TABLE webhook_delivery_ids (
        entry_id TEXT NOT NULL,
        delivery_id TEXT NOT NULL,
        seen_at REAL NOT NULL,
        PRIMARY KEY (entry_id, delivery_id)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX webhook_delivery_ids_by_time ON webhook_delivery_ids (seen_at);
    """,
)
"""Appended after the other migrations; migration N of this tuple is never edited once released."""

DELIVERY_BODY_MIGRATIONS: Final[tuple[str, ...]] = (
    "ALTER TABLE webhook_delivery_bodies ADD COLUMN deflated INTEGER NOT NULL DEFAULT 0;",
)
"""Bodies kept deflated (``deflated = 1``); appended after every other tuple, as released
databases carry those. Rows from before stay as they were and read as before."""

DEFLATE_FROM: Final = 512
"""Bytes from which a body is kept deflated: below, zlib's header and dictionary outweigh the gain."""

_Op = Callable[[sqlite3.Connection], Any]
"""One write of a batch, run on the database's thread inside the batch's transaction."""

GATHER_SECONDS: Final = 0.25
"""How long a write nobody waits for (an outcome) gathers others before its commit: one fsync for
a moment's deliveries, off the webhooks' path, as the event log does. An awaited write or a read
commits what is queued at once."""

MAX_CLAIMS_IN_MEMORY: Final = 50_000
"""Delivery ids within the window kept in memory (about 7 MB at most); past it, the store is asked."""

PRUNE_EVERY: Final = 64
"""An entry's rows beyond its cap are pruned on every this-many-th insert, in the same hop."""

_OR: Final = {"fail": "", "ignore": "OR IGNORE ", "update": ""}
_ON_CONFLICT: Final = {
    "fail": "",
    "ignore": "",
    "update": " ON CONFLICT (id) DO UPDATE SET outcome = excluded.outcome,"
    " status = excluded.status, reason = excluded.reason, counts = excluded.counts",
}
_COLUMNS: Final = (
    "id, entry_id, received_at, remote, delivery_id, headers, body_size, truncated, replay,"
    " outcome, status, reason, counts"
)
# The body has a table of its own: setting a delivery's outcome then rewrites a small row, not
# the (up to 64 KiB) body with it, on the webhooks' path.
_SELECTED: Final = (
    "id, entry_id, received_at, remote, delivery_id, headers, COALESCE(b.body, X''), body_size,"
    " truncated, replay, outcome, status, reason, counts, COALESCE(b.deflated, 0)"
)
_FROM: Final = "webhook_deliveries LEFT JOIN webhook_delivery_bodies AS b ON b.delivery_seq = seq"


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    """One row of the delivery log."""

    id: str
    entry_id: str
    received_at: float
    remote: str | None
    delivery_id: str | None
    headers: Mapping[str, str]
    body: bytes
    body_size: int
    truncated: bool
    replay: bool
    outcome: Outcome
    status: int
    reason: str | None
    counts: Mapping[str, int] | None

    def as_json(self) -> dict[str, Any]:
        """The row as the API answers it; the body as text (undecodable bytes replaced)."""
        return {
            "id": self.id,
            "received_at": self.received_at,
            "remote": self.remote,
            "delivery_id": self.delivery_id,
            "headers": dict(self.headers),
            "body": self.body.decode("utf-8", "replace"),
            "body_size": self.body_size,
            "truncated": self.truncated,
            "replay": self.replay,
            "outcome": self.outcome,
            "status": self.status,
            "reason": self.reason,
            "counts": dict(self.counts) if self.counts is not None else None,
        }


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """What the receiver knows of a delivery when it records it."""

    entry_id: str
    received_at: float
    remote: str | None
    delivery_id: str | None
    headers: Mapping[str, str]
    body: bytes
    replay: bool = False


def new_delivery_id() -> str:
    """The hub's own id of a delivery (a log row): unique, not secret (reading or replaying a
    row needs the right to manage its entry), so not worth a system call on the hot path.

    Time first (milliseconds, 11 hex digits), then a counter that starts at random: ids made
    later sort later, so the log's unique index grows at its end instead of at a random page.
    """
    millis = time.time_ns() // 1_000_000 & 0xFFFFFFFFFFF
    return f"{millis:011x}{next(_SEQUENCE) & 0xFFFFF:05x}"


_SEQUENCE: Final = itertools.count(random.SystemRandom().getrandbits(20))
"""This process's counter, from a random start (not the module's generator: hypothesis reseeds that)."""


class DeliveryLog:
    """Records deliveries, claims sender delivery ids, and prunes both off the event loop."""

    def __init__(self, db: Database, config: WebhooksConfig) -> None:
        self._db = db
        self._config = config
        self._inserts: dict[str, int] = {}
        self._queue: list[tuple[_Op, asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._hurry = asyncio.Event()
        self._claims: dict[tuple[str, str], float] = {}
        """Sender delivery ids seen within the window, oldest first (``hub.db`` has them too)."""
        self._claims_loaded = False
        self._claims_complete = True
        """Whether every id within the window is in ``_claims`` (else the store is asked)."""

    @property
    def body_cap(self) -> int:
        """Bytes of a body the log keeps."""
        return self._config.log_body_max_kib * 1024

    async def record(
        self,
        delivery: NewDelivery,
        *,
        outcome: Outcome,
        status: int,
        reason: str | None = None,
        row_id: str | None = None,
        counts: Mapping[str, int] | None = None,
        conflict: Conflict = "fail",
        claim: bool = False,
    ) -> str:
        """Commit the row (with its sender's delivery id when ``claim``); the row's id.

        With a given ``row_id``, ``conflict`` says what a row of that id already there means:
        ``ignore`` keeps it (an ``accepted`` written after the outcome), ``update`` sets its
        outcome.
        """
        row_id = row_id or new_delivery_id()
        row = self._new_row(row_id, delivery, outcome, status, reason, counts=counts, claim=claim)
        await self._submit(partial(_insert, rows=[row], cap=self.body_cap, conflict=conflict))
        return row_id

    def record_soon(
        self,
        delivery: NewDelivery,
        row_id: str,
        *,
        outcome: Outcome,
        status: int,
        counts: Mapping[str, int] | None = None,
    ) -> asyncio.Future[Any]:
        """Queue a whole row with its outcome (or that outcome onto an ``accepted`` row written
        meanwhile), committed with the next gathered batch."""
        row = self._new_row(row_id, delivery, outcome, status, counts=counts)
        return self._enqueue(
            partial(_insert, rows=[row], cap=self.body_cap, conflict="update"), urgent=False
        )

    def _new_row(
        self,
        row_id: str,
        delivery: NewDelivery,
        outcome: Outcome,
        status: int,
        reason: str | None = None,
        *,
        counts: Mapping[str, int] | None = None,
        claim: bool = False,
    ) -> _Row:
        """A row to write, counted towards its entry's next prune."""
        return _Row(
            row_id,
            delivery,
            outcome,
            status,
            reason,
            counts=json.dumps(dict(counts)) if counts is not None else None,
            claim=claim,
            prune_cap=self._prune_cap(delivery.entry_id),
        )

    def _prune_cap(self, entry_id: str) -> int | None:
        count = self._inserts.get(entry_id, 0) + 1
        self._inserts[entry_id] = count
        return self._config.log_max_rows_per_entry if count % PRUNE_EVERY == 0 else None

    async def claim(self, entry_id: str, delivery_id: str, now: float) -> bool:
        """Claim a sender's delivery id for a delivery about to be handled; ``False``: a repeat.

        Checked and claimed in memory with no wait in between, so two copies arriving at once
        are told apart; ``hub.db`` gets the claim with the delivery's log row.
        """
        if not self._claims_loaded:
            await self._load_claims(now)
        key, window = (entry_id, delivery_id), self._config.dedupe_window_hours * 3600
        seen = self._claims.get(key)
        if seen is not None and seen >= now - window:
            return False
        self._remember(key, now)
        if self._claims_complete:
            return True
        # Some ids within the window were not kept in memory: the store still knows them (long
        # committed: the recent ones are all in memory), so a plain read, not a queued write.
        stored: float | None = await self._db.run(partial(_seen_at, key=key))
        return stored is None or stored < now - window

    def _remember(self, key: tuple[str, str], at: float) -> None:
        self._claims.pop(key, None)
        self._claims[key] = at
        while len(self._claims) > MAX_CLAIMS_IN_MEMORY:
            del self._claims[next(iter(self._claims))]
            self._claims_complete = False

    async def _load_claims(self, now: float) -> None:
        window = self._config.dedupe_window_hours * 3600
        rows: list[tuple[str, str, float]] = await self._submit(
            partial(_recent_claims, since=now - window, limit=MAX_CLAIMS_IN_MEMORY + 1)
        )
        if self._claims_loaded:  # another delivery loaded them meanwhile
            return
        self._claims_loaded = True
        self._claims_complete = len(rows) <= MAX_CLAIMS_IN_MEMORY
        for entry_id, delivery_id, seen_at in reversed(rows[:MAX_CLAIMS_IN_MEMORY]):
            self._claims.setdefault((entry_id, delivery_id), seen_at)

    def row_writer(self, delivery: NewDelivery, row_id: str, *, claim: bool) -> Alongside:
        """The delivery's whole log row (outcome ``applied`` with the apply's counts, and its
        claimed id) as a write inside the entities' transaction: one commit for both, and one
        statement for the rows of every webhook in the batch."""
        return Alongside(
            self._write_applied, self._new_row(row_id, delivery, "applied", 200, claim=claim)
        )

    def _write_applied(
        self, conn: sqlite3.Connection, items: Sequence[tuple[_Row, ApplyOutcome]]
    ) -> None:
        """Rows of applied deliveries, with each apply's counts (``row_writer``)."""
        rows = [replace(row, counts=json.dumps(outcome.counts())) for row, outcome in items]
        _insert(conn, rows, cap=self.body_cap, conflict="update")

    async def release(self, entry_id: str, delivery_id: str) -> None:
        """Forget a claimed delivery id: the handling failed, so the sender's retry must run."""
        self._claims.pop((entry_id, delivery_id), None)
        await self._submit(
            partial(
                _execute,
                sql="DELETE FROM webhook_delivery_ids WHERE entry_id = ? AND delivery_id = ?",
                params=(entry_id, delivery_id),
            )
        )

    async def flush(self) -> None:
        """Commit every queued write now (at shutdown: nothing gathering is left behind)."""
        if self._queue:
            await self._submit(lambda conn: None)

    async def _submit(self, op: _Op) -> Any:
        """Run ``op`` in the next batch: concurrent deliveries share one transaction (one fsync)."""
        return await self._enqueue(op)

    def _enqueue(self, op: _Op, *, urgent: bool = True) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        # Not awaited by everyone (``finish_soon``): a failure is logged by the database already.
        future.add_done_callback(_retrieve)
        self._queue.append((op, future))
        if urgent:
            self._hurry.set()
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return future

    async def _flush(self) -> None:
        try:
            while self._queue:
                if not self._hurry.is_set():  # only writes nobody waits for: gather a batch
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(GATHER_SECONDS):
                            await self._hurry.wait()
                self._hurry.clear()
                batch, self._queue = self._queue, []
                ops = [op for op, _ in batch]
                try:
                    results = await self._db.run(partial(_in_transaction, ops=ops))
                except Exception as err:  # noqa: BLE001  # each waiter hears it (a full disk …)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(err)
                    continue
                except BaseException:  # cancelled (shutdown): nobody waits on a lost batch
                    for _, future in batch:
                        future.cancel()
                    raise
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._flusher = None

    async def page(
        self, entry_id: str, *, limit: int, before: str | None = None
    ) -> list[StoredDelivery]:
        """The entry's newest deliveries, newest first; ``before``: older than that delivery."""
        # Through the queue: a read sees every write queued before it (an outcome not yet flushed).
        rows: list[StoredDelivery] = await self._submit(
            lambda conn: _page(conn, entry_id, limit, before)
        )
        return rows

    async def get(self, entry_id: str, row_id: str) -> StoredDelivery | None:
        """One of the entry's deliveries."""
        rows: list[StoredDelivery] = await self._submit(
            lambda conn: _select(conn, "WHERE entry_id = ? AND id = ? LIMIT 1", (entry_id, row_id))
        )
        return rows[0] if rows else None

    async def newest_with_body(self, entry_id: str) -> StoredDelivery | None:
        """The entry's most recent delivery whose whole body was kept (a preview's input)."""
        rows: list[StoredDelivery] = await self._submit(
            lambda conn: _select(
                conn,
                "WHERE entry_id = ? AND body_size > 0 AND truncated = 0"
                " ORDER BY received_at DESC, seq DESC LIMIT 1",
                (entry_id,),
            )
        )
        return rows[0] if rows else None

    async def forget_entry(self, entry_id: str) -> None:
        """Drop an entry's log and claimed ids (the entry is gone)."""
        self._claims = {k: v for k, v in self._claims.items() if k[0] != entry_id}
        # Through the queue: a row still gathering for its batch must not outlive its entry.
        await self._submit(lambda conn: _forget(conn, entry_id))

    async def prune(self, now: float) -> int:
        """Drop rows past the retention and ids past the window; the rows dropped."""
        days = self._config.log_retention_days * 86400
        window = self._config.dedupe_window_hours * 3600
        cap = self._config.log_max_rows_per_entry
        self._claims = {k: v for k, v in self._claims.items() if v >= now - window}
        return await self._db.run(lambda conn: _prune(conn, now - days, now - window, cap))


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _in_transaction(conn: sqlite3.Connection, ops: list[_Op]) -> list[Any]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        results = [op(conn) for op in ops]
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # a full disk can end the transaction before we do
            conn.execute("ROLLBACK")
        raise
    return results


def _execute(conn: sqlite3.Connection, *, sql: str, params: tuple[Any, ...]) -> None:
    conn.execute(sql, params)


@dataclass(frozen=True, slots=True)
class _Row:
    """One log row to write (``_insert``)."""

    row_id: str
    delivery: NewDelivery
    outcome: Outcome
    status: int
    reason: str | None = None
    counts: str | None = None
    claim: bool = False
    """Whether the sender's delivery id is claimed with it (checked in memory beforehand)."""
    prune_cap: int | None = None
    """Its entry's rows beyond this many are dropped in the same transaction."""


def _insert(
    conn: sqlite3.Connection, rows: Sequence[_Row], *, cap: int, conflict: Conflict = "fail"
) -> None:
    """Write ``rows`` (their claimed ids, the rows, their bodies up to ``cap``) in a few
    statements however many there are: a batch of webhooks is written at once."""
    claims = [
        (row.delivery.entry_id, row.delivery.delivery_id, row.delivery.received_at)
        for row in rows
        if row.claim and row.delivery.delivery_id
    ]
    insert_rows(
        conn, "INSERT OR REPLACE INTO webhook_delivery_ids (entry_id, delivery_id, seen_at)", claims
    )
    insert_rows(
        conn,
        f"INSERT {_OR[conflict]}INTO webhook_deliveries ({_COLUMNS})",  # constant parts
        [
            (
                row.row_id,
                row.delivery.entry_id,
                row.delivery.received_at,
                row.delivery.remote,
                row.delivery.delivery_id,
                json.dumps(dict(row.delivery.headers)),
                len(row.delivery.body),
                int(len(row.delivery.body) > cap),
                int(row.delivery.replay),
                row.outcome,
                row.status,
                row.reason,
                row.counts,
            )
            for row in rows
        ],
        then=_ON_CONFLICT[conflict],
    )
    # Matched by id, as the rows' own keys (``seq``) are SQLite's to choose. A row kept as it was
    # (``ignore``) keeps its body: ``accepted`` is only ever written with the body it already has.
    bodies = [(row.row_id, *_packed(row.delivery.body[:cap])) for row in rows if row.delivery.body]
    insert_rows(
        conn,
        "INSERT OR IGNORE INTO webhook_delivery_bodies (delivery_seq, body, deflated)"
        " SELECT d.seq, v.column2, v.column3 FROM (",
        bodies,
        then=") AS v JOIN webhook_deliveries AS d ON d.id = v.column1",
    )
    for entry_id, prune_cap in {
        row.delivery.entry_id: row.prune_cap for row in rows if row.prune_cap is not None
    }.items():
        conn.execute(
            "DELETE FROM webhook_deliveries WHERE entry_id = ? AND (received_at, seq) <= ("
            "SELECT received_at, seq FROM webhook_deliveries WHERE entry_id = ?"
            " ORDER BY received_at DESC, seq DESC LIMIT 1 OFFSET ?)",
            (entry_id, entry_id, prune_cap),
        )


def _packed(body: bytes) -> tuple[bytes, int]:
    """``body`` as the log keeps it, and whether deflated: zlib's fastest level, when smaller.

    A GitHub ``push`` (7.7 KB) keeps 1.7 KB: a log row's pages in the WAL, the checkpoint and
    the file are about 40 % fewer, which a Pi's SD card feels. Deflating takes about 20 µs on
    the database's thread, which zlib runs without the GIL.
    """
    if len(body) >= DEFLATE_FROM:
        packed = zlib.compress(body, 1)
        if len(packed) < len(body):
            return packed, 1
    return body, 0


def _unpacked(stored: bytes, deflated: int) -> bytes:
    if not deflated:
        return stored
    try:
        return zlib.decompress(stored)
    except zlib.error as err:  # a damaged page: the row stays readable, without its body
        _LOGGER.warning("A logged webhook body cannot be inflated (%s); it is shown empty", err)
        return b""


def _row(values: tuple[Any, ...]) -> StoredDelivery:
    return StoredDelivery(
        id=values[0],
        entry_id=values[1],
        received_at=values[2],
        remote=values[3],
        delivery_id=values[4],
        headers=json.loads(values[5]),
        body=_unpacked(bytes(values[6]), values[14]),
        body_size=values[7],
        truncated=bool(values[8]),
        replay=bool(values[9]),
        outcome=values[10],
        status=values[11],
        reason=values[12],
        counts=json.loads(values[13]) if values[13] is not None else None,
    )


def _select(conn: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> list[StoredDelivery]:
    sql = f"SELECT {_SELECTED} FROM {_FROM} {where}"  # constant clauses
    return [_row(values) for values in conn.execute(sql, params).fetchall()]


def _page(
    conn: sqlite3.Connection, entry_id: str, limit: int, before: str | None
) -> list[StoredDelivery]:
    if before is None:
        return _select(
            conn,
            "WHERE entry_id = ? ORDER BY received_at DESC, seq DESC LIMIT ?",
            (entry_id, limit),
        )
    return _select(
        conn,
        "WHERE entry_id = ? AND (received_at, seq) <"
        " (SELECT received_at, seq FROM webhook_deliveries WHERE id = ?)"
        " ORDER BY received_at DESC, seq DESC LIMIT ?",
        (entry_id, before, limit),
    )


def _seen_at(conn: sqlite3.Connection, key: tuple[str, str]) -> float | None:
    row = conn.execute(
        "SELECT seen_at FROM webhook_delivery_ids WHERE entry_id = ? AND delivery_id = ?", key
    ).fetchone()
    return float(row[0]) if row is not None else None


def _recent_claims(
    conn: sqlite3.Connection, since: float, limit: int
) -> list[tuple[str, str, float]]:
    """The newest claims within the window, newest first."""
    return conn.execute(
        "SELECT entry_id, delivery_id, seen_at FROM webhook_delivery_ids WHERE seen_at >= ?"
        " ORDER BY seen_at DESC LIMIT ?",
        (since, limit),
    ).fetchall()


def _forget(conn: sqlite3.Connection, entry_id: str) -> None:
    conn.execute("DELETE FROM webhook_deliveries WHERE entry_id = ?", (entry_id,))
    conn.execute("DELETE FROM webhook_delivery_ids WHERE entry_id = ?", (entry_id,))


def _prune(conn: sqlite3.Connection, rows_before: float, ids_before: float, cap: int) -> int:
    conn.execute("BEGIN IMMEDIATE")
    try:
        dropped = conn.execute(
            "DELETE FROM webhook_deliveries WHERE received_at < ?", (rows_before,)
        ).rowcount
        dropped += conn.execute(
            "DELETE FROM webhook_deliveries WHERE seq IN (SELECT seq FROM (SELECT seq,"
            " row_number() OVER (PARTITION BY entry_id ORDER BY seq DESC) AS n"
            " FROM webhook_deliveries) WHERE n > ?)",
            (cap,),
        ).rowcount
        conn.execute("DELETE FROM webhook_delivery_ids WHERE seen_at < ?", (ids_before,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return int(dropped)
