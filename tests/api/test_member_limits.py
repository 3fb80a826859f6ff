"""What one person may spend of the hub: on-demand syncs, unfinished flows and entries."""

from __future__ import annotations

from typing import Any

from hub.api.state import AUTH, CONFIG_ENTRIES, FLOW_MANAGER, SCHEDULER
from hub.entities.sync import job_name
from tests.api.conftest import Hub, StartHub
from tests.api.test_entities import add_station
from tests.auth_helpers import OWNER


async def start_vault(hub: Hub, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """``POST /api/config-flows`` for the one-form vault integration."""
    kw = {"headers": headers} if headers else {}
    status, answer = await hub.post("/api/config-flows", {"domain": "vault"}, **kw)
    return status, answer


async def test_a_member_waits_out_the_cooldown_between_on_demand_syncs(
    start_hub: StartHub,
) -> None:
    hub = await start_hub()
    entry_id = await add_station(hub)
    bob = await hub.another_person("bob", "bob-password-1")
    path = f"/api/config-entries/{entry_id}/sync"
    status, answer = await hub.post(path, headers=bob)
    assert status == 200, answer
    before = hub.station.syncs

    again = await hub.client.post(path, headers={**bob, "Accept-Language": "de"})
    assert again.status == 429
    error = (await again.json())["error"]
    assert error["code"] == "sync_cooldown"
    seconds = int(again.headers["Retry-After"])
    assert 1 <= seconds <= 30
    assert error["params"] == {"seconds": seconds}, "the error carries its own number"
    assert f"versuch es in {seconds} s erneut" in error["message"]
    assert hub.station.syncs == before, "the refused sync never reached the station"

    await hub.app[SCHEDULER].run_job_now(job_name(entry_id))  # the schedule goes on as before
    assert hub.station.syncs == before + 1
    status, answer = await hub.post(path)  # an admin fixing the entry is not held back
    assert status == 200, answer
    assert hub.station.syncs == before + 2


async def test_no_cooldown_when_it_is_set_to_zero(start_hub: StartHub) -> None:
    hub = await start_hub(scheduler={"sync_cooldown_seconds": 0})
    entry_id = await add_station(hub)
    bob = await hub.another_person("bob", "bob-password-1")
    for _ in range(2):
        status, answer = await hub.post(f"/api/config-entries/{entry_id}/sync", headers=bob)
        assert status == 200, answer


async def test_a_persons_oldest_unfinished_flow_makes_room_for_a_new_one(
    start_hub: StartHub,
) -> None:
    hub = await start_hub(max_flows_per_person=3)
    bob = await hub.another_person("bob", "bob-password-1")
    started = []
    for _ in range(4):
        status, form = await start_vault(hub)
        assert status == 200, form
        started.append(form["flow_id"])
    status, bobs = await start_vault(hub, bob)
    assert status == 200, bobs

    status, answer = await hub.post(
        f"/api/config-flows/{started[0]}", {"user_input": {"name": "first"}}
    )
    assert status == 404, answer
    assert answer["error"]["code"] == "flow_not_found"
    owner = next(p for p in hub.app[AUTH].people() if p.username == OWNER)
    store = hub.app[FLOW_MANAGER].store
    assert store.count(owner.person_id) == 3
    for flow_id in started[1:]:
        done = await hub.submit(flow_id, {"name": f"vault {flow_id[:4]}"})
        assert done["type"] == "create_entry", done
    done = await hub.submit(bobs["flow_id"], {"name": "bob's"}, headers=bob)
    assert done["type"] == "create_entry", "another person's flow is not theirs to drop"
    assert store.count(owner.person_id) == 0


async def test_a_member_may_own_only_so_many_entries(start_hub: StartHub) -> None:
    hub = await start_hub(max_entries_per_person=2)
    bob = await hub.another_person("bob", "bob-password-1")
    for name in ("one", "two"):
        status, form = await start_vault(hub, bob)
        assert status == 200, form
        done = await hub.submit(form["flow_id"], {"name": name}, headers=bob)
        assert done["type"] == "create_entry", done
    status, answer = await start_vault(hub, bob)
    assert status == 403, answer
    assert answer["error"]["code"] == "too_many_entries"
    mine = [e for e in hub.app[CONFIG_ENTRIES].entries("vault") if e.scope != "global"]
    assert len(mine) == 2

    for name in ("house 1", "house 2", "house 3"):  # the household's entries are not capped
        status, form = await start_vault(hub)
        assert status == 200, form
        done = await hub.submit(form["flow_id"], {"name": name})
        assert done["type"] == "create_entry", done
