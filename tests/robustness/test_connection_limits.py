"""``hub run`` under connection floods: caps and timeouts, the file limit raised, quiet accept errors."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import aiohttp

from tests.api.test_connections import BOUND, Stream, closed_by_hub
from tests.robustness.support_live_hub import HubProcess, hub_process


async def connect(hub: HubProcess) -> Stream | None:
    """A raw connection, or None when the hub's listen queue is full and the kernel drops it."""
    host, port = hub.url.removeprefix("http://").split(":")
    try:
        async with asyncio.timeout(2):
            return await asyncio.open_connection(host, int(port))
    except (TimeoutError, OSError):
        return None


async def health(hub: HubProcess) -> int:
    """The status of ``GET /api/health`` on a new connection."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=BOUND)) as session,
        session.get(hub.url + "/api/health") as resp,
    ):
        return resp.status


def limits_of(pid: int) -> tuple[int, int]:
    """The (soft, hard) open-file limit of process ``pid``."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no open-file limit")


async def test_hub_run_raises_its_file_limit_and_caps_connections_per_address(
    tmp_path: Path,
) -> None:
    env = {"HUB__HTTP__MAX_CONNECTIONS_PER_ADDRESS": "2", "HUB__HTTP__HEADER_TIMEOUT_SECONDS": "1"}
    async with hub_process(tmp_path, env, file_limit=(256, 4096)) as hub:
        assert limits_of(hub.pid) == (4096, 4096)
        held = [stream for stream in [await connect(hub), await connect(hub)] if stream]
        third = await connect(hub)
        assert third is not None
        assert await closed_by_hub(third[0]) == b"", "a third connection is closed at once"
        third[1].close()
        # The two held ones never send a request head: closed after the head timeout.
        assert [await closed_by_hub(reader) for reader, _ in held] == [b"", b""]
        for _, writer in held:
            writer.close()
        assert await health(hub) == 200
    log = hub.log_text()
    assert "Closed a new connection from 127.0.0.1 at once" in log
    assert "max_connections is 512 but the open-file limit" not in log


async def test_running_out_of_files_logs_one_line_not_one_per_failed_accept(
    tmp_path: Path,
) -> None:
    env = {"HUB__HTTP__HEADER_TIMEOUT_SECONDS": "30", "HUB__LOGGER__DEFAULT": "warning"}
    async with hub_process(tmp_path, env, file_limit=(64, 64)) as hub:
        streams = [stream for stream in [await connect(hub) for _ in range(150)] if stream]
        await asyncio.sleep(2.5)  # asyncio retries accept() each second, failing every time
        for _, writer in streams:
            writer.close()
        async with asyncio.timeout(BOUND):
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    if await health(hub) == 200:
                        break
                await asyncio.sleep(0.1)
    log = hub.log_text()
    assert "open-file limit is 64" in log, "the start warns that 512 connections cannot fit"
    assert log.count("Cannot accept connections: Too many open files") == 1, log[-3000:]
    assert log.count("Too many open files") == 1, "no traceback per failed accept()"
