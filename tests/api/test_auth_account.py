"""A person's own account over HTTP: password confirmation, signing out everywhere, and admins
editing people without leaving the hub without an admin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from hub.api.state import AUTH
from hub.app import create_app
from hub.config import HubConfig, IntegrationsConfig
from tests.integrations.helpers import make_integration

Client = TestClient[web.Request, web.Application]
OWNER = {"username": "ann", "password": "ann-password-1"}


async def call(
    client: Client,
    method: str,
    path: str,
    token: str | None,
    body: Any = None,
    language: str = "en",
) -> tuple[int, Any]:
    headers = {"Accept-Language": language}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    resp = await client.request(method, path, json=body, headers=headers)
    return resp.status, await resp.json()


async def login(client: Client, username: str, password: str) -> dict[str, Any]:
    creds = {"username": username, "password": password}
    status, body = await call(client, "POST", "/api/auth/login", None, creds)
    assert status == 200, body
    return dict(body)


@pytest.fixture
async def fresh(tmp_path: Path, aiohttp_client: AiohttpClient) -> Client:
    make_integration(tmp_path / "integrations", "lamp", single_instance=False)
    config = HubConfig(integrations=IntegrationsConfig(bundled_dir=tmp_path / "integrations"))
    client = await aiohttp_client(create_app(tmp_path / "config", config, env={}))
    throttle = client.app[AUTH].throttle
    throttle.base, throttle.settle = 0.0, 0.0  # wrong passwords below are on purpose
    return client


async def test_onboarding_refuses_a_confirmation_that_differs(fresh: Client) -> None:
    typo = {**OWNER, "password_confirmation": "ann-password-2"}
    status, body = await call(fresh, "POST", "/api/onboarding", None, typo, language="de")
    assert (status, body["error"]["code"]) == (400, "password_mismatch")
    assert body["error"]["message"] == "Die beiden Passwörter stimmen nicht überein."
    assert (await call(fresh, "GET", "/api/onboarding", None))[1] == {"open": True}

    short = {"username": "ann", "password": "short", "password_confirmation": "short"}
    status, body = await call(fresh, "POST", "/api/onboarding", None, short)
    assert (status, body["error"]["code"]) == (400, "password_too_short")
    assert body["error"]["message"] == "The password needs at least 8 characters."
    assert body["error"]["params"] == {"min_length": 8}

    status, _ = await call(
        fresh,
        "POST",
        "/api/onboarding",
        None,
        {**OWNER, "password_confirmation": OWNER["password"]},
    )
    assert status == 200


async def test_changing_ones_password_checks_current_confirmation_and_length(
    fresh: Client,
) -> None:
    _, owner = await call(fresh, "POST", "/api/onboarding", None, OWNER)
    token = owner["access_token"]
    me = (await call(fresh, "GET", "/api/auth/current_user", token))[1]
    path = f"/api/people/{me['id']}"

    wrong = {"password": "a-new-passphrase", "current_password": "not-it-at-all"}
    status, body = await call(fresh, "PATCH", path, token, wrong, language="de")
    assert (status, body["error"]["code"]) == (403, "current_password_wrong")
    assert body["error"]["message"] == "Das ist nicht dein aktuelles Passwort."

    mismatch = {
        "password": "a-new-passphrase",
        "password_confirmation": "a-new-passphrasf",
        "current_password": OWNER["password"],
    }
    status, body = await call(fresh, "PATCH", path, token, mismatch)
    assert (status, body["error"]["code"]) == (400, "password_mismatch")

    short = {"password": "tiny", "current_password": OWNER["password"]}
    status, body = await call(fresh, "PATCH", path, token, short)
    assert (status, body["error"]["code"]) == (400, "password_too_short")

    good = {**mismatch, "password_confirmation": "a-new-passphrase"}
    assert (await call(fresh, "PATCH", path, token, good))[0] == 200
    refused = {"username": "ann", "password": OWNER["password"]}
    assert (await call(fresh, "POST", "/api/auth/login", None, refused))[0] == 401
    await login(fresh, "ann", "a-new-passphrase")


async def test_signing_out_everywhere_ends_other_sign_ins_but_keeps_scripts(
    fresh: Client,
) -> None:
    _, owner = await call(fresh, "POST", "/api/onboarding", None, OWNER)
    here = owner["access_token"]
    phone = await login(fresh, "ann", OWNER["password"])
    laptop = await login(fresh, "ann", OWNER["password"])
    _, script = await call(fresh, "POST", "/api/auth/tokens", here, {"name": "backup"})

    status, body = await call(
        fresh, "POST", "/api/auth/sign-out-everywhere", here, {"keep_this": True}
    )
    assert (status, body) == (200, {"signed_out": 2})
    assert (await call(fresh, "GET", "/api/auth/current_user", here))[0] == 200
    for gone in (phone, laptop):
        assert (await call(fresh, "GET", "/api/auth/current_user", gone["access_token"]))[0] == 401
        refresh = {"refresh_token": gone["refresh_token"]}
        assert (await call(fresh, "POST", "/api/auth/refresh", None, refresh))[0] == 401
    assert (await call(fresh, "GET", "/api/auth/current_user", script["token"]))[0] == 200

    status, body = await call(fresh, "POST", "/api/auth/sign-out-everywhere", here, {})
    assert (status, body) == (200, {"signed_out": 1})
    assert (await call(fresh, "GET", "/api/auth/current_user", here))[0] == 401

    status, body = await call(
        fresh, "POST", "/api/auth/sign-out-everywhere", script["token"], {"keep": "x"}
    )
    assert (status, body["error"]["code"]) == (400, "bad_request")


async def test_admins_edit_people_but_never_demote_the_last_admin(fresh: Client) -> None:
    _, owner = await call(fresh, "POST", "/api/onboarding", None, OWNER)
    admin = owner["access_token"]
    me = (await call(fresh, "GET", "/api/auth/current_user", admin))[1]
    new = {"username": "bob", "password": "bob-password-1", "password_confirmation": "bob-pw"}
    status, body = await call(fresh, "POST", "/api/people", admin, new)
    assert (status, body["error"]["code"]) == (400, "password_mismatch")
    new["password_confirmation"] = new["password"]
    _, bob = await call(fresh, "POST", "/api/people", admin, new)

    status, body = await call(fresh, "PATCH", f"/api/people/{me['id']}", admin, {"is_admin": False})
    assert (status, body["error"]["code"]) == (400, "last_admin")
    status, body = await call(
        fresh, "PATCH", f"/api/people/{me['id']}", admin, {"is_admin": False}, language="de"
    )
    assert "letzte Admin" in body["error"]["message"]

    changes = {"display_name": "Bob Builder", "is_admin": True, "language": "de"}
    status, edited = await call(fresh, "PATCH", f"/api/people/{bob['id']}", admin, changes)
    assert (status, edited["display_name"], edited["is_admin"], edited["language"]) == (
        200,
        "Bob Builder",
        True,
        "de",
    )
    # With two admins, either may step down.
    status, stepped = await call(
        fresh, "PATCH", f"/api/people/{me['id']}", admin, {"is_admin": False}
    )
    assert (status, stepped["is_admin"]) == (200, False)

    bob_token = (await login(fresh, "bob", "bob-password-1"))["access_token"]
    status, body = await call(
        fresh, "PATCH", f"/api/people/{bob['id']}", bob_token, {"language": "tlh"}
    )
    assert (status, body["error"]["code"]) == (400, "language_unknown")
    assert body["error"]["params"] == {"language": "tlh"}
    status, body = await call(
        fresh, "PATCH", f"/api/people/{bob['id']}", bob_token, {"display_name": "  "}
    )
    assert (status, body["display_name"]) == (200, "bob"), "a blank name falls back to the username"
