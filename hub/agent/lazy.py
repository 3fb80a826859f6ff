"""The chat service, built on first use: the agent's modules stay out of the hub's start-up."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.agent.chat import ChatService


class LazyChat:
    """Holds the chat service once ``build`` made it; a person's first chat, models or picker call."""

    def __init__(self, build: Callable[[], Awaitable[ChatService]]) -> None:
        self._build = build
        self._service: ChatService | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> ChatService:
        """The service, built (and its stored models and preferences read) the first time."""
        if self._service is None:
            async with self._lock:
                if self._service is None:
                    self._service = await self._build()
        return self._service

    @property
    def built(self) -> ChatService | None:
        """The service if something has used it yet."""
        return self._service
