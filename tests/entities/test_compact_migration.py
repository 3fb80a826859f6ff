"""The migration to a smaller ``hub.db``: stored hashes still match, search still finds."""

from __future__ import annotations

from pathlib import Path

from hub.agent.schema import AGENT_MIGRATIONS
from hub.core.bus import EventBus
from hub.core.database import CORE_MIGRATIONS, Database
from hub.entities.schema import (
    COMPACT_MIGRATIONS,
    ENTITY_MIGRATIONS,
    EVENT_LOG_MIGRATIONS,
)
from hub.entities.service import EntityService
from hub.entities.webhook_replays import REPLAY_MIGRATIONS
from hub.integrations.entities import EntityStateRecord, EntityStateSyncResult
from hub.integrations.loader import discover
from hub.integrations.registry import IntegrationRegistry
from tests.entities.test_service import TRACKER
from tests.integrations.helpers import make_integration

BEFORE = [
    *CORE_MIGRATIONS,
    *ENTITY_MIGRATIONS,
    *AGENT_MIGRATIONS,
    *EVENT_LOG_MIGRATIONS,
    *REPLAY_MIGRATIONS,
]


async def test_an_existing_database_is_compacted_and_reads_as_before(tmp_path: Path) -> None:
    record = EntityStateRecord(
        entity_type="task", external_id="t1", name="Water the ferns", state="open"
    )
    old = Database(tmp_path / "hub.db", BEFORE)
    await old.open()
    # As a hub before the migration stored it: the whole sha256, and a full-detail index row.
    cursor = await old.conn.execute(
        "INSERT INTO entities (entry_id, domain, entity_type, external_id, name, state, "
        "attributes, content_hash, created_at, updated_at, last_changed) "
        "VALUES ('e1', 'tracker', 'task', 't1', 'Water the ferns', '\"open\"', '{}', ?, 1, 1, 1)",
        (record.content_hash(),),
    )
    await old.conn.execute(
        "INSERT INTO entity_search (rowid, name, body) VALUES (?, 'Water the ferns', 'ferns')",
        (cursor.lastrowid,),
    )
    await old.close()

    make_integration(tmp_path / "integrations", "tracker", init=TRACKER)
    db = Database(tmp_path / "hub.db", [*BEFORE, *COMPACT_MIGRATIONS])
    await db.open()
    bus = EventBus()
    service = EntityService(db, bus, IntegrationRegistry(discover(tmp_path / "integrations")))
    service.start()
    try:
        outcome = await service.apply(
            "e1", "tracker", EntityStateSyncResult(records=(record,), full=False)
        )
        assert outcome.counts()["unchanged"] == 1  # no spurious update after the upgrade
        assert [row.external_id for row, _ in await service.search("fern")] == ["t1"]
        sql = await db.conn.execute_fetchall(
            "SELECT sql FROM sqlite_schema WHERE name = 'entity_search'"
        )
        assert "detail = column" in str(list(sql))
        plan = await db.conn.execute_fetchall(
            "EXPLAIN QUERY PLAN SELECT id FROM entities WHERE device_id = ?", (1,)
        )
        assert "entities_by_device" in str(list(plan))  # the partial index still serves it
        changed = record.model_copy(update={"name": "Water the palms"})
        await service.apply("e1", "tracker", EntityStateSyncResult(records=(changed,), full=False))
        assert [row.name for row, _ in await service.search("palms")] == ["Water the palms"]
        assert await service.search("fern") == []
    finally:
        await service.stop()
        await bus.close()
        await db.close()
