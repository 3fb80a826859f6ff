"""The registry of secret values that must never appear in text the hub emits, and their redaction."""

from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Final

MASK: Final = "***"
MIN_SECRET_LENGTH: Final = 3
"""Shorter values are not masked: replacing every "ab" in every log line would hide more than it saves."""


class SecretRegistry:
    """Secret values known to this process; ``redact`` replaces each with ``***``.

    Values are reference counted, so two entries that share a password keep it masked until both are
    gone. The registry is thread-safe because logging happens on worker threads too.
    """

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        """Mask ``value`` from now on."""
        if len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            self._counts[value] += 1
            if self._counts[value] == 1:
                self._rebuild()

    def discard(self, value: str) -> None:
        """Stop masking ``value`` once every registration of it is gone."""
        with self._lock:
            if value not in self._counts:
                return
            self._counts[value] -= 1
            if self._counts[value] <= 0:
                del self._counts[value]
                self._rebuild()

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._counts.clear()
            self._pattern = None

    def _rebuild(self) -> None:
        # Longest first, so a secret that contains another is masked whole.
        values = sorted(self._counts, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, values))) if values else None

    def __contains__(self, value: object) -> bool:
        return value in self._counts

    def redact(self, text: str) -> str:
        """Return ``text`` with every registered value replaced by ``***``."""
        pattern = self._pattern
        if pattern is None:
            return text
        return pattern.sub(MASK, text)


SECRETS: Final = SecretRegistry()
"""The process-wide registry: the crypto layer adds every secret it decrypts or encrypts."""


def safe_text(err: BaseException, limit: int = 200) -> str:
    """An exception's text fit to store or show: secrets masked, its first line, at most ``limit``."""
    text = str(err)
    return SECRETS.redact(text).splitlines()[0][:limit] if text else ""
