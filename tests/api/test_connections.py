"""Server limits on a real hub over loopback, by raw sockets: slow heads, stalled bodies, caps."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import aiohttp

from hub.api.connections import GatedSite, address_key, app_runner, start_site
from hub.app import create_app
from hub.config import HttpConfig, HubConfig, IntegrationsConfig
from tests.bench.startup import free_port

BOUND = 15.0
"""Seconds after which a connection the hub should have closed is taken as left open: a hang guard."""
Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass(frozen=True, slots=True)
class Served:
    """A hub listening on 127.0.0.1 through the same runner and site as ``hub run``."""

    port: int
    site: GatedSite

    async def connect(self, source: str = "127.0.0.1") -> Stream:
        """A raw TCP connection from ``source`` (any 127.x.y.z works on loopback)."""
        return await asyncio.open_connection("127.0.0.1", self.port, local_addr=(source, 0))

    async def health(self, source: str = "127.0.0.1") -> int:
        """The status of ``GET /api/health`` on a new connection from ``source``."""
        reader, writer = await self.connect(source)
        try:
            writer.write(b"GET /api/health HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n")
            status, _ = await read_response(reader)
            return status
        finally:
            writer.close()

    async def until_open(self, count: int) -> None:
        """Wait until the hub counts ``count`` open connections (closing is asynchronous)."""
        async with asyncio.timeout(BOUND):
            while self.site.gate.open != count:  # noqa: ASYNC110  # no event says it
                await asyncio.sleep(0.01)


@asynccontextmanager
async def serve(tmp_path: Path, **http: Any) -> AsyncIterator[Served]:
    """The hub app with ``http`` settings, served as ``hub run`` serves it."""
    settings = HttpConfig(host="127.0.0.1", port=free_port(), **http)
    config = HubConfig(http=settings, integrations=IntegrationsConfig(enabled=False))
    runner = app_runner(create_app(tmp_path / "config", config, env={}), settings)
    await runner.setup()
    try:
        site = await start_site(runner, settings)
        yield Served(settings.port, site)
    finally:
        await runner.cleanup()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 response with a ``Content-Length``: its status and body."""
    async with asyncio.timeout(BOUND):
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = next(
            int(line.split(":", 1)[1])
            for line in lines
            if line.lower().startswith("content-length:")
        )
        return int(lines[0].split()[1]), await reader.readexactly(length)


async def closed_by_hub(reader: asyncio.StreamReader) -> bytes:
    """Everything the hub sent until it closed the connection."""
    received = b""
    async with asyncio.timeout(BOUND):
        with contextlib.suppress(ConnectionResetError):
            while chunk := await reader.read(4096):
                received += chunk
    return received


async def until_closed(
    drip: Callable[[asyncio.StreamWriter], Coroutine[Any, Any, None]], stream: Stream
) -> bytes:
    """Run ``drip`` against the connection until the hub closes it; what the hub sent."""
    reader, writer = stream
    task = asyncio.create_task(drip(writer))
    try:
        return await closed_by_hub(reader)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await task
        writer.close()


async def slow_head(writer: asyncio.StreamWriter) -> None:
    """Slowloris: a request head that never ends, one header line at a time."""
    writer.write(b"GET /api/health HTTP/1.1\r\nHost: hub\r\n")
    for number in range(10_000):
        await asyncio.sleep(0.2)
        writer.write(f"X-Slow-{number}: still coming\r\n".encode())
        await writer.drain()


async def test_slow_request_heads_are_closed_while_other_clients_are_answered(
    tmp_path: Path,
) -> None:
    async with serve(tmp_path, header_timeout_seconds=1.0) as hub:
        streams = [await hub.connect() for _ in range(20)]
        slowloris = asyncio.gather(*(until_closed(slow_head, stream) for stream in streams))
        assert await hub.health() == 200  # answered while twenty heads trickle in
        sent = await slowloris
        assert sent == [b""] * 20, "each slow head is closed, unanswered"
        await hub.until_open(0)
        assert await hub.health() == 200


