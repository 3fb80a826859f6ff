"""The listener manager: restarts with backoff, a watchdog, catch-up, and a prompt stop."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from hub.api.state import CONFIG_ENTRIES, DATABASE
from tests.comms.conftest import CommsHub, StartCommsHub
from tests.comms.test_inbox import wait_for


def listener(hub: CommsHub, entry_id: str) -> dict[str, Any]:
    status = hub.comms.listeners.status(entry_id)
    assert status is not None
    return status


async def test_a_crashing_listener_backs_off_restarts_and_misses_nothing(
    start_comms_hub: StartCommsHub,
) -> None:
    hub = await start_comms_hub(listener_backoff_seconds=0.05, listener_backoff_max_seconds=0.2)
    entry_id = await hub.add_courier()
    await wait_for(lambda: _state(hub, entry_id, "running"))
    hub.channel.mode = "crash"
    hub.channel.arrived.set()  # wake it: it finds itself crashing
    await wait_for(lambda: _restarts(hub, entry_id, 3))
    status = listener(hub, entry_id)
    assert status["last_error"]
    assert "ConnectionResetError" in status["last_error"]
    # While it is down, mail arrives; once the server is back, the restart catches up on it.
    hub.channel.deliver("while-down-1")
    hub.channel.deliver("while-down-2")
    hub.channel.mode = "ok"
    assert await wait_for(lambda: _count_is(hub, 2))
    await wait_for(lambda: _state(hub, entry_id, "running"))
    # The state is on the entry, where the person sees it.
    status_code, entry = await hub.client.get(f"/api/config-entries/{entry_id}")
    assert status_code == 200
    assert entry["listener"]["restarts"] >= 3


async def test_a_listener_without_a_sign_of_life_is_restarted_by_the_watchdog(
    start_comms_hub: StartCommsHub,
) -> None:
    hub = await start_comms_hub(listener_watchdog_seconds=1, listener_backoff_seconds=0.05)
    entry_id = await hub.add_courier()
    await wait_for(lambda: _state(hub, entry_id, "running"))
    hub.channel.mode = "deaf"
    starts = hub.channel.starts
    await wait_for(lambda: _started_again(hub, starts), seconds=10)
    assert "no sign of life" in (listener(hub, entry_id)["last_error"] or "")


async def test_unload_stops_even_a_listener_that_ignores_should_run_within_two_seconds(
    start_comms_hub: StartCommsHub,
) -> None:
    hub = await start_comms_hub()
    entry_id = await hub.add_courier()
    await wait_for(lambda: _state(hub, entry_id, "running"))
    hub.channel.mode = "hang"
    hub.channel.arrived.set()
    await asyncio.sleep(0.2)
    started = time.monotonic()
    status, body = await hub.client.post(
        f"/api/config-entries/{entry_id}/disable", {"disabled": True}
    )
    took = time.monotonic() - started
    assert status == 200, body
    assert took < 2.5, took  # the grace (1.5 s) and the cancel, not the hour it sleeps
    assert hub.comms.listeners.status(entry_id) is None
    entry = hub.app[CONFIG_ENTRIES].require(entry_id)
    assert entry.listener is not None
    assert entry.listener["state"] == "stopped"


async def test_a_backlog_drains_and_nothing_is_stored_twice(
    start_comms_hub: StartCommsHub,
) -> None:
    hub = await start_comms_hub(ingest_batch=50)
    for n in range(420):
        hub.channel.deliver(f"backlog-{n}", subject=f"Message {n}")
    entry_id = await hub.add_courier()
    assert await wait_for(lambda: _count_is(hub, 420), seconds=30)
    # A reader that hands the same messages out again (after a reconnect) stores nothing twice.
    hub.channel.cursor = 0
    record = await hub.comms.ingest.pull(entry_id)
    assert record.get("created", 0) == 0
    assert await _count_is(hub, 420)


async def _state(hub: CommsHub, entry_id: str, state: str) -> bool:
    status = hub.comms.listeners.status(entry_id)
    return status is not None and status["state"] == state


async def _restarts(hub: CommsHub, entry_id: str, at_least: int) -> bool:
    status = hub.comms.listeners.status(entry_id)
    return status is not None and status["restarts"] >= at_least


async def _started_again(hub: CommsHub, starts: int) -> bool:
    return bool(hub.channel.starts > starts)


async def _count_is(hub: CommsHub, count: int) -> bool:
    database = hub.app[DATABASE]  # the count, not a page of threads
    rows = await database.run(
        lambda conn: conn.execute("SELECT COUNT(*) FROM comms_messages").fetchone()
    )
    return bool(rows[0] == count)
