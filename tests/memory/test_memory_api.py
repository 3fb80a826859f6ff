"""The world memory over REST: nodes, facts and relations, whose they are, and what bad input gets."""

from __future__ import annotations

from typing import Any

import pytest

from tests.hub_client import HubClient
from tests.memory.world_support import (
    StartHub,
    add_entry,
    error_code,
    make_node,
    node,
    request,
    shelves,
    start_hub,
)

__all__ = ["shelves", "start_hub"]

pytestmark = pytest.mark.usefixtures("no_lingering_tasks")


def statements(detail: dict[str, Any]) -> set[tuple[str, str, str, bool]]:
    """A node's relations as ``(subject, predicate, object, inferred)``."""
    return {
        (r["subject"]["name"], r["predicate"], r["object"]["name"], r["inferred"])
        for r in detail["relations"]
    }


async def relate(hub: HubClient, subject: int, predicate: str, obj: int, **kw: Any) -> Any:
    status, body = await hub.post(
        "/api/memory/relations",
        {"subject_id": subject, "predicate": predicate, "object_id": obj},
        **kw,
    )
    assert status == 201, body
    return body


async def test_nodes_and_facts_are_made_found_changed_and_deleted(start_hub: StartHub) -> None:
    hub = await start_hub()
    garage = await make_node(hub, "place", "Garage", aliases=["the shed", "Garage"])
    assert garage["aliases"] == ["the shed"]
    assert (garage["household"], garage["required_tier"]) == (False, 0)

    status, fact = await hub.post(
        "/api/memory/facts", {"node_id": garage["id"], "text": "The spare key hangs by the door."}
    )
    assert status == 201, fact
    # A subject that names no node yet makes one.
    status, other = await hub.post(
        "/api/memory/facts", {"subject": "Anna", "kind": "person", "text": "Anna likes tea."}
    )
    assert status == 201, other
    # Found by alias (any case), and by the words of a fact.
    for q in ("THE SHED", "spare key"):
        status, found = await hub.get("/api/memory/nodes", params={"q": q})
        assert status == 200, found
        assert [n["name"] for n in found["nodes"]] == ["Garage"]
    status, found = await hub.get("/api/memory/nodes", params={"kind": "person"})
    assert [n["name"] for n in found["nodes"]] == ["Anna"]

    status, changed = await request(
        hub, "PATCH", f"/api/memory/facts/{fact['id']}", {"text": "The key hangs inside."}
    )
    assert (status, changed["text"]) == (200, "The key hangs inside.")
    status, renamed = await request(
        hub, "PATCH", f"/api/memory/nodes/{garage['id']}", {"name": "Big garage", "aliases": []}
    )
    assert (status, renamed["name"], renamed["aliases"]) == (200, "Big garage", [])
    status, found = await hub.get("/api/memory/nodes", params={"q": "shed"})
    assert found["nodes"] == []
    detail = await node(hub, garage["id"])
    assert [f["text"] for f in detail["facts"]] == ["The key hangs inside."]
    assert (detail["relations"], detail["entities"]) == ([], [])

    status, _ = await request(hub, "DELETE", f"/api/memory/facts/{fact['id']}")
    assert status == 200
    assert (await node(hub, garage["id"]))["facts"] == []
    status, _ = await request(hub, "DELETE", f"/api/memory/nodes/{garage['id']}")
    assert status == 200
    status, body = await hub.get(f"/api/memory/nodes/{garage['id']}")
    assert (status, error_code(body)) == (404, "memory_node_not_found")


