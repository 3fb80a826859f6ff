"""A background task and the bus listener that wakes it, owned and stopped as one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Background:
    """What a service started: its task and the unsubscribe of the listener waking it."""

    task: asyncio.Task[Any] | None = None
    unlisten: Callable[[], Any] | None = None

    async def stop(self) -> None:
        """Stop listening, cancel the task and wait for it; stopping twice is harmless."""
        unlisten, self.unlisten = self.unlisten, None
        if unlisten is not None:
            unlisten()
        task, self.task = self.task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
