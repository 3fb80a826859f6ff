"""Fixtures shared by the whole suite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from hub.core.redact import SECRETS


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """Each test starts with an empty redaction registry."""
    yield
    SECRETS.clear()


@pytest.fixture
async def no_lingering_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves a task running on the loop: background work must be owned and stopped."""
    before = asyncio.all_tasks()
    yield
    await asyncio.sleep(0)
    lingering = [
        task for task in asyncio.all_tasks() - before if task is not asyncio.current_task()
    ]
    assert not lingering, f"tasks left running: {lingering}"
