"""Removing a person removes what is theirs, or hands their entries to an admin."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from hub.agent.conversations import Conversations
from hub.api.state import CONFIG_ENTRIES, DATABASE, KEYRING, PREFERENCES, SURFACES
from hub.core.errors import CryptoError
from tests.api.conftest import Hub, StartHub

DASHBOARD = {"name": "Bob's desk", "config": {"views": [{"title": "Home", "cards": []}]}}


class Member:
    """A person who is not an admin, signed in on the hub's test client."""

    def __init__(self, hub: Hub, token: str, person_id: str) -> None:
        self.hub = hub
        self.headers = {"Authorization": f"Bearer {token}"}
        self.person_id = person_id

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        resp = await self.hub.client.request(method, path, json=body, headers=self.headers)
        return resp.status, await resp.json()

    async def vault(self, name: str) -> str:
        """A vault entry of their own, with a secret; its id."""
        _, form = await self.call("POST", "/api/config-flows", {"domain": "vault"})
        user_input = {"name": name, "token": f"{name}-secret-token"}
        status, done = await self.call(
            "POST", f"/api/config-flows/{form['flow_id']}", {"user_input": user_input}
        )
        assert (status, done["type"]) == (200, "create_entry"), done
        return str(done["entry_id"])


async def member(hub: Hub, username: str) -> Member:
    body = {"username": username, "password": f"{username}-password-1"}
    status, person = await hub.post("/api/people", body)
    assert status == 200, person
    resp = await hub.client.post("/api/auth/login", json=body, headers={"Authorization": ""})
    tokens = await resp.json()
    assert resp.status == 200, tokens
    return Member(hub, tokens["access_token"], person["id"])


async def people(hub: Hub) -> dict[str, dict[str, Any]]:
    _, body = await hub.get("/api/people")
    return {p["username"]: p for p in body["people"]}


async def chats_of(hub: Hub, person_id: str) -> int:
    rows = await hub.app[DATABASE].conn.execute_fetchall(
        "SELECT count(*) FROM conversations WHERE person_id = ?", (person_id,)
    )
    return int(next(iter(rows))[0])


async def test_removing_a_person_removes_their_entries_secrets_dashboards_chats_and_choices(
    start_hub: StartHub,
) -> None:
    hub = await start_hub()
    bob = await member(hub, "bob")
    entry_id = await bob.vault("bobs-vault")
    sealed = dict(hub.app[CONFIG_ENTRIES].require(entry_id).secrets)
    assert (await bob.call("POST", "/api/surfaces", DASHBOARD))[0] == 200
    await Conversations(hub.app[DATABASE]).create(bob.person_id, title="bob's chat")
    preferences = hub.app[PREFERENCES]
    await preferences.load()
    await preferences.update(bob.person_id, allow_local_fetch=False)

    assert await chats_of(hub, bob.person_id) == 1
    assert [s for s in hub.app[SURFACES].visible(bob.person_id) if s.owner == bob.person_id]
    preferences_file = hub.config_dir / ".storage" / "core.agent_preferences"
    assert bob.person_id in preferences_file.read_text()
    assert (await people(hub))["bob"]["entries"] == 1, "the admin sees how many, not which"
    resp = await hub.client.delete(f"/api/people/{bob.person_id}")
    body = await resp.json()
    assert (resp.status, body["error"]["code"]) == (400, "person_has_entries")
    assert "1 config entries" in body["error"]["message"]
    assert hub.app[CONFIG_ENTRIES].get(entry_id) is not None, "nothing removed yet"

    resp = await hub.client.delete(f"/api/people/{bob.person_id}?entries=delete")
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["entries_removed"] == 1

    assert "bob" not in await people(hub)
    assert (await bob.call("GET", "/api/auth/current_user"))[0] == 401
    assert hub.app[CONFIG_ENTRIES].get(entry_id) is None
    assert entry_id in sys.modules["_hub_integrations.vault"].UNLOADS, "it was unloaded"
    _, listed = await hub.get("/api/config-entries")
    assert entry_id not in {e["entry_id"] for e in listed["entries"]}
    with pytest.raises(CryptoError):
        hub.app[KEYRING].decrypt(entry_id, "token", sealed["token"])
    assert not [s for s in hub.app[SURFACES].visible(bob.person_id) if s.owner is not None]
    assert await chats_of(hub, bob.person_id) == 0
    assert bob.person_id not in preferences_file.read_text()


async def test_a_removed_persons_entries_can_go_to_an_admin(start_hub: StartHub) -> None:
    hub = await start_hub()
    carol = await member(hub, "carol")
    dave = await member(hub, "dave")
    entry_id = await carol.vault("carols-vault")
    everyone = await people(hub)

    refused = await hub.client.delete(f"/api/people/{carol.person_id}?transfer_to={dave.person_id}")
    assert refused.status == 400, "only to an admin"
    owner_id = everyone["owner"]["id"]
    resp = await hub.client.delete(f"/api/people/{carol.person_id}?transfer_to={owner_id}")
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["entries_transferred"] == 1

    _, listed = await hub.get("/api/config-entries")
    mine = {e["entry_id"]: e for e in listed["entries"]}
    assert mine[entry_id]["owner"] == owner_id
    assert mine[entry_id]["state"] == "loaded", "set up again for its new owner"
    _, seen_by_dave = await dave.call("GET", "/api/config-entries")
    assert entry_id not in {e["entry_id"] for e in seen_by_dave["entries"]}
    assert (await hub.post(f"/api/config-entries/{entry_id}/disable"))[0] == 200
    resp = await hub.client.delete(f"/api/config-entries/{entry_id}")
    assert resp.status == 200, "the admin manages it now"


async def test_a_person_without_entries_is_removed_without_a_choice(start_hub: StartHub) -> None:
    hub = await start_hub()
    erin = await member(hub, "erin")
    resp = await hub.client.delete(f"/api/people/{erin.person_id}")
    assert resp.status == 200
    assert (await resp.json())["entries_removed"] == 0
    assert "erin" not in await people(hub)
