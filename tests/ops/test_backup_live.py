"""A backup of a real ``hub run`` that is busy with webhooks and syncs, restored into a fresh
directory and started: everything a person set up is there, and its secrets still open."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import aiohttp

from tests.fakes.openproject import FakeOpenProject
from tests.ops.backup_support import PASSPHRASE, count, hub_cli
from tests.robustness.support_live_hub import Api, hub_process, served

RATES = {"HUB__HTTP__WEBHOOK_RATE_PER_SECOND": "1000000", "HUB__HTTP__WEBHOOK_BURST": "1000000"}
OWNER = ("owner", "a long passphrase 1")
DASHBOARD = {
    "name": "Kitchen",
    "config": {"views": [{"cards": [{"type": "markdown", "content": "Hi"}]}]},
    "scope": "global",
}


async def _flow(api: Api, domain: str, user_input: dict[str, Any]) -> str:
    form = await api.call("POST", "/api/config-flows", {"domain": domain})
    done = await api.call(
        "POST", f"/api/config-flows/{form['flow_id']}", {"user_input": user_input}
    )
    assert done["type"] == "create_entry", done
    return str(done["entry_id"])


async def _set_up(api: Api, openproject_url: str, key: str) -> tuple[str, str, str]:
    """An owner, a member, a dashboard, a webhook entry and an OpenProject entry (a secret)."""
    await api.onboard(*OWNER)
    await api.call("POST", "/api/people", {"username": "kim", "password": "kims password 1"})
    await api.call("POST", "/api/surfaces", DASHBOARD)
    hook = await _flow(api, "webhook", {"name": "Garage"})
    project = await _flow(api, "openproject", {"base_url": openproject_url, "api_key": key})
    info = await api.call("GET", f"/api/config-entries/{hook}/webhook")
    return hook, project, str(info["path"])


async def _snapshot(api: Api) -> dict[str, Any]:
    """What a person sees of the hub: entries, people, dashboards, entities (by entry and id)."""
    entries = await api.call("GET", "/api/config-entries")
    people = await api.call("GET", "/api/people")
    surfaces = await api.call("GET", "/api/surfaces")
    entities = await api.call("GET", "/api/entities")
    return {
        "entries": {e["entry_id"]: (e["domain"], e["title"]) for e in _items(entries, "entries")},
        "people": sorted(p["username"] for p in _items(people, "people")),
        "surfaces": sorted(s["name"] for s in _items(surfaces, "surfaces")),
        "entities": {
            (e["entry_id"], e["entity_type"], e["external_id"]): e["state"]
            for e in _items(entities, "entities")
        },
        "states": {e["entry_id"]: e["state"] for e in _items(entries, "entries")},
    }


def _items(body: Any, key: str) -> list[dict[str, Any]]:
    return list(body[key] if isinstance(body, dict) else body)


async def test_a_busy_hub_backs_up_and_restores_whole(tmp_path: Path) -> None:
    fake = FakeOpenProject("op-secret-key-1234")
    household = fake.add_project("household", "Household")
    fake.add_work_package(household, "Fix the boiler", assignee_id=1)
    env = {"HUB_BACKUP_PASSPHRASE": PASSPHRASE}
    plain, full = tmp_path / "plain.hubbackup", tmp_path / "full.hubbackup"
    first = tmp_path / "first"
    async with contextlib.AsyncExitStack() as outer:
        op_url = await outer.enter_async_context(served(fake.app()))
        session = await outer.enter_async_context(aiohttp.ClientSession())
        async with hub_process(first, RATES) as hub:
            api = Api(session, hub.url)
            _, project, path = await _set_up(api, op_url, "op-secret-key-1234")
            await api.call("POST", f"/api/config-entries/{project}/sync")
            for n in range(20):
                await api.call("POST", path, {"id": f"door{n}", "state": "open"})
            before = await _snapshot(api)
            assert before["states"][project] == "loaded"
            busy, stop = 0, asyncio.Event()

            async def webhooks() -> None:
                nonlocal busy
                while not stop.is_set():
                    busy += 1
                    await api.call("POST", path, {"id": f"door{busy % 20}", "state": busy})

            async def syncs() -> None:
                while not stop.is_set():
                    await api.call("POST", f"/api/config-entries/{project}/sync")

            load = [asyncio.create_task(webhooks()), asyncio.create_task(syncs())]
            try:
                config = str(hub.config_dir)
                args = ("backup", "create", "--config", config, "--output")
                made = await hub_cli(*args, str(plain), env=env)
                assert made.code == 0, made
                assert f"Backup written: {plain}" in made.out
                assert "without history" in made.out
                made = await hub_cli(*args, str(full), "--include-history", env=env)
                assert made.code == 0, made
            finally:
                stop.set()
                await asyncio.gather(*load)
            assert busy > 1  # webhooks were answered while the backups were made

        for archive, name in ((plain, "second"), (full, "third")):
            target = tmp_path / name / "config"
            done = await hub_cli(
                "backup", "restore", str(archive), "--config", str(target), env=env
            )
            assert done.code == 0, done
            assert "Restored the backup" in done.out
        assert count(first / "config" / "hub.db", "history") > 0
        assert count(tmp_path / "second" / "config" / "hub.db", "history") == 0
        assert count(tmp_path / "second" / "config" / "hub.db", "event_log") == 0
        assert count(tmp_path / "third" / "config" / "hub.db", "history") > 0

        async with hub_process(tmp_path / "second") as hub:
            api = Api(session, hub.url)
            login = {"username": OWNER[0], "password": OWNER[1]}
            api.token = (await api.call("POST", "/api/auth/login", login))["access_token"]
            after = await _snapshot(api)
            assert after["entries"] == before["entries"]
            assert after["people"] == before["people"] == ["kim", "owner"]
            assert after["surfaces"] == before["surfaces"] == ["Kitchen"]
            assert set(before["entities"]) <= set(after["entities"])
            # The entry set up and syncs: its API key decrypted with the restored master key,
            # and the fake answers only that key.
            assert after["states"][project] == "loaded", after["states"]
            synced = await api.call("POST", f"/api/config-entries/{project}/sync")
            assert "error" not in synced["sync"], synced
