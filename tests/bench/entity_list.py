"""Entity listing benchmark: a real ``hub run`` process, ``entities/list`` over the websocket.

Run: ``python -m tests.bench.entity_list [--entities 5000] [--calls 100] [--json FILE]``. The hub
starts on a fresh config directory with a small external integration whose webhook stores posted
entities (as Home Assistant's side-by-side harness posts them: a state and one attribute). With 3
entities, then with ``--entities``, one client sends ``{"type": "entities/list", "limit": 10000}``
``--calls`` times, one after another, and notes each round trip (the answer decoded, as a client
must before it can use it), the answer's bytes per entity and the hub process's CPU time (user +
system) per call; then the same with ``"form": "views"`` and ``"compact"``; then one webhook write
before each listing of the default table, so every listing is built afresh from SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.bench.report import report
from tests.bench.startup import free_port, rss_mb, start_hub, stop_hub

DOMAIN = "bench_list"
INIT = """
from hub.integrations.entities import (
    EntityStateRecord,
    EntityStateSyncResult,
    EntityStateTypeDescriptor,
)
from hub.integrations.integration import Integration

VALUE = EntityStateTypeDescriptor(key="value", name="Value")


class Lister(Integration):
    def entity_types(self):
        return {"value": VALUE}

    async def async_handle_webhook(self, ctx, payload):
        records = tuple(
            EntityStateRecord(
                entity_type="value", external_id=e["id"], name=e["name"], state=e["state"],
                attributes=e["attributes"],
            )
            for e in payload["entities"]
        )
        return EntityStateSyncResult(records=records, full=False)


