"""Schedules, webhooks and inbox messages as triggers, through a real hub.

Schedules are driven through the hub's own scheduler (``run_job_now``) rather than waited for;
what a hub missed while it was down is made by moving a schedule's stored last fire back in
``hub.db`` between two starts, as hours of downtime would.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from hub.api.state import CONFIG_ENTRIES
from hub.config import WorkflowsConfig
from hub.core.database import DATABASE_FILE
from hub.core.scheduler import Scheduler
from hub.workflows import triggers
from hub.workflows.engine import job_name
from hub.workflows.model import ScheduleTrigger
from tests.comms.conftest import write_courier
from tests.workflows.engine_hub import WorkflowHub, event_action, start_hub, with_webhook


async def test_an_interval_schedule_runs_with_its_trigger_data(
    no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start_hub(tmp_path, aiohttp_client)
    made = await hub.create(
        triggers=[{"type": "schedule", "interval_seconds": 60}],
        actions=[event_action(every="{{ trigger.interval_seconds }}")],
    )
    view = await hub.view(made["id"])
    assert view["status"]["next_fire"] is not None
    assert datetime.fromisoformat(view["status"]["next_fire"]) > datetime.now(UTC)

    await hub.scheduler.run_job_now(job_name(made["id"], 0))
    [run] = await hub.finished(made["id"])
    trigger = run["trigger"]
    assert (trigger["type"], trigger["interval_seconds"], trigger["coalesced"]) == (
        "schedule",
        60,
        0,
    )
    assert run["status"] == "succeeded"


async def test_a_cron_schedule_is_armed_in_the_homes_zone_and_a_bad_line_is_refused(
    no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start_hub(tmp_path, aiohttp_client)
    made = await hub.create(
        triggers=[{"type": "schedule", "cron": "30 7 * * mon-fri"}],
        actions=[event_action()],
    )
    view = await hub.view(made["id"])
    fires = datetime.fromisoformat(view["status"]["next_fire"])
    assert (fires.hour, fires.minute, fires.weekday() < 5) == (7, 30, True)  # UTC: no home yet

    body = {
        "name": "Bad",
        "triggers": [{"type": "schedule", "cron": "61 * * * *"}],
        "actions": [event_action()],
    }
    status, answer = await hub.client.post("/api/workflows", body)
    assert status == 400, answer
    assert answer["error"]["code"] == "workflow_invalid"
    assert answer["error"]["params"]["path"] == "triggers[0].cron"
    assert answer["error"]["params"]["reason"] == "cron_invalid"

    # Switched off, a schedule is disarmed.
    status, _ = await hub.client.post(f"/api/workflows/{made['id']}/enable", {"enabled": False})
    assert status == 200
    assert (await hub.view(made["id"]))["status"]["next_fire"] is None
    assert not hub.scheduler.has_job(job_name(made["id"], 0))


def move_last_fire(config_dir: Path, workflow_id: str, seconds_ago: float) -> None:
    """Pretend the schedule last fired ``seconds_ago`` (the hub is stopped)."""
    with sqlite3.connect(config_dir / DATABASE_FILE) as conn:
        changed = conn.execute(
            "UPDATE workflow_schedule_fires SET fired_at = ? WHERE workflow_id = ?",
            (time.time() - seconds_ago, workflow_id),
        ).rowcount
    assert changed == 1


async def test_schedules_missed_while_the_hub_was_down_run_once_when_within_the_grace(
    no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start_hub(tmp_path, aiohttp_client)
    recent = await hub.create(
        triggers=[{"type": "schedule", "interval_seconds": 60}], actions=[event_action()]
    )
    long_ago = await hub.create(
        triggers=[{"type": "schedule", "cron": "* * * * *"}], actions=[event_action()]
    )
    await hub.client.client.close()
    config_dir = tmp_path / "config"
    move_last_fire(config_dir, recent["id"], 60 * 3 + 30)  # three times missed, 30 s ago
    move_last_fire(config_dir, long_ago["id"], 2 * 3600)  # 120 times, the latest ~now

    again = await start_hub(
        tmp_path, aiohttp_client, workflows=WorkflowsConfig(misfire_grace_seconds=60)
    )
    [run] = await again.finished(recent["id"])
    assert run["trigger"]["coalesced"] == 3
    assert run["status"] == "succeeded"
    assert (await again.view(recent["id"]))["status"]["missed_fires"] == 3
    # Every minute for two hours: the latest missed time is under a minute ago, within the grace.
    [folded] = await again.finished(long_ago["id"])
    assert folded["trigger"]["coalesced"] in (120, 121)
    status = (await again.view(long_ago["id"]))["status"]
    assert status["missed_fires"] == folded["trigger"]["coalesced"]


async def test_a_schedule_missed_beyond_the_grace_is_counted_but_not_run(
    no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start_hub(tmp_path, aiohttp_client)
    made = await hub.create(
        triggers=[{"type": "schedule", "interval_seconds": 3600}], actions=[event_action()]
    )
    await hub.client.client.close()
    move_last_fire(tmp_path / "config", made["id"], 3 * 3600 + 1800)  # latest missed 30 min ago

    again = await start_hub(
        tmp_path, aiohttp_client, workflows=WorkflowsConfig(misfire_grace_seconds=600)
    )
    view = await again.view(made["id"])
    assert view["status"]["missed_fires"] == 3
    assert await again.runs(made["id"]) == []


def test_missed_cron_times_are_counted_in_the_zone_given() -> None:
    # 06:00 UTC is 07:00 in Berlin in winter: a 07:00 Berlin line fired once in that hour.
    trigger = ScheduleTrigger(type="schedule", cron="0 7 * * *")
    last = datetime(2026, 1, 5, 5, 30, tzinfo=UTC).timestamp()
    now = datetime(2026, 1, 5, 6, 30, tzinfo=UTC).timestamp()
    count, latest = triggers.missed(trigger, "Europe/Berlin", last, now)
    assert count == 1
    assert latest == datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
    assert triggers.missed(trigger, "UTC", last, now) == (0, None)


async def deliver(hub: WorkflowHub, entry_id: str, body: dict[str, Any]) -> None:
    entries = hub.app[CONFIG_ENTRIES]
    token = entries.webhook_token(entries.require(entry_id))
    status, answer = await hub.client.post(f"/webhooks/integration/{entry_id}?token={token}", body)
    assert status == 200, answer


async def test_a_webhook_delivery_runs_the_workflow_watching_its_entry(
    no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start_hub(tmp_path, aiohttp_client, also=with_webhook)
    form = await hub.client.start_flow("webhook")
    done = await hub.client.submit(form["flow_id"], {"name": "Garage"})
    entry_id = str(done["entry_id"])
    made = await hub.create(
        triggers=[{"type": "webhook", "entry_id": entry_id, "event_type": "door_opened"}],
        actions=[event_action()],
    )
    any_event = await hub.create(
        triggers=[{"type": "webhook", "entry_id": entry_id}], actions=[event_action()]
    )
    await deliver(hub, entry_id, {"entities": [{"id": "door", "state": "closed"}]})
    opened = {"entities": [], "event": {"type": "door_opened", "data": {"by": "alice"}}}
    await deliver(hub, entry_id, opened)

    [run] = await hub.finished(made["id"])
    trigger = run["trigger"]
    assert (trigger["type"], trigger["entry_id"], trigger["event_type"]) == (
        "webhook",
        entry_id,
        "door_opened",
    )
    assert trigger["body"] == opened
    assert isinstance(trigger["delivery_id"], str)
    status, log = await hub.client.get(f"/api/config-entries/{entry_id}/deliveries")
    assert status == 200, log
    assert trigger["delivery_id"] in {row["id"] for row in log["deliveries"]}
    assert len(await hub.finished(any_event["id"], 2)) == 2


async def test_a_new_inbox_message_runs_the_workflow_once_with_its_triage(
    no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    hub = await start_hub(tmp_path, aiohttp_client, also=write_courier)
    answer = await hub.client.start_flow("courier")
    assert answer["type"] == "create_entry", answer
    entry_id = str(answer["entry_id"])
    made = await hub.create(
        triggers=[{"type": "message", "channel": "courier"}],
        actions=[event_action(subject="{{ trigger.subject }}")],
    )
    other_channel = await hub.create(
        triggers=[{"type": "message", "channel": "email"}], actions=[event_action()]
    )
    channel = _courier_channel(hub)
    channel.deliver("m1", subject="Boiler service", body="Tuesday at 9", sender="Ada")

    [run] = await hub.finished(made["id"])
    trigger = run["trigger"]
    assert (trigger["type"], trigger["entry_id"], trigger["channel"]) == (
        "message",
        entry_id,
        "courier",
    )
    assert (trigger["subject"], trigger["sender"]) == ("Boiler service", "Ada")
    assert trigger["summary"]  # triage ran first
    assert trigger["importance"] in ("low", "normal", "high")
    # Marking it read changes the message, but it is not new: nothing runs again.
    status, _ = await hub.client.post(
        f"/api/inbox/messages/{trigger['entity_id']}/mark", {"read": True}
    )
    assert status == 200
    assert len(await hub.runs(made["id"])) == 1
    assert await hub.runs(other_channel["id"]) == []


def _courier_channel(hub: WorkflowHub) -> Any:
    from hub.api.state import REGISTRY

    loaded = hub.app[REGISTRY].get("courier")
    assert loaded is not None
    return loaded.integration.channel  # type: ignore[attr-defined]


async def test_a_late_cron_job_runs_once_for_every_time_it_missed(no_lingering_tasks: None) -> None:
    scheduler = Scheduler()
    ran = asyncio.Event()
    runs = 0

    async def job() -> None:
        nonlocal runs
        runs += 1
        ran.set()

    with pytest.raises(ValueError, match="five fields"):
        scheduler.add_cron_job("late", job, cron="* * * *")
    scheduler.add_cron_job("late", job, cron="* * * * *")
    scheduler.start()
    try:
        # As a loop blocked for three minutes leaves it: due three minutes ago, and every minute
        # since. APScheduler's own job store is the only way to say so without waiting.
        late = datetime.now(UTC) - timedelta(minutes=3, seconds=1)
        scheduler._aps.modify_job("late", next_run_time=late)
        await asyncio.wait_for(ran.wait(), 10)
        stats = scheduler.stats("late")
        assert runs == 1
        assert stats.missed in (3, 4)
        assert stats.last_scheduled is not None
        assert stats.last_scheduled > late
    finally:
        await scheduler.stop()
