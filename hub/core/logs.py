"""Logging set-up from the configuration, with secret redaction as the last line of defence."""

from __future__ import annotations

import contextvars
import logging
import sys
import threading
from collections import deque
from typing import Final, TextIO

from hub.core.redact import SECRETS, SecretRegistry

FORMAT: Final = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
QUIET_BY_DEFAULT: Final = {"aiohttp.access": "warning", "apscheduler": "warning"}
"""Loggers too chatty at INFO for a Pi's SD card, unless the configuration names them."""
RING_SIZE: Final = 200
"""Lines kept per entry (and for the hub as a whole) for a diagnostics download."""

ENTRY_ID: Final = contextvars.ContextVar[str | None]("ENTRY_ID", default=None)
"""The entry whose integration code runs now (set by ``EntryRuntime``): its records are that
entry's. A record may name its entry itself too, with ``extra={"entry_id": ...}``."""


class RedactionFilter(logging.Filter):
    """Replace every registered secret in a record's message, traceback and stack with ``***``."""

    def __init__(self, registry: SecretRegistry = SECRETS) -> None:
        super().__init__()
        self._registry = registry

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the record's text, mask it, and let it through."""
        redact = self._registry.redact
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class _HubHandler(logging.StreamHandler[TextIO]):
    """The handler the hub installs; marked so a second set-up replaces it rather than doubling it."""


def setup_logging(
    default: str, levels: dict[str, str], *, stream: TextIO | None = None
) -> logging.Handler:
    """Send log records to ``stream`` (stderr) at the configured levels, through the redaction filter."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _HubHandler):
            root.removeHandler(handler)
    handler = _HubHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactionFilter())
    root.addHandler(handler)
    root.setLevel(default.upper())
    for name, level in {**QUIET_BY_DEFAULT, **levels}.items():
        logging.getLogger(name).setLevel(level.upper())
    logging.captureWarnings(True)
    return handler


class LogRing(logging.Handler):
    """The last ``size`` lines of each entry, and of the hub, redacted, in memory for diagnostics."""

    def __init__(self, size: int = RING_SIZE, registry: SecretRegistry = SECRETS) -> None:
        super().__init__(logging.NOTSET)
        self.size = size
        self._registry = registry
        self._entries: dict[str, deque[str]] = {}
        self._hub: deque[str] = deque(maxlen=size)
        self._lock_rings = threading.Lock()  # records arrive from worker threads too
        self.setFormatter(logging.Formatter(FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record's line in its entry's ring (if it has an entry) and the hub's."""
        try:
            entry_id = getattr(record, "entry_id", None) or ENTRY_ID.get()
            line = self._registry.redact(self.format(record))
        except Exception:  # noqa: BLE001  # a record that cannot be formatted is not kept
            return
        with self._lock_rings:
            self._hub.append(line)
            if isinstance(entry_id, str):
                ring = self._entries.get(entry_id)
                if ring is None:
                    ring = self._entries[entry_id] = deque(maxlen=self.size)
                ring.append(line)

    def lines(self, entry_id: str | None = None) -> list[str]:
        """An entry's last lines (the hub's, without one), oldest first."""
        with self._lock_rings:
            ring = self._hub if entry_id is None else self._entries.get(entry_id, ())
            return list(ring)

    def forget(self, entry_id: str) -> None:
        """Drop a removed entry's lines."""
        with self._lock_rings:
            self._entries.pop(entry_id, None)