async def test_a_persons_memory_is_theirs_and_the_households_is_everyones(
    start_hub: StartHub,
) -> None:
    hub = await start_hub()
    member = await hub.another_person("mia", "another long passphrase")
    diary = await make_node(hub, "topic", "Owner's diary")
    home = await make_node(hub, "place", "Home", household=True)
    status, secret = await hub.post(
        "/api/memory/facts", {"node_id": home["id"], "text": "The owner hides cash here."}
    )
    assert status == 201

    # The member sees the household's node, never the owner's own, nor the owner's fact on it.
    status, listed = await hub.get("/api/memory/nodes", headers=member)
    assert [n["name"] for n in listed["nodes"]] == ["Home"]
    status, body = await hub.get(f"/api/memory/nodes/{diary['id']}", headers=member)
    assert (status, error_code(body)) == (404, "memory_node_not_found")
    assert (await node(hub, home["id"], headers=member))["facts"] == []
    status, found = await hub.get("/api/memory/nodes", params={"q": "cash"}, headers=member)
    assert found["nodes"] == []
    status, body = await request(hub, "DELETE", f"/api/memory/facts/{secret['id']}", headers=member)
    assert (status, error_code(body)) == (404, "memory_fact_not_found")

    # A member may not change the household rows someone else made...
    status, body = await request(
        hub, "PATCH", f"/api/memory/nodes/{home['id']}", {"name": "Mine"}, headers=member
    )
    assert (status, error_code(body)) == (403, "memory_forbidden")
    status, body = await request(hub, "DELETE", f"/api/memory/nodes/{home['id']}", headers=member)
    assert status == 403
    # ...but adds to them, and changes what they made; an admin may change it too.
    status, shared = await hub.post(
        "/api/memory/facts",
        {"node_id": home["id"], "text": "The bins go out on Tuesday.", "household": True},
        headers=member,
    )
    assert (status, shared["household"]) == (201, True)
    status, _ = await request(
        hub,
        "PATCH",
        f"/api/memory/facts/{shared['id']}",
        {"text": "Bins: Tuesday."},
        headers=member,
    )
    assert status == 200
    owner_view = await node(hub, home["id"])
    assert {f["text"] for f in owner_view["facts"]} == {
        "The owner hides cash here.",
        "Bins: Tuesday.",
    }
    status, _ = await request(hub, "DELETE", f"/api/memory/facts/{shared['id']}")
    assert status == 200


async def test_two_people_may_state_the_same_relation_each_their_own(
    start_hub: StartHub,
) -> None:
    hub = await start_hub()
    member = await hub.another_person("mia", "another long passphrase")
    kitchen = await make_node(hub, "place", "Kitchen", household=True)
    home = await make_node(hub, "place", "Home", household=True)

    mine = await relate(hub, kitchen["id"], "part_of", home["id"])
    theirs = await relate(hub, kitchen["id"], "part_of", home["id"], headers=member)
    assert mine["id"] != theirs["id"]
    assert (mine["household"], theirs["household"]) == (False, False)
    # Stating it again is the same statement, not a second one.
    assert (await relate(hub, kitchen["id"], "part_of", home["id"]))["id"] == mine["id"]

    # Each sees their own; forgetting one leaves the other's.
    def ids(detail: dict[str, Any]) -> list[int]:
        return [r["id"] for r in detail["relations"] if not r["inferred"]]

    assert ids(await node(hub, kitchen["id"])) == [mine["id"]]
    assert ids(await node(hub, kitchen["id"], headers=member)) == [theirs["id"]]
    status, _ = await request(hub, "DELETE", f"/api/memory/relations/{mine['id']}")
    assert status == 200
    assert ids(await node(hub, kitchen["id"], headers=member)) == [theirs["id"]]


async def test_bad_input_gets_a_typed_error(start_hub: StartHub) -> None:
    hub = await start_hub()
    member = await hub.another_person("mia", "another long passphrase")
    a = await make_node(hub, "thing", "Kettle")
    b = await make_node(hub, "place", "Kitchen", household=True)
    mine = await make_node(hub, "thing", "Mia's mug", headers=member)

    cases: list[tuple[str, str, Any, int, str]] = [
        ("POST", "/api/memory/facts", {"text": "floating"}, 400, "memory_node_required"),
        ("POST", "/api/memory/facts", {"subject": "  ", "text": "x"}, 400, "memory_node_required"),
        (
            "POST",
            "/api/memory/relations",
            {"subject_id": a["id"], "predicate": "can_open", "object_id": b["id"]},
            400,
            "memory_predicate_unknown",
        ),
        (
            "POST",
            "/api/memory/relations",
            {"subject_id": a["id"], "predicate": "part_of", "object_id": mine["id"]},
            404,
            "memory_node_not_found",
        ),
        (
            "POST",
            "/api/memory/nodes",
            {"kind": "spaceship", "name": "x"},
            400,
            "memory_kind_unknown",
        ),
        (
            "POST",
            "/api/memory/nodes",
            {"kind": "thing", "name": "kettle"},
            409,
            "memory_node_exists",
        ),
        ("POST", "/api/memory/nodes", {"kind": "thing", "name": " "}, 400, "memory_invalid"),
        (
            "POST",
            "/api/memory/nodes",
            {"kind": "thing", "name": "x", "aliases": [f"a{i}" for i in range(21)]},
            400,
            "memory_invalid",
        ),
        (
            "POST",
            "/api/memory/facts",
            {"node_id": a["id"], "text": "x" * 2001},
            400,
            "memory_invalid",
        ),
        (
            "POST",
            "/api/memory/facts",
            {"node_id": a["id"], "text": "mine alone", "household": True},
            400,
            "memory_invalid",
        ),
        ("GET", "/api/memory/nodes/abc", None, 404, "memory_node_not_found"),
        ("DELETE", "/api/memory/facts/99999", None, 404, "memory_fact_not_found"),
        ("DELETE", "/api/memory/relations/1x", None, 404, "memory_relation_not_found"),
        ("GET", "/api/memory/nodes?limit=0", None, 400, "bad_request"),
    ]
    for method, path, body, status, code in cases:
        got, answer = await request(hub, method, path, body)
        assert (got, error_code(answer)) == (status, code), (method, path, answer)


