"""Workflows benchmark: trigger latency, a sustained event load, and what 200 workflows cost a start.

Run: ``python -m tests.bench.workflows [--pings 300] [--rate 1000] [--seconds 5] [--listening 50]
[--workflows 200] [--runs 3] [--json FILE]``.

- ``event_to_action_p50_ms`` / ``_p90_ms``: a bus event fired in a real hub (in this process, over
  its REST API for the set-up) until the first action of the workflow it triggers starts, read as
  the time between the trigger event and the event that action fires (both stamped by the bus).
- ``load_missed_events``: ``--rate`` events a second for ``--seconds`` with ``--listening``
  workflows listening, each event meant for one of them: events that started no run (must be 0).
  ``load_max_loop_lag_ms``: the worst lateness of a 10 ms ticker on the hub's loop meanwhile.
- ``startup_added_ms`` / ``rss_added_mb``: real ``hub run`` processes on config directories with
  ``--workflows`` enabled workflows, with one, and with none (medians over ``--runs`` fresh starts,
  alternating), read from the hub's own ``workflows`` start-up phase (its logged timeline) and
  resident memory after idling. A hub without workflows does not load their code
  (``hub.workflows.lazy``), so the first workflow brings that load (``code_load_ms``, about what
  every hub paid before); ``startup_added_ms`` is what the ``--workflows`` add beyond it, and
  ``phase_over_none_ms`` both together. ``rss_added_mb`` is against none.
  ``time_to_health_added_ms`` is the whole start's difference against none, which on a shared
  machine is mostly the noise of spawning Python.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from hub.api.state import BUS
from hub.app import create_app
from hub.config import HubConfig, IntegrationsConfig
from hub.core.bus import EventType
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.bench.report import report
from tests.bench.startup import free_port, health_ok, rss_mb, start_hub, stop_hub

PING = EventType[dict[str, Any]]("bench.ping")
LOAD = EventType[dict[str, Any]]("bench.load")
TICK = 0.01


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def in_process(pings: int, rate: int, seconds: float, listening: int) -> dict[str, Any]:
    """Latency and load on a hub in this process."""
    with tempfile.TemporaryDirectory(prefix="hub-bench-workflows-") as tmp:
        root = Path(tmp)
        (root / "integrations").mkdir()
        config = HubConfig(integrations=IntegrationsConfig(bundled_dir=root / "integrations"))
        app = create_app(root / "config", config, env={})
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        try:
            await sign_in(client, OWNER, OWNER_PASSWORD)
            latencies = await latency(client, pings)
            missed, lag, runs = await load(client, rate, seconds, listening)
        finally:
            await client.close()
    return {"latencies": latencies, "missed": missed, "lag": lag, "runs": runs}


async def create(client: TestClient[Any, Any], body: dict[str, Any]) -> str:
    resp = await client.post("/api/workflows", json=body)
    answer = await resp.json()
    assert resp.status == 201, answer
    return str(answer["id"])


async def latency(client: TestClient[Any, Any], pings: int) -> list[float]:
    """Milliseconds from each trigger event to the event its workflow's first action fires."""
    bus = client.app[BUS]
    await create(
        client,
        {
            "name": "Ping",
            "mode": "parallel",
            "triggers": [{"type": "event", "event_type": "bench.ping"}],
            "actions": [{"type": "event", "event_type": "bench.pong"}],
        },
    )
    found: list[float] = []
    async with bus.subscribe("bench.pong", queue_size=pings + 10) as pongs:
        for index in range(pings + 20):
            fired = bus.fire(PING, {"n": index})
            pong = await asyncio.wait_for(pongs.get(), 10)
            if index >= 20:  # the first ones import and warm what later ones reuse
                found.append((pong.time_fired - fired.time_fired).total_seconds() * 1000)
            await asyncio.sleep(0.002)
    return found


