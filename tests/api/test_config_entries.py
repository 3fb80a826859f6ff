"""Config entries: their lifecycle on a real hub, and their HTTP surface."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import pytest

from hub.api.state import BUS, CONFIG_ENTRIES, KEYRING
from hub.core.errors import CryptoError
from tests.api.conftest import Hub, StartHub


def vault_module() -> Any:
    return sys.modules["_hub_integrations.vault"]


async def create_vault(hub: Hub, name: str, **extra: str) -> str:
    flow = await hub.start("vault")
    done = await hub.submit(flow["flow_id"], {"name": name, **extra})
    assert done["type"] == "create_entry", done
    return str(done["entry_id"])


async def entry(hub: Hub, entry_id: str) -> dict[str, Any]:
    status, body = await hub.get(f"/api/config-entries/{entry_id}")
    assert status == 200, body
    return dict(body)


async def test_one_failing_setup_never_stops_another(start_hub: StartHub) -> None:
    hub = await start_hub()
    good = await create_vault(hub, "good")
    broken = await create_vault(hub, "broken", token="tok-broken-123")
    assert (await entry(hub, good))["state"] == "loaded"
    failed = await entry(hub, broken)
    assert failed["state"] == "setup_error"
    assert failed["reason"] == "setup raised RuntimeError"
    assert "tok-broken-123" not in json.dumps(failed)


async def test_entries_are_set_up_again_at_boot(start_hub: StartHub) -> None:
    hub = await start_hub()
    first = await create_vault(hub, "first")
    await hub.client.close()
    assert first in vault_module().UNLOADS, "shutdown unloads every entry"

    hub = await start_hub()
    assert (await entry(hub, first))["state"] == "loaded"
    assert [first] == vault_module().SETUPS


async def test_disable_enable_and_delete(start_hub: StartHub) -> None:
    hub = await start_hub()
    entry_id = await create_vault(hub, "home", token="tok-delete-me")
    status, disabled = await hub.post(f"/api/config-entries/{entry_id}/disable")
    assert status == 200
    assert (disabled["disabled"], disabled["state"]) == (True, "not_loaded")
    assert [entry_id] == vault_module().UNLOADS
    await hub.client.close()

    hub = await start_hub()
    assert (await entry(hub, entry_id))["state"] == "not_loaded", "disabled survives a restart"
    assert vault_module().SETUPS == []
    status, enabled = await hub.post(f"/api/config-entries/{entry_id}/enable")
    assert (enabled["disabled"], enabled["state"]) == (False, "loaded")

    token = hub.app[CONFIG_ENTRIES].require(entry_id).secrets["token"]
    resp = await hub.client.delete(f"/api/config-entries/{entry_id}")
    assert resp.status == 200
    status, body = await hub.get(f"/api/config-entries/{entry_id}")
    assert (status, body["error"]["code"]) == (404, "entry_not_found")
    with pytest.raises(CryptoError) as info:  # a deleted entry's secrets are unreadable for good
        hub.app[KEYRING].decrypt(entry_id, "token", token)
    assert info.value.code == "secret_undecryptable"


async def test_a_setup_that_is_not_ready_is_retried_with_back_off(start_hub: StartHub) -> None:
    hub = await start_hub()
    entry_id = await create_vault(hub, "flaky")
    body = await entry(hub, entry_id)
    assert body["state"] == "setup_retry"
    assert body["reason"] == "vault is starting; retrying in 5 s"


async def test_an_auth_failure_asks_for_reauth_and_a_reauth_flow_fixes_it(
    start_hub: StartHub,
) -> None:
    hub = await start_hub()
    entry_id = await create_vault(hub, "home", token="expired-token")
    body = await entry(hub, entry_id)
    assert (body["state"], body["reason"]) == (
        "reauth_required",
        "credentials refused: the vault refused the token",
    )

    status, form = await hub.post(f"/api/config-entries/{entry_id}/reauth", {})
    assert status == 200
    assert form["type"] == "form"
    done = await hub.submit(form["flow_id"], {"name": "home", "token": "fresh-token-1"})
    assert (done["type"], done["entry_id"]) == ("create_entry", entry_id)
    assert (await entry(hub, entry_id))["state"] == "loaded"
    manager = hub.app[CONFIG_ENTRIES]
    assert manager.secrets_of(manager.require(entry_id))["token"] == "fresh-token-1"


async def test_an_older_entry_is_migrated_and_a_failed_migration_changes_nothing(
    start_hub: StartHub,
) -> None:
    hub = await start_hub()
    ok = await create_vault(hub, "home")
    stuck = await create_vault(hub, "unmigratable")
    await hub.client.close()
    manifest = hub.config_dir.parent / "integrations" / "vault" / "manifest.yaml"
    manifest.write_text(
        manifest.read_text().replace("config_schema_version: 1", "config_schema_version: 2")
    )
    stored_before = next(
        e
        for e in json.loads((hub.config_dir / ".storage" / "core.config_entries").read_text())[
            "data"
        ]["entries"]
        if e["entry_id"] == stuck
    )

    hub = await start_hub()
    migrated = await entry(hub, ok)
    assert (migrated["version"], migrated["state"]) == (2, "loaded")
    assert migrated["data"]["migrated_from"] == 1
    failed = await entry(hub, stuck)
    assert failed["state"] == "migration_error"
    assert failed["version"] == 1
    assert failed["data"] == stored_before["data"]


async def test_listing_never_shows_a_secret(start_hub: StartHub) -> None:
    hub = await start_hub()
    await create_vault(hub, "one", token="tok-list-secret", pin="pin-list-secret")
    status, body = await hub.get("/api/config-entries")
    assert status == 200
    assert [e["title"] for e in body["entries"]] == ["one"]
    text = json.dumps(body)
    assert "tok-list-secret" not in text
    assert "pin-list-secret" not in text
    assert "webhook_token" not in text
    assert body["entries"][0]["secret_fields"] == ["pin", "token"]


async def test_an_entry_is_renamed_trimmed_and_checked(start_hub: StartHub) -> None:
    hub = await start_hub()
    entry_id = await create_vault(hub, "home")
    path = f"/api/config-entries/{entry_id}"
    updates = hub.app[BUS].subscribe("config_entry.updated")
    resp = await hub.client.patch(path, json={"title": "  Living room  "})
    renamed = await resp.json()
    assert resp.status == 200, renamed
    assert (renamed["title"], renamed["state"]) == ("Living room", "loaded")
    assert (await entry(hub, entry_id))["title"] == "Living room"
    assert entry_id not in vault_module().UNLOADS, "a new title needs no reload"
    event = await asyncio.wait_for(updates.get(), 5)  # what other tabs are told
    updates.close()
    assert (event.data["entry_id"], event.data["title"]) == (entry_id, "Living room")

    for body, key, language, text in [
        ({"title": "   "}, "errors.entry_title_empty", "en", "The title must not be empty."),
        ({"title": "x" * 101}, "errors.entry_title_too_long", "de", "höchstens 100 Zeichen"),
    ]:
        resp = await hub.client.patch(path, json=body, headers={"Accept-Language": language})
        error = (await resp.json())["error"]
        assert (resp.status, error["code"], error["key"]) == (400, "bad_request", key)
        assert text in error["message"]
    resp = await hub.client.patch(path, json={"title": 7})
    assert resp.status == 400
    resp = await hub.client.patch(path, json={"title": "x", "domain": "other"})
    assert resp.status == 400
    assert (await entry(hub, entry_id))["title"] == "Living room"


async def test_can_manage_says_what_the_caller_may_change(start_hub: StartHub) -> None:
    hub = await start_hub()
    household = await create_vault(hub, "household")
    member = await hub.another_person("member", "member-password-1")
    status, flow = await hub.post("/api/config-flows", {"domain": "vault"}, headers=member)
    assert status == 200, flow
    own = await hub.submit(flow["flow_id"], {"name": "mine"}, headers=member)
    assert own["type"] == "create_entry", own

    status, listed = await hub.get("/api/config-entries", headers=member)
    assert status == 200, listed
    may = {e["entry_id"]: e["can_manage"] for e in listed["entries"]}
    assert may == {household: False, own["entry_id"]: True}
    _, as_owner = await hub.get("/api/config-entries")
    assert {e["entry_id"]: e["can_manage"] for e in as_owner["entries"]} == {household: True}
    # The same rule as the routes: the member may rename their own entry, not the household's.
    resp = await hub.client.patch(
        f"/api/config-entries/{household}", json={"title": "taken over"}, headers=member
    )
    assert resp.status == 403
    resp = await hub.client.patch(
        f"/api/config-entries/{own['entry_id']}", json={"title": "my vault"}, headers=member
    )
    assert resp.status == 200
