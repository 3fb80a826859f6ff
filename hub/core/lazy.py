"""A service built on its first use, so its modules stay out of the hub's start-up."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Lazy(Generic[T]):
    """Holds what ``build`` makes, made once (concurrent first callers wait for the one build)."""

    def __init__(self, build: Callable[[], Awaitable[T]]) -> None:
        self._build = build
        self._built: T | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> T:
        """The service, built the first time."""
        if self._built is None:
            async with self._lock:
                if self._built is None:
                    self._built = await self._build()
        return self._built

    @property
    def built(self) -> T | None:
        """The service if something has built it yet."""
        return self._built
