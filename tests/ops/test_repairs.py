"""Repairs raised and cleared by the real conditions, seen by the right people, live and over REST."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

import hub.core.storage as storage_module
from hub.api.backups import BACKUPS
from hub.api.repairs import REPAIRS
from hub.api.state import CONFIG_ENTRIES
from hub.app import create_app
from hub.config import BackupsConfig, HubConfig, IntegrationsConfig
from hub.integrations.translations import HUB_TRANSLATIONS
from tests.api.conftest import Hub, StartHub
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.comms.conftest import StartCommsHub
from tests.hub_client import HubClient
from tests.integrations.helpers import make_integration
from tests.integrations.mcp.support import add_http, fake_mcp, run, switch
from tests.integrations.searxng.support import StartSearchHub
from tests.ops.conftest import bearer, next_repair_event, repair_socket, repairs, until
from tests.robustness.test_disk_faults import FULL, OsFaults

WORDS = {lang: json.loads((HUB_TRANSLATIONS / f"{lang}.json").read_text()) for lang in ("en", "de")}


def owner_token(hub: HubClient) -> str:
    return bearer(dict(hub.client.session.headers))


async def vault(hub: Hub, name: str, headers: dict[str, str] | None = None, **extra: str) -> str:
    status, form = await hub.post("/api/config-flows", {"domain": "vault"}, headers=headers or {})
    assert status == 200, form
    done = await hub.submit(form["flow_id"], {"name": name, **extra}, headers=headers or {})
    assert done["type"] == "create_entry", done
    return str(done["entry_id"])


def test_every_repair_has_a_title_and_text_in_english_and_german() -> None:
    keys = set(WORDS["en"]["repairs"])
    assert keys >= {
        "reauth_required",
        "integration_missing",
        "requirement_missing",
        "listener_failing",
        "tools_changed",
        "disk_full",
        "disk_read_only",
        "backup_failed",
    }
    for lang in ("en", "de"):
        assert set(WORDS[lang]["repairs"]) == keys
        for key in keys:
            assert set(WORDS[lang]["repairs"][key]) == {"title", "text"}, (lang, key)


async def test_credentials_that_stop_working_raise_a_reauth_repair_that_the_reauth_clears(
    start_hub: StartHub,
) -> None:
    hub = await start_hub()
    ws = await repair_socket(hub, owner_token(hub))
    entry_id = await vault(hub, "home", token="expired-token")

    raised = await next_repair_event(ws)
    assert raised["event_type"] == "repair.raised"
    repair = raised["data"]["repair"]
    assert repair["id"] == f"reauth_required.{entry_id}"
    assert (repair["key"], repair["severity"], repair["entry_id"]) == (
        "reauth_required",
        "error",
        entry_id,
    )
    assert repair["fix"] == {"kind": "reauth", "entry_id": entry_id}
    assert repair["params"] == {"title": "home", "domain": "vault"}
    assert repair["dismissable"] is False
    assert "expired-token" not in json.dumps(raised)
    listed = (await repairs(hub))[repair["id"]]
    assert listed["title"] == "home needs new credentials"
    assert listed["text"].startswith("home (vault) no longer accepts its stored credentials")
    status, german = await hub.get("/api/repairs", params={"language": "de"})
    assert status == 200, german
    assert german["repairs"][0]["title"] == "home braucht neue Zugangsdaten"
    bob = await hub.another_person("bob", "bob-password-1")
    assert list(await repairs(hub, bob)) == [repair["id"]], "a household entry's: everyone's"
    status, body = await hub.post(f"/api/repairs/{repair['id']}/dismiss", headers=bob)
    assert (status, body["error"]["code"]) == (403, "forbidden"), "but the admins' to dismiss"

    # The fix: the reauth flow the repair points to.
    status, form = await hub.post(f"/api/config-entries/{entry_id}/reauth", {})
    assert status == 200, form
    done = await hub.submit(form["flow_id"], {"name": "home", "token": "fresh-token-1"})
    assert done["type"] == "create_entry", done
    cleared = await next_repair_event(ws)
    assert cleared["event_type"] == "repair.cleared"
    assert cleared["data"]["id"] == repair["id"]
    assert await repairs(hub) == {}
    await ws.close()


async def test_a_persons_own_entry_repair_reaches_them_and_not_the_admin(
    start_hub: StartHub,
) -> None:
    hub = await start_hub()
    bob = await hub.another_person("bob", "bob-password-1")
    owner_ws = await repair_socket(hub, owner_token(hub))
    bob_ws = await repair_socket(hub, bearer(bob))

    entry_id = await vault(hub, "bobs", headers=bob, token="expired-token")
    raised = await next_repair_event(bob_ws)
    assert raised["data"]["repair"]["id"] == f"reauth_required.{entry_id}"
    assert list(await repairs(hub, bob)) == [f"reauth_required.{entry_id}"]
    assert await repairs(hub) == {}, "a person's own entry is theirs alone, admins included"

    # The owner's socket gets nothing of it: the next event it sees is a hub-wide one of its own.
    hub.app[REPAIRS].raise_("backup_failed", issue_id="probe", severity="error")
    seen = await next_repair_event(owner_ws)
    assert seen["data"]["repair"]["id"] == "probe"
    assert list(await repairs(hub, bob)) == [f"reauth_required.{entry_id}"], "not the admins'"
    await owner_ws.close()
    await bob_ws.close()


async def test_a_removed_integration_folder_is_a_repair_after_restart_until_it_is_back(
    start_hub: StartHub, tmp_path: Path
) -> None:
    hub = await start_hub()
    await vault(hub, "home")
    await vault(hub, "cellar")
    await hub.client.close()
    folder = tmp_path / "integrations" / "vault"
    aside = tmp_path / "vault-aside"
    shutil.move(folder, aside)

    hub = await start_hub()
    shown = await repairs(hub)
    repair = shown["integration_missing.vault"]
    assert repair["params"] == {"domain": "vault", "count": 2}
    assert "entry_id" not in repair, "a hub-wide repair"
    bob = await hub.another_person("bob", "bob-password-1")
    assert await repairs(hub, bob) == {}, "hub-wide repairs are the admins'"
    await hub.client.close()

    shutil.move(aside, folder)
    hub = await start_hub()
    assert "integration_missing.vault" not in await repairs(hub)


async def test_removing_the_stranded_entries_clears_the_missing_folder_repair(
    start_hub: StartHub, tmp_path: Path
) -> None:
    hub = await start_hub()
    entry_id = await vault(hub, "home")
    await hub.client.close()
    shutil.rmtree(tmp_path / "integrations" / "vault")

    hub = await start_hub()
    assert "integration_missing.vault" in await repairs(hub)
    resp = await hub.client.delete(f"/api/config-entries/{entry_id}")
    assert resp.status == 200
    await until(lambda: _gone(hub, "integration_missing.vault"))


async def _gone(hub: HubClient, issue_id: str) -> bool:
    return issue_id not in await repairs(hub)


MISSING_REQUIREMENT = """
from typing import Any

