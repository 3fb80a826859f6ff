"""A start-up timeline: each phase and its duration, so a slow Pi shows where its time went."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

_LOGGER = logging.getLogger("hub.startup")


class Timeline:
    """Phases measured from one origin; each is logged as it ends."""

    def __init__(self, origin: float | None = None) -> None:
        self.origin = time.perf_counter() if origin is None else origin
        self.phases: list[tuple[str, float]] = []

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Measure the block as phase ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.mark(name, time.perf_counter() - start)

    def mark(self, name: str, seconds: float) -> None:
        """Record a phase measured elsewhere."""
        self.phases.append((name, seconds))
        _LOGGER.info("Start-up phase %-14s %7.1f ms", name, seconds * 1000)

    def elapsed(self) -> float:
        """Seconds since the origin."""
        return time.perf_counter() - self.origin
