"""Login throttling: each attempt reserves its slot before its password is checked.

An attempt is admitted only while its address and its name have no attempt in flight and no delay
pending from earlier failures, and while the hub as a whole has a free slot; anything else is
refused at once (``429`` and ``Retry-After``) rather than queued, because a queued attempt still
holds a connection, a task and soon 19 MiB of Argon2 memory, and a queue of them was exactly how
concurrency got around the delays. Past a hub-wide failure rate, addresses that never signed in as
that name share one slow lane, while a person's own known address keeps signing in at once.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from hub.core.errors import TOO_MANY_ATTEMPTS, HubError

BASE_DELAY: Final = 0.5
CLIENT_CAP: Final = 60.0
USERNAME_CAP: Final = 15.0
"""Low on purpose: an attacker guessing one person's password delays strangers to that name by
seconds, never that person on a device they signed in from; the per-address delay stops the
attacker's own address, and the per-name one bounds many addresses to four guesses a minute."""
FORGET_AFTER: Final = 900.0
MAX_TRACKED: Final = 10_000
MAX_IN_FLIGHT: Final = 8
"""Attempts admitted hub-wide at once; the service hashes two of them at a time."""
GLOBAL_FAILURES: Final = 30
GLOBAL_WINDOW: Final = 60.0
"""More failures than this in a minute, hub-wide, puts every stranger in the slow lane."""
GLOBAL_SPACING: Final = 2.0
"""The slow lane admits one stranger's attempt this often, so a first sign-in stays possible."""
SETTLE: Final = 5.0
"""A failed answer is held back by the delay it earned, up to this: a person retyping (or a script
trying in turn) then never meets a refusal, while the slot is already free for everyone else."""
KNOWN_FOR: Final = 30 * 86_400.0
"""How long an address that signed in as a name skips that name's delay and the slow lane."""


class LoginThrottledError(HubError):
    """Too many sign-in attempts from this address, for this name, or hub-wide; try again later."""

    code = TOO_MANY_ATTEMPTS
    http_status = 429

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(
            f"too many sign-in attempts; try again in {self.retry_after} s",
            key="errors.too_many_attempts",
            seconds=self.retry_after,
        )


@dataclass(slots=True)
class _Record:
    failures: int
    not_before: float
    last: float
    busy: bool = False


class Attempt:
    """One admitted attempt; the service says how it went, and leaving it unsaid is a failure."""

    __slots__ = ("delay", "ok")

    def __init__(self) -> None:
        self.ok: bool | None = None
        self.delay = 0.0
        """The delay a failure earned (set once the attempt is over)."""

    def succeeded(self) -> None:
        """The password was right."""
        self.ok = True

    def failed(self) -> None:
        """The name or the password was wrong."""
        self.ok = False


class Throttle:
    """Admits attempts one at a time per address and per name, with growing delays after failures."""

    def __init__(
        self,
        *,
        base: float = BASE_DELAY,
        max_in_flight: int = MAX_IN_FLIGHT,
        global_failures: int = GLOBAL_FAILURES,
        spacing: float = GLOBAL_SPACING,
    ) -> None:
        self.base = base
        self.max_in_flight = max_in_flight
        self.global_failures = global_failures
        self.spacing = spacing
        self.settle = SETTLE
        self._records: dict[str, _Record] = {}
        self._known: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._failures: deque[float] = deque()
        self._slow_lane_at = 0.0
        self._in_flight = 0
        self.admitted = 0
        """Attempts admitted since start (each one checks a password): for diagnostics and tests."""
        self.refused = 0

    @contextlib.contextmanager
    def attempt(self, client: str, username: str) -> Iterator[Attempt]:
        """Reserve the address's and the name's slot, or raise ``LoginThrottledError``."""
        now = time.monotonic()
        self._forget(now)
        known = self.known(client, username, now)
        keys = _keys(client, username) if not known else _keys(client, username)[:1]
        wait = self._wait(keys, known, now)
        if wait is not None:
            self.refused += 1
            raise LoginThrottledError(wait)
        records = [self._records.setdefault(key, _Record(0, now, now)) for key in keys]
        for record in records:
            record.busy = True
        self._in_flight += 1
        self.admitted += 1
        attempt = Attempt()
        try:
            yield attempt
        finally:
            self._in_flight -= 1
            for record in records:
                record.busy = False
            if attempt.ok:
                self._succeeded(client, username)
            else:  # an error or a dropped connection mid-check counts too, or it would be free
                attempt.delay = self._failed(client, username)

    def pending(self, client: str, username: str, now: float | None = None) -> float:
        """Seconds before this address may try this name again (0 when it may now)."""
        now = time.monotonic() if now is None else now
        known = self.known(client, username, now)
        keys = _keys(client, username)[: 1 if known else 2]
        waits = [r.not_before - now for k in keys if (r := self._records.get(k))]
        return max([0.0, *waits])

    def known(self, client: str, username: str, now: float | None = None) -> bool:
        """Whether this address signed in as this name within ``KNOWN_FOR``."""
        now = time.monotonic() if now is None else now
        since = self._known.get((client, username))
        return since is not None and now - since < KNOWN_FOR

    def _wait(self, keys: tuple[str, ...], known: bool, now: float) -> float | None:
        """How long the attempt must wait, or ``None`` when it may go now."""
        if self._in_flight >= self.max_in_flight:
            return 1.0
        for key in keys:
            record = self._records.get(key)
            if record is not None and record.busy:
                return 1.0
            if record is not None and record.not_before > now:
                return record.not_before - now
        if not known and self._over_ceiling(now):
            if self._slow_lane_at > now:
                return self._slow_lane_at - now
            self._slow_lane_at = now + self.spacing
        return None

    def _over_ceiling(self, now: float) -> bool:
        while self._failures and now - self._failures[0] > GLOBAL_WINDOW:
            self._failures.popleft()
        return len(self._failures) >= self.global_failures

    def _failed(self, client: str, username: str) -> float:
        now = time.monotonic()
        self._failures.append(now)
        while len(self._failures) > self.global_failures:
            self._failures.popleft()  # only the newest ``global_failures`` decide the ceiling
        delays = []
        for key, cap in zip(_keys(client, username), (CLIENT_CAP, USERNAME_CAP), strict=True):
            record = self._records.get(key) or _Record(0, now, now)
            record.failures += 1
            delay = float(min(cap, self.base * 2 ** min(record.failures - 1, 32)))
            record.not_before = now + delay
            record.last = now
            self._records[key] = record
            delays.append(delay)
        return delays[0] if self.known(client, username, now) else max(delays)

    def _succeeded(self, client: str, username: str) -> None:
        """A correct password clears its address and remembers the pair; the name keeps its delay,
        so someone guessing it is not reset each time its person signs in."""
        self._records.pop(_keys(client, username)[0], None)
        pair = (client, username)
        self._known.pop(pair, None)
        self._known[pair] = time.monotonic()
        while len(self._known) > MAX_TRACKED:
            self._known.popitem(last=False)

    def _forget(self, now: float) -> None:
        if len(self._records) < MAX_TRACKED:
            stale = [
                k for k, r in self._records.items() if not r.busy and now - r.last > FORGET_AFTER
            ]
        else:  # a flood of fresh addresses: keep the newest half
            idle = [k for k, r in self._records.items() if not r.busy]
            stale = sorted(idle, key=lambda k: self._records[k].last)[: MAX_TRACKED // 2]
        for key in stale:
            del self._records[key]


def _keys(client: str, username: str) -> tuple[str, str]:
    return f"client:{client}", f"user:{username}"
