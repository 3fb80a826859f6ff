"""Giving freed heap back: one trim after a burst of releases, none where the C library cannot."""

from __future__ import annotations

import asyncio

import pytest

from hub.core.malloc import HeapTrimmer

pytestmark = pytest.mark.usefixtures("no_lingering_tasks")


async def test_a_burst_of_releases_is_one_trim() -> None:
    trimmer = HeapTrimmer(delay=0.01, interval=60)
    if not trimmer.available:
        pytest.skip("this C library cannot give memory back (not glibc)")
    for _ in range(300):
        trimmer.release()
    for _ in range(500):
        if trimmer.trims:
            break
        await asyncio.sleep(0.01)
    assert trimmer.trims == 1
    trimmer.release()  # within the interval: waits for it rather than trimming again at once
    await asyncio.sleep(0.05)
    assert trimmer.trims == 1
    trimmer.cancel()


async def test_cancel_forgets_a_pending_trim() -> None:
    trimmer = HeapTrimmer(delay=0.01)
    trimmer.release()
    trimmer.cancel()
    await asyncio.sleep(0.05)
    assert trimmer.trims == 0
