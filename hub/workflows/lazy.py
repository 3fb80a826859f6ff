"""The workflow service, built when the hub has a workflow or someone first asks for them.

A hub without workflows keeps their models, validator and engine (about 2 MB) out of its start.
One with stored workflows builds the service at start, so their triggers are armed as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from hub.workflows.service import WorkflowService

WORKFLOWS_KEY: Final = "workflows"
"""The storage key of the stored workflows (``.storage/workflows``)."""


class LazyWorkflows:
    """Holds the workflow service once built; built, loaded and started in one step."""

    def __init__(self, build: Callable[[], Awaitable[WorkflowService]], storage_dir: Path) -> None:
        self._build = build
        self._stored = storage_dir / WORKFLOWS_KEY
        self._service: WorkflowService | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> WorkflowService:
        """The running service, built (its workflows read and armed) the first time."""
        if self._service is None:
            async with self._lock:
                if self._service is None:
                    self._service = await self._build()
        return self._service

    @property
    def built(self) -> WorkflowService | None:
        """The service if something has built it yet."""
        return self._service

    async def start(self) -> None:
        """At the hub's start: build now when workflows are stored, else on first use."""
        exists = await asyncio.to_thread(self._stored.exists)
        if exists:
            await self.get()

    async def stop(self) -> None:
        """Stop the service if it was built."""
        if self._service is not None:
            await self._service.stop()

    async def forget_person(self, person_id: str) -> None:
        """A removed person's workflows go (nothing to do while none were ever stored)."""
        if self._service is None and not await asyncio.to_thread(self._stored.exists):
            return
        await (await self.get()).forget_person(person_id)
