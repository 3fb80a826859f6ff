"""Webhook ingest benchmark: a real ``hub run`` process, 20 concurrent senders, one entity each.

Run: ``python -m tests.bench.webhooks [--seconds 10] [--concurrency 20] [--json FILE]``. The hub
starts on a fresh config directory with a small external integration whose webhook upserts one
entity; every 200 is answered only after that entity is committed (SQLite synchronous=FULL).
The load comes from a separate process on 127.0.0.1, so both share this machine's two cores.
``cpu_ms_per_request`` is the hub process's user + system time over the load, per request: steadier
than wall time on a shared machine.

``--peer`` sends ha_peer's webhook body to the bundled ``webhook`` integration instead (its
entities are indexed for search and every delivery fires ``webhook.received``).

``--db-workload`` instead runs the database mix of ``../shared/bench/ha_peer`` through the bundled
``webhook`` integration (2,000 updates of one entity, 3,000 webhooks over 100 ids with a state and
three attributes, 5,000 new entities by single webhooks, 20 in flight) and reports ``hub.db``'s size
after a clean shutdown (WAL checkpointed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from tests.bench.hub_process import hub_process
from tests.bench.report import report
from tests.bench.startup import free_port, start_hub, stop_hub

INIT = """
from hub.integrations.entities import (
    EntityStateRecord,
    EntityStateSyncResult,
    EntityStateTypeDescriptor,
)
from hub.integrations.integration import Integration

READING = EntityStateTypeDescriptor(key="reading", name="Reading", state_class="measurement")


class Hook(Integration):
    def entity_types(self):
        return {"reading": READING}

    async def async_handle_webhook(self, ctx, payload):
        record = EntityStateRecord(
            entity_type="reading", external_id=payload["id"], name=payload["id"], state=payload["v"]
        )
        return EntityStateSyncResult(records=(record,), full=False)


INTEGRATION = Hook()
"""

LOAD = """
import asyncio, json, sys, time
import aiohttp

ATTRS = {"temperature": 21.5, "humidity": 40, "source": "bench"}

async def main(url, seconds, concurrency, peer):
    latencies, errors = [], 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker(n):
            nonlocal errors
            i = 0
            while time.perf_counter() < deadline:
                i += 1
                body = {"id": f"sensor-{n}-{i % 50}", "v": i}
                if peer:  # ha_peer's webhook body: 100 ids in turn, a state and three attributes
                    body = {"id": f"bench_wh_{(n * 7919 + i) % 100}", "state": i, "attributes": ATTRS}
                start = time.perf_counter()
                async with session.post(url, json=body) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - start)
        started = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        elapsed = time.perf_counter() - started
    print(json.dumps({"latencies": latencies, "errors": errors, "elapsed": elapsed}))

asyncio.run(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "peer"))
"""


async def prepare(base: str, domain: str = "bench_hook") -> str:
    """Create an entry of ``domain`` and return its webhook URL."""
    async with aiohttp.ClientSession() as session:
        owner = {"username": "bench", "password": "bench-password-1"}
        async with session.post(f"{base}/api/onboarding", json=owner) as resp:
            token = (await resp.json())["access_token"]
        session.headers["Authorization"] = f"Bearer {token}"
        async with session.post(f"{base}/api/config-flows", json={"domain": domain}) as resp:
            step = await resp.json()
        entry_id = step.get("entry_id")
        if not entry_id:
            flow = f"{base}/api/config-flows/{step['flow_id']}"
            async with session.post(flow, json={"user_input": {"name": "bench"}}) as resp:
                entry_id = (await resp.json())["entry_id"]
        async with session.get(f"{base}/api/config-entries/{entry_id}/webhook") as resp:
            path = str((await resp.json())["path"])
    return base + path


RATES = {"HUB__HTTP__WEBHOOK_RATE_PER_SECOND": "1000000", "HUB__HTTP__WEBHOOK_BURST": "1000000"}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


MIX = """
import asyncio, json, sys
import aiohttp