async def test_transitive_and_symmetric_predicates_are_honoured(start_hub: StartHub) -> None:
    hub = await start_hub()
    shelf = await add_entry(hub, "world_shelf")
    assert shelf
    status, body = await hub.get("/api/memory/predicates")
    predicates = {p["key"]: p for p in body["predicates"]}
    assert predicates["part_of"]["is_transitive"]
    assert predicates["knows"]["is_symmetric"]
    assert predicates["world_shelf:blocks"] == {
        "key": "world_shelf:blocks",
        "name": "blocks",
        "description": "Must be done first.",
        "is_transitive": True,
        "is_symmetric": False,
        "source": "world_shelf",
    }
    status, kinds = await hub.get("/api/memory/kinds")
    assert kinds["kinds"][:2] == ["person", "place"]
    assert "task" in kinds["kinds"]

    shelf_node, kitchen, house = [
        await make_node(hub, kind, name)
        for kind, name in (("thing", "Spice shelf"), ("place", "Kitchen"), ("place", "House"))
    ]
    await relate(hub, shelf_node["id"], "part_of", kitchen["id"])
    await relate(hub, kitchen["id"], "part_of", house["id"])
    assert statements(await node(hub, shelf_node["id"])) == {
        ("Spice shelf", "part_of", "Kitchen", False),
        ("Spice shelf", "part_of", "House", True),
    }
    assert ("Spice shelf", "part_of", "House", True) in statements(await node(hub, house["id"]))

    anna, ben = await make_node(hub, "person", "Anna"), await make_node(hub, "person", "Ben")
    stated = await relate(hub, anna["id"], "knows", ben["id"])
    assert statements(await node(hub, ben["id"])) == {("Ben", "knows", "Anna", True)}
    # Read from either side it is the one stated relation, deleted once.
    [seen] = (await node(hub, ben["id"]))["relations"]
    assert seen["id"] == stated["id"]
    status, _ = await request(hub, "DELETE", f"/api/memory/relations/{stated['id']}")
    assert status == 200
    assert (await node(hub, anna["id"]))["relations"] == []


async def test_a_cycle_of_transitive_relations_answers(start_hub: StartHub) -> None:
    hub = await start_hub()
    ring = [await make_node(hub, "task", f"Step {i}") for i in range(12)]
    for here, there in zip(ring, ring[1:] + ring[:1], strict=True):
        await relate(hub, here["id"], "depends_on", there["id"])
    # And a dense tangle on top: every step depends on every other.
    for here in ring[:6]:
        for there in ring[:6]:
            if here is not there:
                await relate(hub, here["id"], "depends_on", there["id"])
    detail = await node(hub, ring[0]["id"])
    inferred = {
        (r["subject"]["name"], r["object"]["name"]) for r in detail["relations"] if r["inferred"]
    }
    assert ("Step 0", "Step 11") in inferred  # eleven steps along the ring: beyond no depth limit
    assert ("Step 11", "Step 0") not in inferred  # stated: Step 11 depends_on Step 0
    assert len(detail["relations"]) <= 2 * 500 + 40


async def test_the_memory_survives_a_restart(start_hub: StartHub) -> None:
    hub = await start_hub()
    garage = await make_node(hub, "place", "Garage", aliases=["shed"])
    await hub.post("/api/memory/facts", {"node_id": garage["id"], "text": "Bikes live here."})
    await hub.client.close()
    hub = await start_hub()
    _status, found = await hub.get("/api/memory/nodes", params={"q": "bikes"})
    assert [n["name"] for n in found["nodes"]] == ["Garage"]
    detail = await node(hub, garage["id"])
    assert (detail["aliases"], [f["text"] for f in detail["facts"]]) == (
        ["shed"],
        ["Bikes live here."],
    )
