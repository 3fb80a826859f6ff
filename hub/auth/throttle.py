"""Login throttling: growing delays per client address and per username, forgotten after a while."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Final

BASE_DELAY: Final = 0.5
CLIENT_CAP: Final = 60.0
USERNAME_CAP: Final = 5.0
"""Low on purpose: an attacker guessing one person's password slows that person by seconds, never
locks them out; the per-address delay is what stops the attacker."""
FORGET_AFTER: Final = 900.0
MAX_TRACKED: Final = 10_000


@dataclass(slots=True)
class _Record:
    failures: int
    not_before: float
    last: float


class Throttle:
    """Remembers failed logins; each failure doubles the wait, up to a cap per kind of key."""

    def __init__(self, *, base: float = BASE_DELAY) -> None:
        self.base = base
        self._records: dict[str, _Record] = {}

    def pending(self, client: str, username: str, now: float | None = None) -> float:
        """Seconds before either key may try again."""
        now = time.monotonic() if now is None else now
        waits = [r.not_before - now for k in _keys(client, username) if (r := self._records.get(k))]
        return max([0.0, *waits])

    async def wait(self, client: str, username: str) -> None:
        """Sleep out whatever delay earlier failures earned."""
        delay = self.pending(client, username)
        if delay > 0:
            await asyncio.sleep(delay)

    def failed(self, client: str, username: str) -> float:
        """Record a failure; returns the delay it earned."""
        now = time.monotonic()
        self._forget(now)
        delays = []
        for key, cap in zip(_keys(client, username), (CLIENT_CAP, USERNAME_CAP), strict=True):
            record = self._records.get(key) or _Record(0, now, now)
            record.failures += 1
            delay = float(min(cap, self.base * 2 ** (record.failures - 1)))
            record.not_before = now + delay
            record.last = now
            self._records[key] = record
            delays.append(delay)
        return max(delays)

    def succeeded(self, client: str, username: str) -> None:
        """A correct password clears both keys."""
        for key in _keys(client, username):
            self._records.pop(key, None)

    def _forget(self, now: float) -> None:
        if len(self._records) < MAX_TRACKED:
            stale = [k for k, r in self._records.items() if now - r.last > FORGET_AFTER]
        else:  # a flood of fresh addresses: keep the newest half
            stale = sorted(self._records, key=lambda k: self._records[k].last)[: MAX_TRACKED // 2]
        for key in stale:
            del self._records[key]


def _keys(client: str, username: str) -> tuple[str, str]:
    return f"client:{client}", f"user:{username}"
