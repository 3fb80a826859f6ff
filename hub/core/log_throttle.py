"""One log line per interval for an event that can repeat thousands of times a second."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class LogThrottle:
    """Logs the first of a burst at once, then at most one line per ``interval`` with the count skipped."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float,
        *,
        level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._level = level
        self._clock = clock
        self._next = float("-inf")
        self._skipped = 0

    def log(self, message: str, *args: object) -> bool:
        """Log ``message % args`` unless a line went out less than ``interval`` ago; True if logged."""
        now = self._clock()
        if now < self._next:
            self._skipped += 1
            return False
        if self._skipped:
            message += " (%d more like it since the last such line)"
            args = (*args, self._skipped)
        self._skipped = 0
        self._next = now + self._interval
        self._logger.log(self._level, message, *args)
        return True