from hub.integrations.integration import Integration, SetupContext


class Needy(Integration):
    async def async_setup_entry(self, ctx: SetupContext) -> list[Any]:
        import hub_test_package_that_is_not_installed  # noqa: F401

        return []


INTEGRATION = Needy()
"""


async def test_an_entry_whose_requirement_is_not_installed_raises_a_repair(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    bundled = tmp_path / "integrations"
    make_integration(
        bundled,
        "needy",
        init=MISSING_REQUIREMENT,
        requirements=["hub-test-package-that-is-not-installed>=1.0"],
    )
    config = HubConfig(integrations=IntegrationsConfig(bundled_dir=bundled))
    app = create_app(tmp_path / "config", config, env={})
    client = await aiohttp_client(app)
    await sign_in(client, OWNER, OWNER_PASSWORD)
    hub = HubClient(client, app)
    answer = await hub.start_flow("needy")
    assert answer["type"] == "create_entry", answer
    entry_id = answer["entry_id"]
    assert app[CONFIG_ENTRIES].require(entry_id).state == "setup_error"

    shown = await until(lambda: repairs(hub))
    repair = shown[f"requirement_missing.{entry_id}"]
    assert repair["params"]["requirement"] == "hub-test-package-that-is-not-installed>=1.0"
    assert repair["fix"] == {"kind": "link", "href": f"#/entries/{entry_id}"}

    resp = await client.delete(f"/api/config-entries/{entry_id}")
    assert resp.status == 200
    await until(lambda: _gone(hub, f"requirement_missing.{entry_id}"))


async def test_a_listener_that_keeps_failing_raises_a_repair_that_stopping_it_clears(
    start_comms_hub: StartCommsHub,
) -> None:
    hub = await start_comms_hub(listener_backoff_seconds=0.01, listener_backoff_max_seconds=0.02)
    entry_id = await hub.add_courier()
    issue_id = f"listener_failing.{entry_id}"
    hub.channel.mode = "crash"
    hub.channel.arrived.set()

    shown = await until(lambda: _has(hub.client, issue_id))
    assert shown["severity"] == "warning"
    assert shown["params"]["failures"] >= 5
    assert shown["params"]["title"]

    status, body = await hub.client.post(f"/api/config-entries/{entry_id}/disable")
    assert status == 200, body
    await until(lambda: _gone(hub.client, issue_id))


async def _has(hub: HubClient, issue_id: str) -> dict[str, Any] | None:
    return (await repairs(hub)).get(issue_id)


async def test_a_full_disk_raises_a_repair_until_writes_reach_it_again(
    start_hub: StartHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = OsFaults(tmp_path)
    monkeypatch.setattr(storage_module, "os", faults)
    hub = await start_hub()
    entry_id = await vault(hub, "home")
    ws = await repair_socket(hub, owner_token(hub))

    faults.fault = FULL
    resp = await hub.client.patch(f"/api/config-entries/{entry_id}", json={"title": "x"})
    assert (resp.status, (await resp.json())["error"]["code"]) == (507, "storage_full")
    raised = await next_repair_event(ws)
    assert raised["event_type"] == "repair.raised"
    assert raised["data"]["repair"]["id"] == "disk_full"
    assert raised["data"]["repair"]["params"] == {"where": str(hub.config_dir)}

    faults.fault = None
    resp = await hub.client.patch(f"/api/config-entries/{entry_id}", json={"title": "y"})
    assert resp.status == 200
    cleared = await next_repair_event(ws)
    assert (cleared["event_type"], cleared["data"]["id"]) == ("repair.cleared", "disk_full")
    assert "disk_full" not in await repairs(hub)
    await ws.close()


async def test_a_dismissed_repair_stays_dismissed_across_a_restart_until_it_clears(
    start_hub: StartHub,
) -> None:
    hub = await start_hub()
    registry = hub.app[REPAIRS]
    registry.raise_(
        "backup_failed",
        issue_id="backup_failed",
        severity="warning",
        params={"reason": "the disk is full"},
        dismissable=True,
        fix={"kind": "link", "href": "#/settings"},
    )
    registry.raise_("backup_failed", issue_id="stuck", severity="error")
    shown = await repairs(hub)
    assert shown["backup_failed"]["params"] == {"reason": "the disk is full"}

    status, body = await hub.post("/api/repairs/stuck/dismiss")
    assert (status, body["error"]["code"]) == (400, "repair_not_dismissable")
    status, body = await hub.post("/api/repairs/nope/dismiss")
    assert (status, body["error"]["code"]) == (404, "repair_not_found")
    bob = await hub.another_person("bob", "bob-password-1")
    status, body = await hub.post("/api/repairs/backup_failed/dismiss", headers=bob)
    assert (status, body["error"]["code"]) == (404, "repair_not_found"), "not bob's to see"

    status, body = await hub.post("/api/repairs/backup_failed/dismiss")
    assert status == 200, body
    assert [r["id"] for r in body["repairs"]] == ["stuck"]
    await hub.client.close()

    hub = await start_hub()
    assert list(await repairs(hub)) == ["stuck"], "kept, and still dismissed"
    registry = hub.app[REPAIRS]
    registry.clear("backup_failed")
    registry.raise_("backup_failed", issue_id="backup_failed", severity="warning", dismissable=True)
    assert "backup_failed" in await repairs(hub), "the same issue coming back is shown again"


async def test_an_mcp_server_whose_tools_changed_raises_a_repair_that_the_review_clears(
    start_search_hub: StartSearchHub,
) -> None:
    hub = await start_search_hub()
    async with fake_mcp() as url:
        done = await add_http(hub, url=url, prefix="fake")
        entry_id = done["entry_id"]
        issue_id = f"tools_changed.{entry_id}"
        await run(hub)
        assert issue_id not in await repairs(hub)

        await switch(url, "rug")
        await run(hub)
        shown = await until(lambda: _has(hub, issue_id))
        assert shown["params"]["count"] == 2
        assert shown["fix"] == {"kind": "link", "href": f"#/entries/{entry_id}"}

        status, after = await hub.post(
            f"/api/config-entries/{entry_id}/tool-review", {"accept": ["add", "exfiltrate"]}
        )
        assert status == 200, after
        assert after["changes"] == []
        await until(lambda: _gone(hub, issue_id))


async def test_a_failing_scheduled_backup_raises_a_repair_the_next_good_one_clears(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    blocked = tmp_path / "backups-here"
    blocked.write_text("a file where the backup directory should be")
    config = HubConfig(
        integrations=IntegrationsConfig(bundled_dir=tmp_path / "integrations"),
        backups=BackupsConfig(directory=blocked, schedule_hours=0),
    )
    env = {"HUB_BACKUP_PASSPHRASE": "a long backup passphrase"}
    app = create_app(tmp_path / "config", config, env=env)
    client = await aiohttp_client(app)
    await sign_in(client, OWNER, OWNER_PASSWORD)
    hub = HubClient(client, app)

    with pytest.raises(FileExistsError):  # the directory is a file
        await app[BACKUPS].run_scheduled()
    repair = (await repairs(hub))["backup_failed"]
    assert (repair["key"], repair["severity"]) == ("backup_failed", "error")
    assert repair["params"]["reason"]

    blocked.unlink()
    await app[BACKUPS].run_scheduled()
    assert "backup_failed" not in await repairs(hub)
