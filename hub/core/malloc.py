"""Give freed heap back to the operating system after a large release, where the C library can.

glibc keeps memory freed in the middle of its heap for reuse, so after a burst (hundreds of
sockets' queues dropped at once) the process would stay at its peak for good; ``malloc_trim(0)``
returns those pages. Other C libraries (musl, macOS) have no such call, and then this does nothing.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import Final

_LOGGER = logging.getLogger(__name__)

DELAY: Final = 1.0
"""Seconds a trim waits, so that one burst of releases is followed by one trim."""
INTERVAL: Final = 10.0
"""Seconds at least between two trims: each walks the whole heap."""


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    # Looked up on first use, not at start-up: ctypes costs an import, and the process's own
    # symbols (CDLL(None)) hold the C library's without ctypes.util spawning ldconfig to find it.
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


class HeapTrimmer:
    """Trims the heap soon after ``release()`` is called, at most once every ``interval`` seconds."""

    def __init__(self, delay: float = DELAY, interval: float = INTERVAL) -> None:
        self.delay = delay
        self.interval = interval
        self.trims = 0
        self._last = float("-inf")
        self._pending: asyncio.TimerHandle | None = None

    @property
    def available(self) -> bool:
        """Whether this C library can give memory back."""
        return _malloc_trim() is not None

    def release(self) -> None:
        """Much was just freed: trim once the burst is over (from the event loop)."""
        if self._pending is not None or _malloc_trim() is None:
            return
        wait = max(self.delay, self._last + self.interval - time.monotonic())
        self._pending = asyncio.get_running_loop().call_later(wait, self._run)

    def cancel(self) -> None:
        """Forget a trim not yet run (the hub is stopping)."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def _run(self) -> None:
        self._pending = None
        trim = _malloc_trim()
        if trim is None:
            return
        started = time.monotonic()
        trim(0)
        self._last = time.monotonic()
        self.trims += 1
        _LOGGER.debug("Gave freed heap back in %.1f ms", (self._last - started) * 1000)
