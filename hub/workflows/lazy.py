"""The workflow service, built when the hub has a workflow or someone first asks for them.

A hub without workflows keeps their models, validator and engine (about 2 MB) out of its start.
One with stored workflows builds the service at start, so their triggers are armed as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

from hub.core.lazy import Lazy

if TYPE_CHECKING:
    from hub.workflows.service import WorkflowService

WORKFLOWS_KEY: Final = "workflows"
"""The storage key of the stored workflows (``.storage/workflows``)."""


class LazyWorkflows(Lazy["WorkflowService"]):
    """Holds the workflow service once built; built, loaded and started in one step."""

    def __init__(self, build: Callable[[], Awaitable[WorkflowService]], stored: Path) -> None:
        super().__init__(build)
        self._stored = stored
        """The stored workflows' file (``StorageManager.path_of(WORKFLOWS_KEY)``)."""

    async def start(self) -> None:
        """At the hub's start: build now when workflows are stored, else on first use."""
        exists = await asyncio.to_thread(self._stored.exists)
        if exists:
            await self.get()

    async def stop(self) -> None:
        """Stop the service if it was built."""
        if self.built is not None:
            await self.built.stop()

    async def forget_person(self, person_id: str) -> None:
        """A removed person's workflows go (nothing to do while none were ever stored)."""
        if self.built is None and not await asyncio.to_thread(self._stored.exists):
            return
        await (await self.get()).forget_person(person_id)
