"""Websocket memory benchmark: 300 sockets that subscribe to everything and never read, under load.

Run: ``python -m tests.bench.ws_memory [--sockets 300] [--seconds 10] [--after 10] [--json FILE]``.
A real ``hub run`` on a fresh config directory gets a webhook entry; a separate process opens the
sockets (bare TCP with small buffers, so not reading is real), subscribes each to ``*`` and to the
entities, stops reading, and posts webhooks from 20 senders, each entity with ``--pad`` bytes of
text (a few KiB, like a sensor's notes), so the kernel's socket buffers fill and the hub's own
queues are what is measured. The hub's resident memory is sampled
throughout: its peak, and what it is ``--after`` seconds after the sockets have gone. Targets on
a 2-core machine: peak ≤ 150 MB, after ≤ 100 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.bench.report import report
from tests.bench.startup import free_port, rss_mb, start_hub, stop_hub

LOAD = r"""
import asyncio, base64, json, os, socket, sys, time
import aiohttp

def frame(message):
    payload = json.dumps(message).encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    if len(payload) < 126:
        head = bytes([0x81, 0x80 | len(payload)])
    else:
        head = bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big")
    return head + mask + masked

async def read_frame(reader):
    head = await reader.readexactly(2)
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await reader.readexactly(8), "big")
    return json.loads(await reader.readexactly(length))

async def idle_socket(port, token):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /api/websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    await reader.readuntil(b"\r\n\r\n")
    await read_frame(reader)
    writer.write(frame({"type": "auth", "access_token": token}))
    assert (await read_frame(reader))["type"] == "auth_ok"
    writer.write(frame({"id": 1, "type": "subscribe_events", "event_type": "*"}))
    writer.write(frame({"id": 2, "type": "subscribe_entities"}))
    await read_frame(reader)
    return writer  # nothing is read from here on

async def main(port, token, url, sockets, seconds, pad):
    pad = "x" * pad
    writers = []
    for start in range(0, sockets, 50):
        writers += await asyncio.gather(
            *(idle_socket(port, token) for _ in range(start, min(sockets, start + 50)))
        )
    print("ready", flush=True)
    sent, errors = 0, 0
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=20)) as session:
        async def sender(n):
            nonlocal sent, errors
            i = 0
            while time.perf_counter() < deadline:
                i += 1
                body = {
                    "entities": [{"id": f"sensor-{n}-{i % 50}", "state": i,
                                  "attributes": {"room": "hall", "notes": pad}}],
                    "event": {"type": "reading", "data": {"sender": n, "i": i}},
                }
                async with session.post(url, json=body) as resp:
                    await resp.read()
                    sent += 1
                    errors += resp.status != 200
        await asyncio.gather(*(sender(n) for n in range(20)))
    print(json.dumps({"sent": sent, "errors": errors}), flush=True)
    for writer in writers:
        writer.close()
    print("closed", flush=True)

asyncio.run(main(
    int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]),
    int(sys.argv[6]),
))
"""


async def prepare(base: str) -> tuple[str, str]:
    """Onboard, add a webhook entry; the owner's token and the webhook's URL."""
    async with aiohttp.ClientSession() as session:
        owner = {"username": "bench", "password": "bench-password-1"}
        async with session.post(f"{base}/api/onboarding", json=owner) as resp:
            token = str((await resp.json())["access_token"])
        session.headers["Authorization"] = f"Bearer {token}"
        async with session.post(f"{base}/api/config-flows", json={"domain": "webhook"}) as resp:
            flow_id = (await resp.json())["flow_id"]
        body = {"user_input": {"name": "bench"}}
        async with session.post(f"{base}/api/config-flows/{flow_id}", json=body) as resp:
            entry_id = (await resp.json())["entry_id"]
        async with session.get(f"{base}/api/config-entries/{entry_id}/webhook") as resp:
            path = str((await resp.json())["path"])
    return token, base + path


class Sampler:
    """Reads a process's resident memory every 50 ms in a thread; the peak since ``reset``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_mb(self.pid))


def run(sockets: int, seconds: float, after: float, pad: int) -> dict[str, dict[str, Any]]:
    """Start the hub, hold the sockets under load, close them, wait; the figures."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB")}
    env.update(
        {
            "HUB__LOGGER__DEFAULT": "error",
            "HUB__HTTP__WEBHOOK_RATE_PER_SECOND": "1000000",
            "HUB__HTTP__WEBHOOK_BURST": "1000000",
            # One machine stands in for 300 clients: the per-address cap would refuse them.
            "HUB__HTTP__MAX_CONNECTIONS": str(sockets + 100),
            "HUB__HTTP__MAX_CONNECTIONS_PER_ADDRESS": str(sockets + 100),
        }
    )
    with tempfile.TemporaryDirectory(prefix="hub-bench-ws-memory-") as tmp:
        port = free_port()
        hub, _ = start_hub(Path(tmp) / "config", port, env)
        try:
            token, url = asyncio.run(prepare(f"http://127.0.0.1:{port}"))
            idle = rss_mb(hub.pid)
            load = subprocess.Popen(
                [
                    *(sys.executable, "-c", LOAD, str(port), token, url),
                    *(str(sockets), str(seconds), str(pad)),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert load.stdout is not None
            with Sampler(hub.pid) as sampler:
                assert load.stdout.readline().strip() == "ready"
                held = rss_mb(hub.pid)
                result = json.loads(load.stdout.readline())
                assert load.stdout.readline().strip() == "closed"
                load.wait(timeout=60)
                closed = time.monotonic()
                time.sleep(max(0.0, closed + after - time.monotonic()))
                settled = rss_mb(hub.pid)
        finally:
            stop_hub(hub)
    return {
        "ws_memory.idle_rss": {"value": round(idle, 1), "unit": "MB"},
        "ws_memory.connected_rss": {"value": round(held, 1), "unit": "MB", "sockets": sockets},
        "ws_memory.peak_rss": {"value": round(sampler.peak, 1), "unit": "MB", "target": 150},
        "ws_memory.rss_after_close": {
            "value": round(settled, 1),
            "unit": "MB",
            "target": 100,
            "seconds": after,
        },
        "ws_memory.webhooks": {
            "value": round(result["sent"] / seconds),
            "unit": "req/s",
            "errors": result["errors"],
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sockets", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--after", type=float, default=10.0)
    parser.add_argument("--pad", type=int, default=4096, help="bytes of text in each entity")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)
    report(run(args.sockets, args.seconds, args.after, args.pad), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
