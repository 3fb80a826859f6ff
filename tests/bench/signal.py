"""Signal benchmark: a real ``hub run``, the fake signal-cli-rest-api bridge, the bundled ``signal``.

Run: ``python -m tests.bench.signal [--deliveries 30] [--burst 1000] [--json FILE]``.

- ``signal_to_inbox_p50_ms`` / ``_p90_ms``: a message queued on the bridge until its
  ``inbox.message`` event reaches a websocket subscriber, with the default poll interval (1 s).
  Messages are queued at random moments, so the figures average over the poll's phase. With
  ``--hold`` the bridge holds every receive for its whole 1 s wait, as signal-cli's normal mode
  does; without, it answers as soon as a message is queued.
- ``burst_ingest_s``: ``--burst`` messages queued at once (one receive returns them all; the hub
  takes them 200 at a time) until the inbox shows every one of them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.bench.report import report
from tests.bench.startup import free_port, start_hub, stop_hub
from tests.fakes.signal import FakeSignal

NUMBER = "+4915112345678"
ADA = "+4917012345678"


async def link(session: aiohttp.ClientSession, base: str, bridge: str) -> str:
    """Add the account (already linked on the bridge: the flow ends at the first step)."""
    async with session.post(f"{base}/api/config-flows", json={"domain": "signal"}) as r:
        step = await r.json()
    answers = {"number": NUMBER, "base_url": bridge}
    flow = f"{base}/api/config-flows/{step['flow_id']}"
    async with session.post(flow, json={"user_input": answers}) as r:
        done = await r.json()
    if "entry_id" not in done:
        raise RuntimeError(f"the signal flow did not create an entry: {done}")
    return str(done["entry_id"])


async def listening(session: aiohttp.ClientSession, base: str) -> None:
    """Wait until the account's listener runs."""
    async with asyncio.timeout(30):
        while True:
            async with session.get(f"{base}/api/config-entries") as r:
                [entry] = (await r.json())["entries"]
            if (entry.get("listener") or {}).get("state") == "running":
                return
            await asyncio.sleep(0.1)


async def latency(
    session: aiohttp.ClientSession, base: str, token: str, fake: FakeSignal, deliveries: int
) -> dict[str, Any]:
    """Queue one message at a time on the bridge; time each until its event reaches a socket."""
    times: list[float] = []
    rng = random.Random(18)  # the phase of the poll, not cryptography
    async with session.ws_connect(f"{base}/api/websocket") as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": token})
        await ws.receive_json()
        await ws.send_json({"id": 1, "type": "subscribe_events", "event_type": "inbox.message"})
        await ws.receive_json()
        for n in range(deliveries):
            await asyncio.sleep(rng.uniform(0.1, 1.2))
            began = time.perf_counter()
            fake.message(NUMBER, ADA, f"Live {n}", name="Ada")
            while True:
                message = await ws.receive_json(timeout=30)
                if (
                    message.get("type") == "event"
                    and message["event"]["data"]["change"] == "created"
                ):
                    break
            times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return {
        "signal_to_inbox_p50_ms": {
            "value": round(statistics.median(times), 1),
            "unit": "ms",
            "target": 1500,
        },
        "signal_to_inbox_p90_ms": {"value": round(times[int(len(times) * 0.9)], 1), "unit": "ms"},
    }


async def burst(
    session: aiohttp.ClientSession, base: str, fake: FakeSignal, count: int, before: int
) -> dict[str, Any]:
    """Queue ``count`` messages at once; seconds until the inbox holds them all."""
    began = time.perf_counter()
    for n in range(count):
        fake.message(NUMBER, ADA, f"Burst {n}")
    async with asyncio.timeout(120):
        while True:
            async with session.get(f"{base}/api/inbox?limit=1") as r:
                if int((await r.json())["counts"]["unread"]) >= before + count:
                    break
            await asyncio.sleep(0.1)
    return {
        "burst_messages": {"value": count, "unit": "messages"},
        "burst_ingest_s": {"value": round(time.perf_counter() - began, 2), "unit": "s"},
    }


async def run(deliveries: int, burst_size: int, hold: bool) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    fake = FakeSignal()
    fake.hold = hold
    fake.accounts.append(NUMBER)
    runner = web.AppRunner(fake.app(), shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    bridge = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        with tempfile.TemporaryDirectory(prefix="hub-bench-signal-") as tmp:
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("HUB")}
            env["HUB__LOGGER__DEFAULT"] = "error"
            proc, _ = await asyncio.to_thread(start_hub, Path(tmp) / "config", port, env)
            try:
                base = f"http://127.0.0.1:{port}"
                async with aiohttp.ClientSession() as session:
                    owner = {"username": "bench", "password": "bench-password-1"}
                    async with session.post(f"{base}/api/onboarding", json=owner) as r:
                        token = str((await r.json())["access_token"])
                    session.headers["Authorization"] = f"Bearer {token}"
                    await link(session, base, bridge)
                    await listening(session, base)
                    figures.update(await latency(session, base, token, fake, deliveries))
                    figures.update(await burst(session, base, fake, burst_size, deliveries))
            finally:
                await asyncio.to_thread(stop_hub, proc)
    finally:
        await runner.cleanup()
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and report them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=30)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--hold", action="store_true", help="hold each receive for its wait")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    report(asyncio.run(run(args.deliveries, args.burst, args.hold)), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
