"""History downsampled to equal time buckets, so a month of minute readings charts as a few hundred.

A bucket holds the last state set within it (with its time: states hold until the next change, so
a step chart through these is the raw chart at the bucket's resolution) and, for the states that
are JSON numbers, their count, lowest, highest and mean, so short peaks stay visible.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

MAX_BUCKETS: Final = 1000
"""More than any chart is wide in pixels."""

_NUMBER: Final = (
    # The JSON text of a number starts with a digit or "-" and a digit ("-Infinity" does not);
    # anything else (a quoted string, true, null, an object) counts in the bucket but not its range.
    "CASE WHEN unicode(state) BETWEEN 48 AND 57 OR (unicode(state) = 45 AND "
    "unicode(substr(state, 2)) BETWEEN 48 AND 57) THEN CAST(state AS REAL) END"
)
_SLOTS: Final = (
    "SELECT slot, count(*), min(v), max(v), avg(v), max(changed_at) FROM ("
    "SELECT min(CAST((changed_at - :start) / :width AS INTEGER), :last) AS slot, changed_at, "
    f"{_NUMBER} AS v FROM history "
    "WHERE entity_id = :entity AND changed_at >= :start AND changed_at <= :end"
    ") GROUP BY slot ORDER BY slot"
)
_STATE_AT: Final = (
    "SELECT state FROM history WHERE entity_id = ? AND changed_at = ? ORDER BY id DESC LIMIT 1"
)
_BEFORE: Final = (
    "SELECT changed_at, state FROM history WHERE entity_id = ? AND changed_at < ? "
    "ORDER BY changed_at DESC, id DESC LIMIT 1"
)


@dataclass(frozen=True, slots=True)
class Bucket:
    """One time slice of an entity's history; ``low``/``high``/``mean`` are ``None`` when none
    of its states was a number."""

    start: float
    end: float
    count: int
    changed_at: float
    """When the bucket's last state was set."""
    state: Any
    low: float | None
    high: float | None
    mean: float | None

    def as_dict(self, iso: Callable[[float], str]) -> dict[str, Any]:
        """The JSON the API answers; ``iso`` formats a unix time."""
        out: dict[str, Any] = {
            "start": iso(self.start),
            "end": iso(self.end),
            "count": self.count,
            "changed_at": iso(self.changed_at),
            "state": self.state,
        }
        if self.mean is not None:
            out.update(min=self.low, max=self.high, mean=self.mean)
        return out


def select_buckets(
    conn: sqlite3.Connection, entity_id: int, start: float, end: float, buckets: int
) -> list[Bucket]:
    """The non-empty buckets of ``buckets`` equal slices of ``[start, end]``, oldest first.

    SQLite aggregates the rows along ``history_by_entity`` (a month of minute readings in tens of
    milliseconds); each bucket's last state is then one indexed lookup.
    """
    width = max(end - start, 1e-3) / buckets
    params = {"entity": entity_id, "start": start, "end": end, "width": width, "last": buckets - 1}
    out = []
    for slot, count, low, high, mean, last_at in conn.execute(_SLOTS, params).fetchall():
        (raw,) = conn.execute(_STATE_AT, (entity_id, last_at)).fetchone()
        out.append(
            Bucket(
                start=start + slot * width,
                end=min(end, start + (slot + 1) * width),
                count=int(count),
                changed_at=float(last_at),
                state=_decode(raw),
                low=_finite(low),
                high=_finite(high),
                mean=_finite(mean),
            )
        )
    return out


def select_before(
    conn: sqlite3.Connection, entity_id: int, start: float
) -> tuple[float, Any] | None:
    """The last ``(changed_at, state)`` before ``start``: the state that still held at ``start``."""
    row = conn.execute(_BEFORE, (entity_id, start)).fetchone()
    if row is None:
        return None
    changed_at, raw = row
    return float(changed_at), _decode(raw)


def _decode(raw: str | None) -> Any:
    state = None if raw is None else json.loads(raw)
    # NaN and Infinity are no JSON a browser reads: an unknown state, as far as a chart goes.
    return None if isinstance(state, float) and not math.isfinite(state) else state


def _finite(value: float | None) -> float | None:
    # A number too large for a double reads as infinity, which no chart can place.
    return value if value is not None and math.isfinite(value) else None
