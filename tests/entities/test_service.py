"""The apply path: diff by hash, full deletes only the entry's own types, parents, devices, events."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hub.core.bus import EventBus
from hub.core.database import Database, insert_rows
from hub.core.disk import StorageReadOnlyError
from hub.entities.service import EntityService
from hub.entities.store import Alongside
from hub.integrations.entities import DeviceInfo, EntityStateRecord, EntityStateSyncResult
from hub.integrations.loader import discover
from hub.integrations.registry import IntegrationRegistry
from tests.entities.migrations import HUB_MIGRATIONS
from tests.integrations.helpers import make_integration

TRACKER = """
from hub.integrations.entities import EntityStateTypeDescriptor
from hub.integrations.integration import Integration

PROJECT = EntityStateTypeDescriptor(key="project", name="Project", world_kind="project")
TASK = EntityStateTypeDescriptor(
    key="task",
    name="Task",
    rag=True,
    to_text=lambda r: f"{r.name}. {r.attributes.get('description', '')}",
)
NOTE = EntityStateTypeDescriptor(key="note", name="Note", visible_default=False)


class Tracker(Integration):
    def entity_types(self):
        return {"project": PROJECT, "task": TASK, "note": NOTE}


INTEGRATION = Tracker()
"""


class Env:
    def __init__(self, service: EntityService, bus: EventBus, db: Database) -> None:
        self.service = service
        self.bus = bus
        self.db = db
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def apply(self, *records: EntityStateRecord, entry: str = "e1", **kw: Any) -> Any:
        return await self.service.apply(
            entry, "tracker", EntityStateSyncResult(records=records, **kw)
        )

    async def states(self, entry: str = "e1") -> dict[tuple[str, str], Any]:
        rows = await self.service.list_entities(entry_ids=[entry])
        return {(r.entity_type, r.external_id): r.state for r in rows}

    async def drain(self) -> None:
        for _ in range(20):
            await asyncio.sleep(0)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    make_integration(tmp_path / "integrations", "tracker", init=TRACKER)
    registry = IntegrationRegistry(discover(tmp_path / "integrations"))
    db = Database(tmp_path / "hub.db", HUB_MIGRATIONS)
    await db.open()
    bus = EventBus()
    service = EntityService(db, bus, registry)
    service.start()
    result = Env(service, bus, db)
    bus.listen("entity.*", lambda e: result.events.append((e.type, dict(e.data))))
    yield result
    await service.stop()
    await bus.close()
    await db.close()


def task(external_id: str, state: Any = "open", **kw: Any) -> EntityStateRecord:
    return EntityStateRecord(
        entity_type="task", external_id=external_id, name=f"Task {external_id}", state=state, **kw
    )


async def test_create_update_unchanged_with_one_event_per_change(env: Env) -> None:
    first = await env.apply(task("1"), task("2"), entity_types=("task",))
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    again = await env.apply(task("1"), task("2"), entity_types=("task",))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    changed = await env.apply(task("1", "done"), task("2"), entity_types=("task",))
    assert (changed.updated, changed.unchanged) == (1, 1)
    await env.drain()
    kinds = [(kind, data["external_id"]) for kind, data in env.events]
    assert kinds == [("entity.created", "1"), ("entity.created", "2"), ("entity.updated", "1")]
    updated = env.events[-1][1]
    assert updated["old_state"]["state"] == "open"
    assert updated["new_state"]["state"] == "done"


async def test_full_deletes_only_absent_entities_of_its_types_and_entry(env: Env) -> None:
    project = EntityStateRecord(entity_type="project", external_id="p", name="Home")
    await env.apply(task("1"), task("2"), project, entity_types=("task", "project"))
    await env.apply(task("1"), entry="e2", entity_types=("task",))
    result = await env.apply(task("1"), entity_types=("task",))
    assert result.deleted == 1
    assert await env.states() == {("task", "1"): "open", ("project", "p"): None}
    assert await env.states("e2") == {("task", "1"): "open"}, "another entry is never touched"
    upsert_only = await env.apply(task("3"), full=False)
    assert upsert_only.deleted == 0
    assert set(await env.states()) == {("task", "1"), ("task", "3"), ("project", "p")}
    emptied = await env.apply(entity_types=("task",))
    assert emptied.deleted == 2, "naming a type with no records clears it"


async def test_parents_devices_and_rejected_records(env: Env) -> None:
    device = DeviceInfo(identifier="srv-1", name="Server", model="X1")
    child = task("c", parent_type="project", parent_external_id="p", device=device)
    project = EntityStateRecord(entity_type="project", external_id="p", name="Home", device=device)
    undeclared = EntityStateRecord(entity_type="bogus", external_id="b", name="B")
    result = await env.apply(child, project, undeclared, task("c"), full=False)
    assert result.rejected == [
        ("b", "undeclared type 'bogus'"),
        ("c", "appears twice in one result"),
    ]
    rows = {r.external_id: r for r in await env.service.list_entities(entry_ids=["e1"])}
    assert rows["c"].parent_id == rows["p"].id, "a parent created in the same result is found"
    assert rows["c"].device_id == rows["p"].device_id is not None
    async with env.db.conn.execute("SELECT count(*) FROM devices") as cursor:
        assert (await cursor.fetchone()) == (1,)


async def test_history_rows_only_for_state_changes(env: Env) -> None:
    await env.apply(task("1", "open"), full=False)
    await env.apply(task("1", "open", attributes={"x": 1}), full=False)
    await env.apply(task("1", "done"), full=False)
    async with env.db.conn.execute("SELECT state FROM history ORDER BY id") as cursor:
        assert [row[0] for row in await cursor.fetchall()] == ['"open"', '"done"']


async def test_search_ranks_rag_types_by_relevance(env: Env) -> None:
    await env.apply(
        task("a", attributes={"description": "replace the boiler pressure valve"}),
        task("b", attributes={"description": "buy milk"}),
        EntityStateRecord(entity_type="project", external_id="p", name="Boiler room"),
        full=False,
    )
    await env.apply(
        task("b", attributes={"description": "the boiler again, boiler boiler"}), full=False
    )
    found = await env.service.search("boiler")
    assert [row.external_id for row, _ in found] == ["b", "a"], "projects are not rag, never found"
    assert await env.service.search('"; DROP TABLE entities; --') == []


async def test_visible_default_and_removal(env: Env) -> None:
    note = EntityStateRecord(entity_type="note", external_id="n", name="Hidden")
    await env.apply(note, task("1"), full=False)
    hidden = await env.service.list_entities(visible=False)
    assert [row.external_id for row in hidden] == ["n"]
    assert await env.service.remove("e1", "tracker", "note", "n") is True
    assert await env.service.remove("e1", "tracker", "note", "n") is False
    await env.drain()
    assert env.events[-1][0] == "entity.deleted"


async def test_concurrent_applies_share_transactions(env: Env) -> None:
    before = env.service.batches
    results = await asyncio.gather(*(env.apply(task(str(i)), full=False) for i in range(200)))
    assert sum(r.created for r in results) == 200
    assert env.service.batches - before < 50, "applies that arrive together commit together"


async def test_a_failing_apply_in_a_batch_fails_alone(env: Env) -> None:
    # A trigger stands in for any error one apply can meet: that apply fails, its batch's others
    # are stored, indexed for search and announced as if it had not been there.
    await env.db.conn.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON entities WHEN NEW.external_id = 'bad' "
        "BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    names = [str(i) for i in range(10)] + ["bad"] + [str(i) for i in range(10, 20)]
    results = await asyncio.gather(
        *(env.apply(task(name), full=False) for name in names), return_exceptions=True
    )
    failed = [
        name for name, result in zip(names, results, strict=True) if isinstance(result, Exception)
    ]
    assert failed == ["bad"]
    states = await env.states()
    assert sorted(key[1] for key in states) == sorted(n for n in names if n != "bad")
    found = await env.service.search("Task", limit=50)
    assert len(found) == 20
    await env.drain()
    assert len([kind for kind, _ in env.events if kind == "entity.created"]) == 20
    with pytest.raises(sqlite3.IntegrityError):  # alone in its batch, it fails just the same
        await env.apply(task("bad"), full=False)
    await env.db.conn.execute("DROP TRIGGER refuse")
    assert (await env.apply(task("bad"), full=False)).created == 1


async def indexed(env: Env) -> dict[int, str]:
    """What the search index holds right now (pending entities not yet in it): names by id."""
    async with env.db.conn.execute("SELECT rowid, name FROM entity_search") as cursor:
        return {int(row[0]): str(row[1]) for row in await cursor.fetchall()}


async def test_search_answers_from_entities_still_pending_for_the_index(env: Env) -> None:
    await env.apply(task("1"), task("2"), task("3"), full=False)
    found = await env.service.search("Task")
    assert sorted(row.external_id for row, _ in found) == ["1", "2", "3"]
    ids = {row.external_id: row.id for row, _ in found}
    renamed = EntityStateRecord(entity_type="task", external_id="1", name="Chore one")
    await env.apply(renamed, task("2"), full=True)  # renames 1, deletes 3
    assert [row.external_id for row, _ in await env.service.search("Task")] == ["2"]
    assert [row.external_id for row, _ in await env.service.search("chore")] == ["1"]
    assert await indexed(env) == {ids["1"]: "Chore one", ids["2"]: "Task 2"}
    await env.service.remove_entry("e1")
    assert await env.service.search("chore") == []
    assert await indexed(env) == {}
    async with env.db.conn.execute("SELECT count(*) FROM search_pending") as cursor:
        assert (await cursor.fetchone()) == (0,)


async def test_the_writer_indexes_pending_entities_on_its_own(env: Env) -> None:
    await env.apply(task("1"), full=False)
    await env.service.stop()  # a clean stop indexes what is pending, as the writer's delay would
    assert list((await indexed(env)).values()) == ["Task 1"]


async def test_an_entity_whose_text_did_not_change_is_not_indexed_again(env: Env) -> None:
    await env.apply(task("1", attributes={"description": "fern"}), full=False)
    await env.service.search("fern")
    async with env.db.conn.execute("SELECT max(id) FROM entity_search_data") as cursor:
        segments = await cursor.fetchone()
    # The state is not in this type's text: the entity changes, its words do not.
    await env.apply(task("1", "done", attributes={"description": "fern"}), full=False)
    assert [row.state for row, _ in await env.service.search("fern")] == ["done"]
    async with env.db.conn.execute("SELECT max(id) FROM entity_search_data") as cursor:
        assert (await cursor.fetchone()) == segments, "no new segment was written"


async def test_a_search_the_disk_keeps_from_indexing_refuses_rather_than_answer_stale(
    env: Env,
) -> None:
    await env.apply(task("1"), full=False)
    await env.service.stop()  # indexes what is pending; from here on only this test writes
    [(row, _)] = await env.service.search("Task")
    # What an apply leaves when the writer has not indexed it yet: the entity renamed.
    await env.db.conn.execute("UPDATE entities SET name = 'Chore 1' WHERE id = ?", (row.id,))
    await env.db.conn.execute(
        "INSERT INTO search_pending (entity_id, name, body) VALUES (?, 'Chore 1', '')", (row.id,)
    )
    await env.db.conn.execute("PRAGMA query_only = ON")
    with pytest.raises(StorageReadOnlyError):
        await env.service.search("Task")
    await env.db.conn.execute("PRAGMA query_only = OFF")
    assert await env.service.search("Task") == []
    assert [r.name for r, _ in await env.service.search("chore")] == ["Chore 1"]


async def test_a_rider_writes_with_the_apply_and_its_failure_leaves_the_apply_standing(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    def note_created(conn: sqlite3.Connection, outcome: Any) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS seen (entity_id INTEGER)")
        conn.executemany(
            "INSERT INTO seen VALUES (?)",
            [(c.new.id,) for c in outcome.changes if c.old is None and c.new is not None],
        )

    def half_then_fail(conn: sqlite3.Connection, outcome: Any) -> None:
        conn.execute("INSERT INTO seen VALUES (-1)")
        raise RuntimeError("rider broke")

    asked: list[tuple[str, str]] = []

    def riders(entry_id: str, domain: str) -> Any:
        asked.append((entry_id, domain))
        return note_created if entry_id == "e1" else half_then_fail

    env.service.riders.append(riders)
    await env.apply(task("1"), task("2"), entity_types=("task",))
    caplog.clear()
    await env.apply(task("3"), entry="e2", entity_types=("task",))

    assert asked == [("e1", "tracker"), ("e2", "tracker")]
    # The failing rider's half-write was rolled back; its apply committed all the same.
    assert await env.states("e2") == {("task", "3"): "open"}
    assert "rider broke" in caplog.text
    seen = await env.db.run(
        lambda conn: sorted(r[0] for r in conn.execute("SELECT entity_id FROM seen"))
    )
    ids = sorted(r.id for r in await env.service.list_entities(entry_ids=["e1"]))
    assert seen == ids


async def test_writes_alongside_applies_of_one_batch_go_together_and_fail_alone(env: Env) -> None:
    await env.db.run(lambda conn: conn.execute("CREATE TABLE log (item TEXT, created INTEGER)"))
    gathered: list[list[str]] = []

    def write(conn: sqlite3.Connection, items: Any) -> None:
        gathered.append([item for item, _ in items])
        if any(item == "bad" for item, _ in items):
            raise ValueError("this item cannot be logged")
        insert_rows(conn, "INSERT INTO log (item, created)", [(i, o.created) for i, o in items])

    async def apply(item: str, *records: EntityStateRecord) -> Any:
        result = EntityStateSyncResult(records=records, full=False)
        return await env.service.apply("e1", "tracker", result, also=Alongside(write, item))

    outcomes = await asyncio.gather(
        apply("a", task("1"), task("2")),
        apply("bad", task("3")),
        apply("c", task("4")),
        return_exceptions=True,
    )

    # Written together first; when that failed, each again on its own, and only "bad" failed.
    assert gathered == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]
    first, bad, last = outcomes
    assert isinstance(bad, ValueError)
    assert not isinstance(first, BaseException)
    assert not isinstance(last, BaseException)
    assert (first.created, last.created) == (2, 1)
    logged = await env.db.run(lambda conn: conn.execute("SELECT * FROM log").fetchall())
    assert logged == [("a", 2), ("c", 1)]
    # The failed write took its apply with it: the entities and their log rows commit together.
    assert await env.states() == {
        ("task", "1"): "open",
        ("task", "2"): "open",
        ("task", "4"): "open",
    }
