"""Applies full syncs of many entities in a loop, each a new version of every state; killed by a test."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from hub.core.bus import EventBus
from hub.core.database import Database
from hub.entities.service import EntityService
from hub.integrations.entities import EntityStateRecord, EntityStateSyncResult
from hub.integrations.loader import discover
from hub.integrations.registry import IntegrationRegistry
from tests.entities.migrations import HUB_MIGRATIONS

COUNT = 5000


async def main(root: Path) -> None:
    """Write versions 1, 2, 3, ... of all ``COUNT`` entities until killed."""
    registry = IntegrationRegistry(discover(root / "integrations"))
    db = Database(root / "hub.db", HUB_MIGRATIONS)
    await db.open()
    service = EntityService(db, EventBus(queue_size=1), registry)
    service.start()
    async with db.conn.execute("SELECT max(CAST(state AS INTEGER)) FROM entities") as cursor:
        row = await cursor.fetchone()
    version = int(row[0] or 0) if row else 0  # carry on from what survived the last kill
    while True:
        version += 1
        records = tuple(
            EntityStateRecord(
                entity_type="item", external_id=f"i{i}", name=f"Item {i}", state=version
            )
            for i in range(COUNT - (version % 3))  # some syncs also delete a few
        )
        await service.apply("e1", "crashy", EntityStateSyncResult(records=records))
        print(version, flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
