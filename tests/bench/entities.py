"""Entity benchmark: 10,000 records into an empty store, an unchanged re-sync, 100 changed.

Run: ``python -m tests.bench.entities [--records 10000] [--json FILE]``. The real apply path (the
entity service, its batched transaction on the database thread, FTS for a rag type, history, one
bus event per change) on a real ``hub.db`` in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hub.core.bus import EventBus
from hub.core.database import Database
from hub.entities.service import EntityService
from hub.integrations.entities import EntityStateRecord, EntityStateSyncResult
from hub.integrations.loader import discover
from hub.integrations.registry import IntegrationRegistry
from tests.bench.report import report
from tests.entities.migrations import HUB_MIGRATIONS

INIT = """
from hub.integrations.entities import EntityStateTypeDescriptor
from hub.integrations.integration import Integration

ITEM = EntityStateTypeDescriptor(key="item", name="Item", rag=True, state_class="measurement")


class Bench(Integration):
    def entity_types(self):
        return {"item": ITEM}


INTEGRATION = Bench()
"""


def records(count: int, changed: int = 0, version: int = 0) -> tuple[EntityStateRecord, ...]:
    """``count`` records; the first ``changed`` of them carry ``version`` in their state."""
    return tuple(
        EntityStateRecord(
            entity_type="item",
            external_id=f"item-{i}",
            name=f"Item {i}",
            state=(i if i >= changed else i + version),
            attributes={"room": f"room {i % 40}", "tags": ["a", "b"], "index": i},
        )
        for i in range(count)
    )


async def run(count: int) -> dict[str, dict[str, Any]]:
    """Measure the three applies; returns the figures."""
    with tempfile.TemporaryDirectory(prefix="hub-bench-entities-") as tmp:
        root = Path(tmp)
        folder = root / "integrations" / "bench"
        folder.mkdir(parents=True)
        (folder / "manifest.yaml").write_text("domain: bench\nname: Bench\n")
        (folder / "__init__.py").write_text(INIT)
        registry = IntegrationRegistry(discover(root / "integrations"))
        db = Database(root / "hub.db", HUB_MIGRATIONS)
        await db.open()
        bus = EventBus(queue_size=count * 2)
        events = bus.subscribe("entity.*", queue_size=count * 2)
        service = EntityService(db, bus, registry)
        service.start()
        try:
            initial = records(count)
            timings: dict[str, float] = {}
            start = time.perf_counter()
            first = await service.apply("e1", "bench", EntityStateSyncResult(records=initial))
            timings["insert"] = time.perf_counter() - start
            start = time.perf_counter()
            same = await service.apply("e1", "bench", EntityStateSyncResult(records=initial))
            timings["unchanged"] = time.perf_counter() - start
            changed_records = records(count, changed=100, version=1)
            start = time.perf_counter()
            changed = await service.apply(
                "e1", "bench", EntityStateSyncResult(records=changed_records)
            )
            timings["changed"] = time.perf_counter() - start
            assert (first.created, same.unchanged, changed.updated) == (count, count, 100)
            assert events.pending() == count + 100, "one event per change"
        finally:
            events.close()
            await service.stop()
            await bus.close()
            await db.close()
    return {
        "entities.insert_10k": {
            "value": round(timings["insert"], 3),
            "unit": "s",
            "target": 1.5,
            "records": count,
        },
        "entities.unchanged_resync": {
            "value": round(timings["unchanged"], 3),
            "unit": "s",
            "target": 0.3,
        },
        "entities.changed_100": {"value": round(timings["changed"], 3), "unit": "s", "target": 0.4},
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)
    report(asyncio.run(run(args.records)), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
