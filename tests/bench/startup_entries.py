"""Start-up with many config entries: process spawn to the first 200 from ``/api/health``.

Run: ``python -m tests.bench.startup_entries [--entries 2000] [--runs 3] [--json FILE]``. The config
directory is filled once with the hub's own classes (``Keyring``, ``ConfigEntries``), so each entry
has a real data key and an encrypted webhook token and a secret, as 2,000 webhook entries made
through the UI would; every start then decrypts and registers each of them for log redaction,
which once made start-up quadratic in the number of secrets. Figures are medians over the runs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hub.config import ensure_config_file
from hub.core.bus import EventBus
from hub.core.crypto import Keyring
from hub.core.storage import StorageManager
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.registry import IntegrationRegistry
from tests.bench.report import report
from tests.bench.startup import free_port, start_hub, stop_hub

BATCH = 100
"""Entries created at once: their storage writes share one group commit."""


async def seed(config_dir: Path, count: int) -> None:
    """``count`` global webhook entries, each with an encrypted secret and webhook token."""
    ensure_config_file(config_dir)
    storage = StorageManager(config_dir)
    storage.prepare()
    keyring = await Keyring(storage, {}).open()
    # No integrations registered: the entries are only stored here, and set up by the real hub.
    entries = ConfigEntries(storage, keyring, IntegrationRegistry(), EventBus())
    await entries.load()
    for first in range(0, count, BATCH):
        await asyncio.gather(
            *(
                entries.create(
                    domain="webhook",
                    title=f"Sender {number}",
                    scope="global",
                    owner=None,
                    data={"name": f"Sender {number}"},
                    secrets={"shared_secret": os.urandom(18).hex()},
                    version=1,
                )
                for number in range(first, min(first + BATCH, count))
            )
        )
    await storage.flush()


def one_start(config_dir: Path, timeout: float) -> float:
    """Seconds from spawning ``hub run`` on ``config_dir`` to its first healthy answer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB")}
    env["HUB__LOGGER__DEFAULT"] = "error"
    proc, seconds = start_hub(config_dir, free_port(), env, timeout)
    stop_hub(proc)
    return seconds


def main(argv: list[str] | None = None) -> int:
    """Seed once, start the hub ``--runs`` times, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hub-bench-entries-") as tmp:
        config_dir = Path(tmp) / "config"
        seeding = time.perf_counter()
        logging.disable(logging.CRITICAL)  # "integration not loaded" for each entry, by design
        try:
            asyncio.run(seed(config_dir, args.entries))
        finally:
            logging.disable(logging.NOTSET)
        print(
            f"seeded {args.entries} entries in {time.perf_counter() - seeding:.1f} s",
            file=sys.stderr,
        )
        starts = []
        for index in range(args.runs):
            starts.append(one_start(config_dir, args.timeout))
            print(f"run {index + 1}: health in {starts[-1] * 1000:.0f} ms", file=sys.stderr)
    figures: dict[str, dict[str, Any]] = {
        "startup.time_to_health_with_entries": {
            "value": round(statistics.median(starts), 4),
            "unit": "s",
            "min": round(min(starts), 4),
            "max": round(max(starts), 4),
            "entries": args.entries,
            "target": 2.0,
        }
    }
    report(figures, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
