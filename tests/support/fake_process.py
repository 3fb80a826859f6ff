"""A fake outside service as its own process, the way a person starts one to try an integration."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hub.config import SOURCE_ROOT
from tests.bench.startup import free_port


@asynccontextmanager
async def fake_process(module: str, *args: str, start_timeout: float = 30.0) -> AsyncIterator[int]:
    """``python -m tests.fakes.<module> --port P`` until it takes connections; its port.

    Stopped afterwards, and killed if it does not stop within 5 s (a request held open can keep
    a server from stopping).
    """
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        f"tests.fakes.{module}",
        "--port",
        str(port),
        *args,
        cwd=SOURCE_ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(start_timeout):
            while True:
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    await asyncio.sleep(0.05)
                    continue
                writer.close()
                await writer.wait_closed()
                break
        yield port
    finally:
        if process.returncode is None:
            process.terminate()
        try:
            async with asyncio.timeout(5):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
