"""People and access over HTTP: onboarding, login, throttling, tokens, people, and who sees what."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from hub.api.state import AUTH
from hub.app import create_app
from hub.config import HubConfig, IntegrationsConfig
from tests.api.conftest import Hub, StartHub
from tests.integrations.helpers import make_integration

Client = TestClient[web.Request, web.Application]


async def call(
    client: Client, method: str, path: str, token: str | None, body: Any = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    client.session.headers.pop("Authorization", None)
    resp = await client.request(method, path, json=body, headers=headers)
    return resp.status, await resp.json()


async def login(client: Client, username: str, password: str) -> dict[str, Any]:
    status, body = await call(
        client, "POST", "/api/auth/login", None, {"username": username, "password": password}
    )
    assert status == 200, body
    return dict(body)


@pytest.fixture
async def fresh(tmp_path: Path, aiohttp_client: AiohttpClient) -> Client:
    make_integration(tmp_path / "integrations", "lamp", single_instance=False)
    config = HubConfig(integrations=IntegrationsConfig(bundled_dir=tmp_path / "integrations"))
    return await aiohttp_client(create_app(tmp_path / "config", config, env={}))


async def test_onboarding_creates_one_owner_even_when_two_race(fresh: Client) -> None:
    assert (await call(fresh, "GET", "/api/onboarding", None))[1] == {"open": True}
    first, second = await asyncio.gather(
        call(
            fresh,
            "POST",
            "/api/onboarding",
            None,
            {"username": "ann", "password": "ann-password-1"},
        ),
        call(
            fresh,
            "POST",
            "/api/onboarding",
            None,
            {"username": "bob", "password": "bob-password-1"},
        ),
    )
    statuses = sorted([first[0], second[0]])
    assert statuses == [200, 403]
    closed = first if first[0] == 403 else second
    assert closed[1]["error"]["code"] == "onboarding_closed"
    owner = first[1] if first[0] == 200 else second[1]
    assert owner["token_type"] == "Bearer"
    status, me = await call(fresh, "GET", "/api/auth/current_user", owner["access_token"])
    assert (status, me["is_admin"]) == (200, True)
    assert (await call(fresh, "GET", "/api/onboarding", None))[1] == {"open": False}


async def test_nothing_but_health_onboarding_and_login_answers_without_a_token(
    fresh: Client,
) -> None:
    assert (await call(fresh, "GET", "/api/health", None))[0] == 200
    for method, path in (
        ("GET", "/api/config-entries"),
        ("GET", "/api/entities"),
        ("GET", "/api/integrations"),
        ("POST", "/api/config-flows"),
        ("GET", "/api/people"),
        ("GET", "/api/jobs"),
    ):
        status, body = await call(fresh, method, path, None)
        assert (status, body["error"]["code"]) == (401, "unauthorized"), path
    status, _ = await call(fresh, "GET", "/api/entities", "hat1.forged.9999999999.signature")
    assert status == 401


async def test_refresh_logout_and_long_lived_tokens(fresh: Client) -> None:
    _, owner = await call(
        fresh, "POST", "/api/onboarding", None, {"username": "ann", "password": "ann-password-1"}
    )
    status, renewed = await call(
        fresh, "POST", "/api/auth/refresh", None, {"refresh_token": owner["refresh_token"]}
    )
    assert status == 200
    assert renewed["refresh_token"] != owner["refresh_token"], "refresh tokens rotate"
    access = renewed["access_token"]
    assert (await call(fresh, "GET", "/api/entities", access))[0] == 200

    status, created = await call(
        fresh, "POST", "/api/auth/tokens", access, {"name": "backup script"}
    )
    script_token = created["token"]
    assert (await call(fresh, "GET", "/api/entities", script_token))[0] == 200
    _, listed = await call(fresh, "GET", "/api/auth/tokens", access)
    assert {t["name"] for t in listed["tokens"]} == {"sign-in from onboarding", "backup script"}
    assert script_token not in str(listed)
    await call(fresh, "DELETE", f"/api/auth/tokens/{created['id']}", access)
    assert (await call(fresh, "GET", "/api/entities", script_token))[0] == 401

    assert (await call(fresh, "POST", "/api/auth/logout", access))[0] == 200
    assert (await call(fresh, "GET", "/api/entities", access))[0] == 401, "logout ends the access"
    status, body = await call(
        fresh, "POST", "/api/auth/refresh", None, {"refresh_token": renewed["refresh_token"]}
    )
    assert (status, body["error"]["code"]) == (401, "invalid_credentials")


async def test_people_are_managed_by_admins(fresh: Client) -> None:
    _, owner = await call(
        fresh, "POST", "/api/onboarding", None, {"username": "ann", "password": "ann-password-1"}
    )
    admin = owner["access_token"]
    status, bob = await call(
        fresh, "POST", "/api/people", admin, {"username": "bob", "password": "bob-password-1"}
    )
    assert (status, bob["is_admin"]) == (200, False)
    bob_token = (await login(fresh, "bob", "bob-password-1"))["access_token"]
    assert (await call(fresh, "GET", "/api/people", bob_token))[0] == 403
    status, renamed = await call(
        fresh, "PATCH", f"/api/people/{bob['id']}", bob_token, {"display_name": "Bob B."}
    )
    assert (status, renamed["display_name"]) == (200, "Bob B.")
    status, body = await call(
        fresh, "PATCH", f"/api/people/{bob['id']}", bob_token, {"is_admin": True}
    )
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = await call(
        fresh, "POST", "/api/people", admin, {"username": "bob", "password": "x" * 9}
    )
    assert (status, "taken" in body["error"]["message"]) == (400, True)
    status, body = await call(
        fresh, "POST", "/api/people", admin, {"username": "cy", "password": "short"}
    )
    assert status == 400
    assert (await call(fresh, "DELETE", f"/api/people/{bob['id']}", admin))[0] == 200
    assert (await call(fresh, "GET", "/api/entities", bob_token))[0] == 401
    me = (await call(fresh, "GET", "/api/auth/current_user", admin))[1]
    status, body = await call(fresh, "DELETE", f"/api/people/{me['id']}", admin)
    assert (status, body["error"]["code"]) == (400, "last_admin")
    assert body["error"]["message"] == (
        "The hub needs at least one admin, so the last admin cannot be removed."
    )


async def test_login_hash_is_memory_hard_and_never_stored_plain(
    fresh: Client, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "a-long-owner-password-77"
    await call(fresh, "POST", "/api/onboarding", None, {"username": "ann", "password": password})
    await fresh.close()
    stored = (tmp_path / "config" / ".storage" / "auth").read_text()
    assert "$argon2id$" in stored or "$scrypt$" in stored
    assert password not in stored
    assert password not in caplog.text


async def test_a_person_sees_only_global_entries_and_their_own(start_hub: StartHub) -> None:
    hub: Hub = await start_hub()
    admin = hub.client.session.headers["Authorization"].removeprefix("Bearer ")
    auth = hub.app[AUTH]
    for name in ("alice", "bert"):
        await auth.create_person(name, f"{name}-password-1")
    alice = (await login(hub.client, "alice", "alice-password-1"))["access_token"]
    bert = (await login(hub.client, "bert", "bert-password-1"))["access_token"]

    status, body = await call(
        hub.client, "POST", "/api/config-flows", alice, {"domain": "lamp", "scope": "global"}
    )
    assert (status, body["error"]["code"]) == (403, "forbidden"), "only admins add global entries"
    _, own = await call(hub.client, "POST", "/api/config-flows", alice, {"domain": "lamp"})
    assert own["type"] == "create_entry"
    alice_entry = own["entry_id"]
    _, glob = await call(
        hub.client, "POST", "/api/config-flows", admin, {"domain": "station", "scope": "global"}
    )
    assert glob["type"] in ("form", "create_entry")

    def ids(body: Any) -> set[str]:
        return {e["entry_id"] for e in body["entries"]}

    assert alice_entry in ids((await call(hub.client, "GET", "/api/config-entries", alice))[1])
    assert alice_entry not in ids((await call(hub.client, "GET", "/api/config-entries", bert))[1])
    assert alice_entry not in ids((await call(hub.client, "GET", "/api/config-entries", admin))[1])
    for method, path in (
        ("GET", f"/api/config-entries/{alice_entry}"),
        ("DELETE", f"/api/config-entries/{alice_entry}"),
        ("POST", f"/api/config-entries/{alice_entry}/disable"),
        ("POST", f"/api/config-entries/{alice_entry}/reconfigure"),
        ("GET", f"/api/config-entries/{alice_entry}/webhook"),
    ):
        status, body = await call(hub.client, method, path, bert, {} if method == "POST" else None)
        assert (status, body["error"]["code"]) == (404, "entry_not_found"), path
    assert (await call(hub.client, "GET", f"/api/config-entries/{alice_entry}", alice))[0] == 200

    for method, path in (
        ("GET", "/api/jobs"),
        ("GET", "/api/database"),
        ("PATCH", "/api/integrations/lamp"),
    ):
        status, _ = await call(hub.client, method, path, alice, {} if method == "PATCH" else None)
        assert status == 403, path
    status, row = await call(
        hub.client, "PATCH", "/api/integrations/lamp", admin, {"enabled": False}
    )
    assert (status, row["enabled"]) == (200, False)

    flow = (await call(hub.client, "POST", "/api/config-flows", alice, {"domain": "vault"}))[1]
    status, body = await call(
        hub.client,
        "POST",
        f"/api/config-flows/{flow['flow_id']}",
        bert,
        {"user_input": {"name": "x"}},
    )
    assert (status, body["error"]["code"]) == (404, "flow_not_found"), "someone else's flow"


async def test_languages_are_named_in_their_own_language(start_hub: StartHub) -> None:
    hub = await start_hub()
    status, body = await hub.get("/api/languages")
    assert status == 200
    names = {item["code"]: item["name"] for item in body["languages"]}
    assert names["en"] == "English"
    assert names["de"] == "Deutsch"