INTEGRATION = Lister()
"""


def _entity(n: int) -> dict[str, Any]:
    return {
        "id": f"bench_{n}",
        "name": f"Bench {n}",
        "state": str(n % 100),
        "attributes": {"unit_of_measurement": "W"},
    }


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Bench:
    """A signed-in client of one hub process."""

    def __init__(self, base: str, pid: int, session: aiohttp.ClientSession) -> None:
        self.base = base
        self.pid = pid
        self.session = session
        self.hook = ""
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.msg_id = 0

    async def prepare(self) -> None:
        owner = {"username": "bench", "password": "bench-password-1"}
        async with self.session.post(f"{self.base}/api/onboarding", json=owner) as resp:
            token = (await resp.json())["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        flow = {"domain": DOMAIN}
        async with self.session.post(
            f"{self.base}/api/config-flows", json=flow, headers=auth
        ) as resp:
            entry_id = (await resp.json())["entry_id"]
        url = f"{self.base}/api/config-entries/{entry_id}/webhook"
        async with self.session.get(url, headers=auth) as resp:
            self.hook = self.base + str((await resp.json())["path"])
        self.ws = await self.session.ws_connect(self.base.replace("http", "ws") + "/api/websocket")
        await self.ws.receive_json()
        await self.ws.send_json({"type": "auth", "access_token": token})
        assert (await self.ws.receive_json())["type"] == "auth_ok"

    async def post(self, first: int, count: int) -> None:
        for start in range(first, first + count, 500):
            body = {"entities": [_entity(n) for n in range(start, min(first + count, start + 500))]}
            async with self.session.post(self.hook, json=body) as resp:
                assert resp.status == 200, await resp.text()

    async def list_once(self, form: str) -> tuple[float, int, int]:
        """One round trip, the answer decoded as a client would: seconds, bytes, entities."""
        assert self.ws is not None
        self.msg_id += 1
        message: dict[str, Any] = {"id": self.msg_id, "type": "entities/list", "limit": 10000}
        if form != "table":
            message["form"] = form
        started = time.perf_counter()
        await self.ws.send_json(message)
        raw = await self.ws.receive_str()
        reply = json.loads(raw)
        elapsed = time.perf_counter() - started
        if not reply["success"]:  # a hub from before ``form``
            return elapsed, len(raw.encode()), 0
        result = reply["result"]
        count = len(result["a"] if form == "compact" else result["entities"])
        return elapsed, len(raw.encode()), count

    async def listing(self, calls: int, form: str, write_first: bool) -> dict[str, float]:
        for _ in range(5):  # warm-up
            await self.list_once(form)
        times: list[float] = []
        cpu = 0.0
        size = count = 0
        for n in range(calls):
            if write_first:
                await self.post(n % 3, 1)  # an update: every kept listing is stale
            before = _cpu_seconds(self.pid)
            elapsed, size, count = await self.list_once(form)
            cpu += _cpu_seconds(self.pid) - before
            times.append(elapsed)
        return {
            "p50_ms": round(statistics.median(times) * 1000, 2),
            "cpu_ms": round(cpu / calls * 1000, 2),
            "bytes_per_entity": round(size / max(count, 1)),
            "entities": count,
        }


async def measure(base: str, pid: int, entities: int, calls: int) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        bench = Bench(base, pid, session)
        await bench.prepare()
        await bench.post(0, 3)
        small = await bench.listing(calls, "table", write_first=False)
        await bench.post(3, entities - 3)
        large = await bench.listing(calls, "table", write_first=False)
        views = await bench.listing(calls, "views", write_first=False)
        short = await bench.listing(calls, "compact", write_first=False)
        fresh = await bench.listing(max(calls // 4, 5), "table", write_first=True)
        rss = rss_mb(pid)
        assert bench.ws is not None
        await bench.ws.close()
    forms = {"small": small, "large": large, "views": views, "compact": short, "fresh": fresh}
    return {**forms, "rss": rss}


def run(entities: int, calls: int) -> dict[str, dict[str, Any]]:
    """Start the hub, list, stop it; returns the figures."""
    with tempfile.TemporaryDirectory(prefix="hub-bench-list-") as tmp:
        root = Path(tmp)
        folder = root / "external" / DOMAIN
        folder.mkdir(parents=True)
        (folder / "manifest.yaml").write_text(f"domain: {DOMAIN}\nname: {DOMAIN}\n")
        (folder / "__init__.py").write_text(INIT)
        environment = {k: v for k, v in os.environ.items() if not k.startswith("HUB")}
        environment.update(
            {
                "HUB__INTEGRATIONS__ALLOW_EXTERNAL": "true",
                "HUB__INTEGRATIONS__EXTERNAL_DIRS": f"[{root / 'external'}]",
                "HUB__LOGGER__DEFAULT": "error",
                "HUB__HTTP__WEBHOOK_RATE_PER_SECOND": "1000000",
                "HUB__HTTP__WEBHOOK_BURST": "1000000",
            }
        )
        port = free_port()
        hub, _ = start_hub(root / "config", port, environment)
        try:
            got = asyncio.run(measure(f"http://127.0.0.1:{port}", hub.pid, entities, calls))
        finally:
            stop_hub(hub)
    small, large, fresh = got["small"], got["large"], got["fresh"]
    views, short = got["views"], got["compact"]
    return {
        "entities.list_3.p50": {"value": small["p50_ms"], "unit": "ms", "target": 1.0},
        "entities.list_3.server_cpu": {"value": small["cpu_ms"], "unit": "ms"},
        f"entities.list_{entities}.p50": {
            "value": large["p50_ms"],
            "unit": "ms",
            "target": 6.0,
            "listed": large["entities"],
        },
        f"entities.list_{entities}.server_cpu": {"value": large["cpu_ms"], "unit": "ms"},
        f"entities.list_{entities}.bytes_per_entity": {
            "value": large["bytes_per_entity"],
            "unit": "B",
        },
        f"entities.list_{entities}.after_a_write.p50": {
            "value": fresh["p50_ms"],
            "unit": "ms",
            "target": 20.0,
        },
        f"entities.list_{entities}.after_a_write.server_cpu": {
            "value": fresh["cpu_ms"],
            "unit": "ms",
        },
        f"entities.list_{entities}_views.p50": {"value": views["p50_ms"], "unit": "ms"},
        f"entities.list_{entities}_views.bytes_per_entity": {
            "value": views["bytes_per_entity"],
            "unit": "B",
        },
        f"entities.list_{entities}_compact.p50": {"value": short["p50_ms"], "unit": "ms"},
        f"entities.list_{entities}_compact.bytes_per_entity": {
            "value": short["bytes_per_entity"],
            "unit": "B",
            "target": 300,
        },
        "entities.list.rss_after": {"value": round(got["rss"], 1), "unit": "MB"},
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--entities", type=int, default=5000)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)
    report(run(max(args.entities, 4), args.calls), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
