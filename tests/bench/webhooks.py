"""Webhook ingest benchmark: a real ``hub run`` process, 20 concurrent senders, one entity each.

Run: ``python -m tests.bench.webhooks [--seconds 10] [--concurrency 20] [--json FILE]``. The hub
starts on a fresh config directory with a small external integration whose webhook upserts one
entity; every 200 is answered only after that entity is committed (SQLite synchronous=FULL).
The load comes from a separate process on 127.0.0.1, so both share this machine's two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
from typing import Any

import aiohttp

from tests.bench.hub_process import hub_process
from tests.bench.report import report

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

async def main(url, seconds, concurrency):
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

asyncio.run(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3])))
"""


async def prepare(base: str) -> str:
    """Create an entry of the bench integration and return its webhook URL."""
    async with aiohttp.ClientSession() as session:
        owner = {"username": "bench", "password": "bench-password-1"}
        async with session.post(f"{base}/api/onboarding", json=owner) as resp:
            token = (await resp.json())["access_token"]
        session.headers["Authorization"] = f"Bearer {token}"
        async with session.post(f"{base}/api/config-flows", json={"domain": "bench_hook"}) as resp:
            entry_id = (await resp.json())["entry_id"]
        async with session.get(f"{base}/api/config-entries/{entry_id}/webhook") as resp:
            path = str((await resp.json())["path"])
    return base + path


def run(seconds: float, concurrency: int) -> dict[str, dict[str, Any]]:
    """Start the hub, load it, stop it; returns the figures."""
    rates = {"HUB__HTTP__WEBHOOK_RATE_PER_SECOND": "1000000", "HUB__HTTP__WEBHOOK_BURST": "1000000"}
    with hub_process("bench_hook", INIT, rates) as base:
        url = asyncio.run(prepare(base))
        out = subprocess.run(
            [sys.executable, "-c", LOAD, url, str(seconds), str(concurrency)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        result = json.loads(out)
    latencies = sorted(result["latencies"])
    count = len(latencies)
    return {
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
    args = parser.parse_args(argv)
    report(run(args.seconds, args.concurrency), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
