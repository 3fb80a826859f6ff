"""Passwords as accounts use them: what a new one must be, and hashing and checking two at a time."""

from __future__ import annotations

import asyncio
import functools
import secrets
from typing import Final

from hub.auth.errors import PasswordTooShortError
from hub.auth.passwords import hash_password, verify_password
from hub.core.errors import BadRequestError

MIN_PASSWORD: Final = 8
MAX_PASSWORD: Final = 1024


def check_password(password: str) -> None:
    """Refuse a new password that is too short or too long."""
    if len(password) < MIN_PASSWORD:
        raise PasswordTooShortError(MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        raise BadRequestError(f"password: at most {MAX_PASSWORD} characters")


class PasswordChecks:
    """Hashes and verifies passwords at most two at a time: each holds 19 MiB, a ceiling on memory."""

    def __init__(self) -> None:
        self._hashing = asyncio.Semaphore(2)
        self.count = 0
        """Passwords verified since start, for diagnostics."""

    async def hash(self, password: str) -> str:
        """The stored form of a new password."""
        async with self._hashing:
            return await asyncio.to_thread(hash_password, password)

    async def verify(self, password: str, stored: str | None) -> bool:
        """Check a password (``None``: against a dummy hash, costing the same)."""
        async with self._hashing:
            self.count += 1
            against = stored if stored is not None else await asyncio.to_thread(_dummy_hash)
            return await asyncio.to_thread(verify_password, password, against)


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))
