"""Logging set-up from the configuration, with secret redaction as the last line of defence."""

from __future__ import annotations

import logging
import sys
from typing import Final, TextIO

from hub.core.redact import SECRETS, SecretRegistry

FORMAT: Final = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
QUIET_BY_DEFAULT: Final = {"aiohttp.access": "warning", "apscheduler": "warning"}
"""Loggers too chatty at INFO for a Pi's SD card, unless the configuration names them."""


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