async def test_an_idle_keep_alive_connection_is_closed_after_the_head_timeout(
    tmp_path: Path,
) -> None:
    async with serve(tmp_path, header_timeout_seconds=0.5) as hub:
        reader, writer = await hub.connect()
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: hub\r\n\r\n")
        status, _ = await read_response(reader)
        assert status == 200
        assert await closed_by_hub(reader) == b""  # kept alive, then closed once idle
        writer.close()


async def test_connections_over_the_caps_are_closed_at_once_and_others_still_answered(
    tmp_path: Path,
) -> None:
    async with serve(tmp_path, max_connections=6, max_connections_per_address=3) as hub:
        held = [await hub.connect("127.0.0.1") for _ in range(3)]
        await hub.until_open(3)
        reader, writer = await hub.connect("127.0.0.1")
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: hub\r\n\r\n")
        assert await closed_by_hub(reader) == b"", "a fourth from one address is closed unread"
        writer.close()
        assert await hub.health("127.0.0.2") == 200, "another address is still answered"

        await hub.until_open(3)
        held += [await hub.connect("127.0.0.2") for _ in range(3)]
        await hub.until_open(6)
        reader, writer = await hub.connect("127.0.0.3")
        assert await closed_by_hub(reader) == b"", "a seventh in all is closed"
        writer.close()

        held.pop()[1].close()
        await hub.until_open(5)
        assert await hub.health("127.0.0.3") == 200, "a freed slot serves the next client"
        for _, held_writer in held:
            held_writer.close()


async def test_a_stalled_body_is_refused_with_408_and_a_slow_one_is_read_whole(
    tmp_path: Path,
) -> None:
    body = json.dumps({"username": "nobody", "password": "not-a-password"}).encode()
    head = (
        b"POST /api/auth/login HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    async with serve(tmp_path, body_timeout_seconds=0.6) as hub:
        reader, writer = await hub.connect()
        writer.write(head + body[:10])  # ... and nothing more
        status, answer = await read_response(reader)
        assert status == 408
        assert json.loads(answer)["error"]["code"] == "body_timeout"
        assert await closed_by_hub(reader) == b""
        writer.close()

        reader, writer = await hub.connect()
        writer.write(head)
        for start in range(0, len(body), 4):  # slower in all than the timeout, never stalling
            await asyncio.sleep(0.2)
            writer.write(body[start : start + 4])
        status, answer = await read_response(reader)
        assert status == 401, answer  # read whole and checked: the name is unknown
        writer.close()


async def test_a_websocket_outlives_the_head_and_body_timeouts(tmp_path: Path) -> None:
    async with (
        serve(tmp_path, header_timeout_seconds=0.3, body_timeout_seconds=0.3) as hub,
        aiohttp.ClientSession() as session,
        session.ws_connect(f"http://127.0.0.1:{hub.port}/api/websocket") as ws,
    ):
        assert (await ws.receive_json(timeout=BOUND))["type"] == "auth_required"
        await asyncio.sleep(1.0)  # over three head timeouts of silence
        await ws.send_json({"type": "auth", "access_token": "not-a-token"})
        assert (await ws.receive_json(timeout=BOUND))["type"] == "auth_invalid"


def test_clients_count_by_address_ipv6_ones_by_their_64_and_trusted_proxies_not() -> None:
    proxies = (ip_network("10.0.0.0/8"),)
    assert address_key(("192.0.2.7", 4711), proxies) == "192.0.2.7"
    assert address_key(("::ffff:192.0.2.7", 4711, 0, 0), proxies) == "192.0.2.7"
    assert address_key(("2001:db8:1:2::7", 4711, 0, 0)) == "2001:db8:1:2::/64"
    assert address_key(("2001:db8:1:2:ffff::9", 4711, 0, 0)) == "2001:db8:1:2::/64"
    assert address_key(("10.1.2.3", 4711), proxies) is None
    assert address_key(None) is None
