"""Entities linked to memory nodes by ``world_kind``, tiers, and a removed person leaving nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from hub.api.state import MEMORY, SYNC
from tests.memory.world_support import (
    Shelf,
    StartHub,
    add_entry,
    entity_ids,
    make_node,
    node,
    request,
    shelves,
    start_hub,
    sync,
    write_records,
)

__all__ = ["shelves", "start_hub"]

pytestmark = pytest.mark.usefixtures("no_lingering_tasks")


async def nodes_named(hub: Any, kind: str, **kw: Any) -> dict[str, dict[str, Any]]:
    status, body = await hub.get("/api/memory/nodes", params={"kind": kind}, **kw)
    assert status == 200, body
    return {n["name"]: n for n in body["nodes"]}


async def test_entities_of_a_world_kind_type_are_linked_and_outlive_their_link(
    start_hub: StartHub, tmp_path: Path
) -> None:
    hub = await start_hub()
    write_records(
        tmp_path,
        "world_shelf",
        [("work_package", "wp1", "Fix the gate"), ("room", "r1", "Garage"), ("note", "n1", "Milk")],
    )
    member = await hub.another_person("mia", "another long passphrase")
    entry_id = await add_entry(hub, "world_shelf")
    await sync(hub, entry_id)
    ids = await entity_ids(hub)
    memory = hub.app[MEMORY]

    # A household entry's entities become the household's nodes: the member sees them too.
    tasks = await nodes_named(hub, "task", headers=member)
    assert list(tasks) == ["Fix the gate"]
    gate = await node(hub, tasks["Fix the gate"]["id"], headers=member)
    assert (gate["entities"], gate["household"]) == ([ids["wp1"]], True)
    garage_id = await memory.node_of_entity(ids["r1"])
    assert garage_id is not None
    assert (await node(hub, garage_id))["kind"] == "place"
    assert await memory.node_of_entity(ids["n1"]) is None  # a note is no thing of the world

    # A person who already wrote about "the garage" finds the same node.
    status, fact = await hub.post(
        "/api/memory/facts", {"subject": "garage", "text": "The door sticks in winter."}
    )
    assert (status, fact["node_id"]) == (201, garage_id)

    # Renamed upstream: the node follows; once a person renamed a node, it keeps their name.
    await request(hub, "PATCH", f"/api/memory/nodes/{garage_id}", {"name": "Our garage"})
    write_records(
        tmp_path,
        "world_shelf",
        [("work_package", "wp1", "Repair the gate"), ("room", "r1", "Carport")],
    )
    await sync(hub, entry_id)
    assert list(await nodes_named(hub, "task")) == ["Repair the gate"]
    assert (await node(hub, garage_id))["name"] == "Our garage"

    # Deleted upstream: the link goes, the node and what people wrote about it stay.
    write_records(tmp_path, "world_shelf", [("work_package", "wp1", "Repair the gate")])
    await sync(hub, entry_id)
    garage = await node(hub, garage_id)
    assert garage["entities"] == []
    assert [f["text"] for f in garage["facts"]] == ["The door sticks in winter."]


async def test_a_read_just_after_a_sync_finds_its_nodes_and_a_start_links_what_was_missed(
    start_hub: StartHub, tmp_path: Path
) -> None:
    hub = await start_hub()
    memory = hub.app[MEMORY]
    write_records(tmp_path, "world_shelf", [("work_package", "wp1", "Fix the gate")])
    entry_id = await add_entry(hub, "world_shelf")
    # No waiting for the linker: a read links whatever is due before it answers.
    await hub.app[SYNC].sync_now(entry_id, cooldown=False)
    assert list(await nodes_named(hub, "task")) == ["Fix the gate"]

    # Written while nothing linked (as if the hub had been down): taken in when linking starts.
    await memory.links.stop()
    write_records(
        tmp_path,
        "world_shelf",
        [("work_package", "wp1", "Mend the gate"), ("work_package", "wp2", "Paint the fence")],
    )
    await hub.app[SYNC].sync_now(entry_id, cooldown=False)
    ids = await entity_ids(hub)
    assert (
        await hub.app[MEMORY].links._db.run(
            lambda conn: conn.execute(
                "SELECT count(*) FROM memory_links WHERE entity_id = ?", (ids["wp2"],)
            ).fetchone()[0]
        )
        == 0
    )
    await memory.links.start()
    # The new entity is linked, and the node of the one renamed meanwhile follows its name.
    assert sorted(await nodes_named(hub, "task")) == ["Mend the gate", "Paint the fence"]
    fence = await memory.node_of_entity(ids["wp2"])
    assert fence is not None
    assert (await node(hub, fence))["entities"] == [ids["wp2"]]


@pytest.mark.parametrize(
    "shelves", [(("world_shelf", {}), ("vault", {"required_tier": "internal"}))]
)
async def test_what_comes_from_an_internal_entry_stays_above_a_lower_tier(
    start_hub: StartHub, tmp_path: Path, shelves: tuple[Shelf, ...]
) -> None:
    hub = await start_hub()
    write_records(tmp_path, "vault", [("room", "v1", "Server room")])
    write_records(tmp_path, "world_shelf", [("room", "p1", "Porch")])
    for domain in ("vault", "world_shelf"):
        await sync(hub, await add_entry(hub, domain))
    memory = hub.app[MEMORY]
    person = (await hub.get("/api/auth/current_user"))[1]["id"]
    ids = await entity_ids(hub)

    server = await node(hub, int(await memory.node_of_entity(ids["v1"]) or 0))
    assert server["required_tier"] == 2
    assert [n["name"] for n in await memory.search(person, "", max_tier=0)] == ["Porch"]
    assert (await memory.recall(person, "Server room", max_tier=0))["nodes"] == []
    assert [
        n["name"] for n in (await memory.recall(person, "Server room", max_tier=2))["nodes"]
    ] == ["Server room"]

    # A fact drawn from an internal entity about a node everyone may read is hidden below it.
    porch = await memory.resolve(person, "Porch", max_tier=0)
    assert porch is not None
    assert porch["required_tier"] == 0
    await memory.add_fact(person, porch["id"], "The porch light is on.")
    drawn = await memory.add_fact(
        person, porch["id"], "Racks hum all night.", source="entity", source_ref=str(ids["v1"])
    )
    assert drawn["required_tier"] == 2
    low = await memory.recall(person, "porch", max_tier=0)
    assert [f["text"] for f in low["nodes"][0]["facts"]] == ["The porch light is on."]
    high = await memory.recall(person, "porch", max_tier=2)
    assert len(high["nodes"][0]["facts"]) == 2
    assert (await memory.recall(person, "racks humming", max_tier=0))["facts"] == []
    assert [f["text"] for f in (await memory.recall(person, "racks", max_tier=2))["facts"]] == [
        "Racks hum all night."
    ]


async def test_removing_a_person_leaves_nothing_of_theirs(
    start_hub: StartHub, tmp_path: Path
) -> None:
    hub = await start_hub()
    write_records(tmp_path, "world_shelf", [("room", "m1", "Mia's studio")])
    member = await hub.another_person("mia", "another long passphrase")
    status, me = await hub.get("/api/auth/current_user", headers=member)
    mia = me["id"]
    entry_id = await add_entry(hub, "world_shelf", scope="user", headers=member)
    await sync(hub, entry_id)
    studio_id = await hub.app[MEMORY].node_of_entity((await entity_ids(hub, headers=member))["m1"])
    assert studio_id is not None
    assert (await node(hub, studio_id, headers=member))["owner"] == mia

    kept = await make_node(hub, "place", "Hallway", household=True)
    pen = await make_node(hub, "thing", "Zebrapen", aliases=["quillfeather"], headers=member)
    await hub.post(
        "/api/memory/facts",
        {"node_id": pen["id"], "text": "Writes in xylophonic ink."},
        headers=member,
    )
    await hub.post(
        "/api/memory/facts",
        {"node_id": kept["id"], "text": "Mia's secret marmalade spot."},
        headers=member,
    )
    status, shared = await hub.post(
        "/api/memory/facts",
        {"node_id": kept["id"], "text": "Coats hang here.", "household": True},
        headers=member,
    )
    assert status == 201
    await hub.post(
        "/api/memory/relations",
        {"subject_id": pen["id"], "predicate": "located_in", "object_id": kept["id"]},
        headers=member,
    )
    resp = await hub.client.delete(f"/api/people/{mia}", params={"entries": "delete"})
    assert resp.status == 200, await resp.text()

    db = sqlite3.connect(tmp_path / "config" / "hub.db")
    try:
        for table in ("memory_nodes", "memory_facts", "memory_relations"):
            rows = db.execute(
                f"SELECT count(*) FROM {table} WHERE owner = ? OR created_by = ?",
                (mia, mia),
            ).fetchone()
            assert rows == (0,), table
        assert db.execute("SELECT count(*) FROM memory_links").fetchone() == (0,)
        assert db.execute(
            "SELECT count(*) FROM memory_aliases WHERE node_id IN (?, ?)", (pen["id"], studio_id)
        ).fetchone() == (0,)
        # The index holds exactly the rows left, and none of her words.
        indexed = db.execute("SELECT count(*) FROM memory_search").fetchone()[0]
        left = db.execute(
            "SELECT (SELECT count(*) FROM memory_nodes) + (SELECT count(*) FROM memory_facts)"
        ).fetchone()[0]
        assert indexed == left == 2  # the hallway and the household's fact about it
        for word in ("zebrapen", "quillfeather", "xylophonic", "marmalade", "studio"):
            found = db.execute(
                "SELECT count(*) FROM memory_search WHERE memory_search MATCH ?", (word,)
            ).fetchone()
            assert found == (0,), word
    finally:
        db.close()
    hallway = await node(hub, kept["id"])
    assert [f["text"] for f in hallway["facts"]] == ["Coats hang here."]
    assert shared["household"] is True
