"""Config-flow benchmark: one step over HTTP, and 1,000 entries created at once.

Run: ``python -m tests.bench.flows [--flows 200] [--entries 1000] [--json FILE]``. A real hub app
on 127.0.0.1 (aiohttp's test server) with a generated integration whose ``validate`` does nothing,
so the step time is the hub's own work: routing, the flow store, the flow, the serializer. Then
1,000 flows finish concurrently, and the storage writes they caused are counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from hub.api.state import CONFIG_ENTRIES, KEYRING
from hub.app import create_app
from hub.config import HubConfig, IntegrationsConfig
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.bench.report import report

FLOW = """
from typing import ClassVar

from hub.integrations.manifest import FieldDescriptor
from hub.integrations.simple_flow import SimpleConfigFlow


class BenchFlow(SimpleConfigFlow):
    domain = "bench"
    TITLE_FIELD = "name"
    SCHEMA: ClassVar[list[FieldDescriptor]] = [
        FieldDescriptor(name="name", label="field.name.label"),
        FieldDescriptor(name="url", label="field.url.label"),
        FieldDescriptor(name="api_key", label="field.api_key.label", type="secret"),
    ]
"""

INIT = """
from hub.integrations.integration import Integration

from .config_flow import BenchFlow



class Bench(Integration):
    config_flow_cls = BenchFlow


INTEGRATION = Bench()
"""


def write_integration(root: Path) -> None:
    """A single-step integration with a secret field and no validation of its own."""
    folder = root / "bench"
    folder.mkdir(parents=True)
    (folder / "manifest.yaml").write_text(
        "domain: bench\nname: Bench\nconfig_flow: true\nsingle_instance: false\n"
    )
    (folder / "__init__.py").write_text(INIT)
    (folder / "config_flow.py").write_text(FLOW)


async def run(flows: int, entries: int) -> dict[str, dict[str, Any]]:
    """Measure; returns the figures with units."""
    with tempfile.TemporaryDirectory(prefix="hub-bench-flows-") as tmp:
        root = Path(tmp)
        write_integration(root / "integrations")
        # One person stands in for a household's burst of wizards; the per-person cap on
        # unfinished flows would drop all but the newest 20 of them.
        integrations = IntegrationsConfig(
            bundled_dir=root / "integrations", max_flows_per_person=max(flows, entries)
        )
        config = HubConfig(integrations=integrations)
        app = create_app(root / "config", config, env={})
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        await sign_in(client, OWNER, OWNER_PASSWORD)
        try:
            starts: list[float] = []
            reshows: list[float] = []
            creates: list[float] = []
            for index in range(flows):
                start = time.perf_counter()
                resp = await client.post("/api/config-flows", json={"domain": "bench"})
                form = await resp.json()
                starts.append(time.perf_counter() - start)
                path = f"/api/config-flows/{form['flow_id']}"
                start = time.perf_counter()
                resp = await client.post(path, json={"user_input": {"name": "", "url": "x"}})
                assert (await resp.json())["error_keys"], "a form shown again with errors"
                reshows.append(time.perf_counter() - start)
                start = time.perf_counter()
                resp = await client.post(
                    path,
                    json={"user_input": {"name": f"n{index}", "url": "http://x", "api_key": "k"}},
                )
                assert (await resp.json())["type"] == "create_entry"
                creates.append(time.perf_counter() - start)

            manager = app[CONFIG_ENTRIES]
            entry_writes = manager._store.write_count
            keyring_writes = app[KEYRING]._store.write_count

            async def one(index: int) -> None:
                resp = await client.post("/api/config-flows", json={"domain": "bench"})
                flow_id = (await resp.json())["flow_id"]
                resp = await client.post(
                    f"/api/config-flows/{flow_id}",
                    json={
                        "user_input": {
                            "name": f"c{index}",
                            "url": "http://x",
                            "api_key": f"k{index}",
                        }
                    },
                )
                assert (await resp.json())["type"] == "create_entry"

            start = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(entries)))
            burst = time.perf_counter() - start
            entry_writes = manager._store.write_count - entry_writes
            keyring_writes = app[KEYRING]._store.write_count - keyring_writes
        finally:
            await client.close()
        stored = json.loads((root / "config" / ".storage" / "core.config_entries").read_text())
        assert len(stored["data"]["entries"]) == flows + entries, "every created entry is on disk"
    steps = sorted(starts + reshows)
    return {
        "flows.step_p50": {"value": _ms(statistics.median(steps)), "unit": "ms", "target": 3},
        "flows.step_p95": {"value": _ms(steps[int(len(steps) * 0.95)]), "unit": "ms"},
        "flows.start_p50": {"value": _ms(statistics.median(starts)), "unit": "ms"},
        "flows.reshow_p50": {"value": _ms(statistics.median(reshows)), "unit": "ms"},
        "flows.create_p50": {
            "value": _ms(statistics.median(creates)),
            "unit": "ms",
            "note": "includes the durable writes of the entry and its data key",
        },
        "flows.burst_entries": {"value": entries, "unit": "entries", "seconds": round(burst, 3)},
        "flows.burst_entry_file_writes": {"value": entry_writes, "unit": "writes"},
        "flows.burst_keyring_writes": {"value": keyring_writes, "unit": "writes"},
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--flows", type=int, default=200, help="sequential two-step flows")
    parser.add_argument("--entries", type=int, default=1000, help="entries created at once")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    result = asyncio.run(run(args.flows, args.entries))
    report(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