async def load(
    client: TestClient[Any, Any], rate: int, seconds: float, listening: int
) -> tuple[int, float, int]:
    """Events that started no run, the worst loop lag (ms), and the runs that went."""
    bus = client.app[BUS]
    for index in range(listening):
        await create(
            client,
            {
                "name": f"Listener {index}",
                "mode": "parallel",
                "max_runs": 100,
                "triggers": [{"type": "event", "event_type": "bench.load", "data": {"w": index}}],
                "actions": [{"type": "event", "event_type": "bench.done", "data": {"w": index}}],
            },
        )
    total = int(rate * seconds)
    worst = 0.0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal worst
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            due = loop.time() + TICK
            await asyncio.sleep(TICK)
            worst = max(worst, loop.time() - due)

    async with bus.subscribe("bench.done", queue_size=total + 100) as done:
        ticking = asyncio.create_task(ticker())
        batch = max(1, rate // 100)  # 100 batches a second
        start = time.perf_counter()
        sent = 0
        while sent < total:
            for _ in range(min(batch, total - sent)):
                bus.fire(LOAD, {"w": sent % listening, "n": sent})
                sent += 1
            pause = start + sent / rate - time.perf_counter()
            await asyncio.sleep(max(0.0, pause))
        runs = 0
        try:
            async with asyncio.timeout(30):
                while runs < total:
                    await done.get()
                    runs += 1
        except TimeoutError:
            pass
        stop.set()
        await ticking
    return total - runs, worst * 1000, runs


def seed(config_dir: Path, count: int, timeout: float) -> None:
    """A config directory whose owner has ``count`` enabled workflows, made over REST."""
    env = quiet_env()
    proc, _ = start_hub(config_dir, port := free_port(), env, timeout)
    try:
        asyncio.run(_seed(f"http://127.0.0.1:{port}", count))
    finally:
        stop_hub(proc)


async def _seed(url: str, count: int) -> None:
    async with aiohttp.ClientSession() as session:
        creds = {"username": OWNER, "password": OWNER_PASSWORD}
        tokens = await (await session.post(f"{url}/api/onboarding", json=creds)).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        for index in range(count):
            trigger: dict[str, Any] = {"type": "event", "event_type": f"bench.kind{index % 20}"}
            if index % 4 == 3:
                trigger = {"type": "schedule", "interval_seconds": 3600}
            body = {
                "name": f"Workflow {index}",
                "mode": "queued",
                "triggers": [trigger],
                "conditions": [{"type": "expression", "expression": "trigger.data.n > `3`"}],
                "actions": [
                    {"type": "event", "event_type": "bench.done", "data": {"n": index}},
                    {"type": "notify", "title": "Done {{ trigger.data.n }}"},
                ],
            }
            resp = await session.post(f"{url}/api/workflows", json=body, headers=headers)
            assert resp.status == 201, await resp.text()


def quiet_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB")}
    env["HUB__LOGGER__DEFAULT"] = "error"
    env["HUB__WORKFLOWS__MAX_PER_PERSON"] = "10000"  # one person seeds them all
    return env


def one_start(config_dir: Path, idle: float, timeout: float) -> tuple[float, float, float]:
    """Seconds to health, RSS (MB) after idling, and the ``workflows`` start-up phase (ms, from
    the hub's own start-up timeline in its log) of a fresh ``hub run``."""
    port = free_port()
    env = quiet_env()
    env["HUB__LOGGER__DEFAULT"] = "info"  # the timeline's phases are logged at info
    with tempfile.TemporaryFile("w+") as log:
        started = time.perf_counter()
        command = [sys.executable, "-m", "hub", "run", "--config", str(config_dir)]
        proc = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            while not health_ok(port):
                if proc.poll() is not None or time.perf_counter() - started > timeout:
                    raise RuntimeError("the hub did not start")
                time.sleep(0.002)
            seconds = time.perf_counter() - started
            time.sleep(idle)
            rss = rss_mb(proc.pid)
        finally:
            stop_hub(proc)
        log.seek(0)
        phase = re.search(r"Start-up phase workflows\s+([\d.]+) ms", log.read())
    return seconds, rss, float(phase.group(1)) if phase else float("nan")


def startup(workflows: int, runs: int, idle: float, timeout: float) -> dict[str, float]:
    """Medians of start-up time, RSS and the workflows phase with ``workflows``, one, and none."""
    with tempfile.TemporaryDirectory(prefix="hub-bench-workflows-start-") as tmp:
        folders = {name: Path(tmp) / name for name in ("none", "one", "many")}
        for name, count in (("none", 0), ("one", 1), ("many", workflows)):
            seed(folders[name], count, timeout)
        times: dict[str, list[float]] = {name: [] for name in folders}
        memory: dict[str, list[float]] = {name: [] for name in folders}
        phases: dict[str, list[float]] = {name: [] for name in folders}
        for _ in range(runs):
            for name, folder in folders.items():
                seconds, rss, phase = one_start(folder, idle, timeout)
                times[name].append(seconds)
                memory[name].append(rss)
                phases[name].append(phase)
    median = statistics.median
    return {
        "startup_added_ms": (median(times["many"]) - median(times["none"])) * 1000,
        "phase_added_ms": median(phases["many"]) - median(phases["one"]),
        "code_load_ms": median(phases["one"]) - median(phases["none"]),
        "phase_over_none_ms": median(phases["many"]) - median(phases["none"]),
        "rss_added_mb": median(memory["many"]) - median(memory["none"]),
        "startup_none_ms": median(times["none"]) * 1000,
        "startup_many_ms": median(times["many"]) * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    """Measure, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pings", type=int, default=300)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--listening", type=int, default=50)
    parser.add_argument("--workflows", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=3.0)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)
    measured = asyncio.run(in_process(args.pings, args.rate, args.seconds, args.listening))
    latencies = measured["latencies"]
    started = startup(args.workflows, args.runs, args.idle, args.timeout)
    figures: dict[str, dict[str, Any]] = {
        "workflows.event_to_action_p50_ms": {
            "value": round(percentile(latencies, 0.5), 3),
            "unit": "ms",
            "target": 5.0,
        },
        "workflows.event_to_action_p90_ms": {
            "value": round(percentile(latencies, 0.9), 3),
            "unit": "ms",
        },
        "workflows.load_missed_events": {
            "value": measured["missed"],
            "unit": "events",
            "target": 0,
            "rate": args.rate,
            "seconds": args.seconds,
            "listening": args.listening,
        },
        "workflows.load_max_loop_lag_ms": {
            "value": round(measured["lag"], 1),
            "unit": "ms",
            "target": 50.0,
        },
        "workflows.startup_added_ms": {
            "value": round(started["phase_added_ms"], 1),
            "unit": "ms",
            "target": 20.0,
            "workflows": args.workflows,
            "over": "one workflow",
        },
        "workflows.code_load_ms": {
            "value": round(started["code_load_ms"], 1),
            "unit": "ms",
            "note": "the first workflow loads the workflow code, which a hub without any skips",
        },
        "workflows.phase_over_none_ms": {
            "value": round(started["phase_over_none_ms"], 1),
            "unit": "ms",
            "workflows": args.workflows,
        },
        "workflows.time_to_health_added_ms": {
            "value": round(started["startup_added_ms"], 1),
            "unit": "ms",
            "workflows": args.workflows,
            "baseline_ms": round(started["startup_none_ms"], 1),
            "with_workflows_ms": round(started["startup_many_ms"], 1),
        },
        "workflows.rss_added_mb": {
            "value": round(started["rss_added_mb"], 2),
            "unit": "MB",
            "target": 10.0,
            "workflows": args.workflows,
        },
    }
    report(figures, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