async def main(url):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=20)) as session:
        async def post(body):
            async with session.post(url, json=body) as resp:
                await resp.read()
                return resp.status
        statuses = []
        for seq in range(2000):  # fan-out: one entity, one update at a time
            body = {"id": "bench_x", "state": str(seq), "attributes": {"seq": seq, "unit": "x"}}
            statuses.append(await post(body))
        async def burst(bodies):
            queue = list(reversed(bodies))
            async def worker():
                while queue:
                    statuses.append(await post(queue.pop()))
            await asyncio.gather(*(worker() for _ in range(20)))
        attrs = {"temperature": 21.5, "humidity": 40, "source": "bench"}
        await burst([{"id": f"bench_wh_{i % 100}", "state": i, "attributes": attrs} for i in range(3000)])
        await burst([
            {"id": f"bench_bulk_{i}", "name": f"Bench {i}", "state": str(i % 100),
             "attributes": {"unit_of_measurement": "W"}}
            for i in range(5000)
        ])
    print(json.dumps({"ok": statuses.count(200), "requests": len(statuses)}))

asyncio.run(main(sys.argv[1]))
"""


def db_workload(keep: str | None = None) -> dict[str, dict[str, Any]]:
    """The ha_peer database mix through the bundled webhook integration; sizes after shutdown."""
    with tempfile.TemporaryDirectory(prefix="hub-bench-db-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB")}
        env.update(RATES, HUB__LOGGER__DEFAULT="error")
        port = free_port()
        config = Path(tmp) / "config"
        hub, _ = start_hub(config, port, env)
        try:
            url = asyncio.run(prepare(f"http://127.0.0.1:{port}", "webhook"))
            out = subprocess.run(
                [sys.executable, "-c", MIX, url], capture_output=True, text=True, check=True
            ).stdout
        finally:
            stop_hub(hub)
        result = json.loads(out)
        if keep:
            shutil.copyfile(config / "hub.db", keep)
        sizes = {
            suffix or "main": (config / f"hub.db{suffix}").stat().st_size
            if (config / f"hub.db{suffix}").exists()
            else 0
            for suffix in ("", "-wal", "-shm")
        }
    total = sum(sizes.values())
    return {
        "webhooks.db_after_shutdown": {
            "value": round(total / 2**20, 2),
            "unit": "MiB",
            "bytes": total,
            **{f"{name}_bytes": size for name, size in sizes.items()},
        },
        "webhooks.db_workload_ok": {
            "value": result["ok"],
            "unit": "200s",
            "of": result["requests"],
        },
    }


def hub_pid(port: int) -> int:
    """The pid of the process listening on 127.0.0.1:``port`` (the hub ``hub_process`` started)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                inodes.add(fields[9])
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(proc.name)
        except OSError:
            continue
    raise RuntimeError(f"no process listens on port {port}")


def run(seconds: float, concurrency: int, peer: bool = False) -> dict[str, dict[str, Any]]:
    """Start the hub, load it, stop it; returns the figures."""
    with hub_process("bench_hook", INIT, RATES) as base:
        url = asyncio.run(prepare(base, "webhook" if peer else "bench_hook"))
        pid = hub_pid(int(base.rsplit(":", 1)[1]))
        cpu_before = cpu_seconds(pid)
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                LOAD,
                url,
                str(seconds),
                str(concurrency),
                "peer" if peer else "-",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        cpu = cpu_seconds(pid) - cpu_before
        result = json.loads(out)
    latencies = sorted(result["latencies"])
    count = len(latencies)
    return {
        "webhooks.cpu_ms_per_request": {"value": round(cpu / count * 1000, 3), "unit": "ms"},
        "webhooks.requests_per_second": {
            "value": round(count / result["elapsed"]),
            "unit": "req/s",
            "target": 3000,
            "concurrency": concurrency,
        },
        "webhooks.p50": {"value": round(statistics.median(latencies) * 1000, 2), "unit": "ms"},
        "webhooks.p99": {
            "value": round(latencies[int(count * 0.99)] * 1000, 2),
            "unit": "ms",
            "target": 15,
        },
        "webhooks.errors": {"value": result["errors"], "unit": "responses", "of": count},
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    parser.add_argument(
        "--db-workload", action="store_true", help="the ha_peer database mix; hub.db's size"
    )
    parser.add_argument(
        "--peer",
        action="store_true",
        help="ha_peer's webhook load: the bundled webhook integration (search index, event)",
    )
    parser.add_argument("--keep-db", metavar="FILE", help="with --db-workload: copy hub.db here")
    args = parser.parse_args(argv)
    figures = (
        db_workload(args.keep_db)
        if args.db_workload
        else run(args.seconds, args.concurrency, args.peer)
    )
    report(figures, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
