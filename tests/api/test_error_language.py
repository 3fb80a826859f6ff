"""Errors speak the person's language: their setting, then ``Accept-Language``, then English."""

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
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.integrations.helpers import make_integration

Client = TestClient[web.Request, web.Application]
PASSWORD = "a long enough passphrase"
GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
ENGLISH = {"Accept-Language": "en-GB,en;q=0.9"}


@pytest.fixture
async def hub(tmp_path: Path, aiohttp_client: AiohttpClient) -> Client:
    """A hub signed in as its owner, who has no language setting; members greta (de) and eric (en)."""
    make_integration(tmp_path / "integrations", "lamp")
    config = HubConfig(integrations=IntegrationsConfig(bundled_dir=tmp_path / "integrations"))
    client = await aiohttp_client(create_app(tmp_path / "config", config, env={}))
    await sign_in(client, OWNER, OWNER_PASSWORD)
    for username, language in (("greta", "de"), ("eric", "en")):
        body = {"username": username, "password": PASSWORD, "language": language}
        assert (await client.post("/api/people", json=body)).status == 200
    return client


async def token_of(client: Client, username: str) -> str:
    """A fresh access token of ``username``."""
    assert client.app is not None
    pair = await client.app[AUTH].login(username, PASSWORD, "test")
    return pair.access_token


async def call(
    client: Client,
    method: str,
    path: str,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    body: Any = None,
) -> tuple[int, dict[str, Any]]:
    """One request as ``token`` (the owner's session when None); the status and the ``error``."""
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    async with client.request(method, path, json=body, headers=sent) as resp:
        answer = await resp.json()
    assert set(answer) == {"error"}, answer
    return resp.status, answer["error"]


async def test_a_validation_error_keeps_the_field_path_and_translates_the_sentence(
    hub: Client,
) -> None:
    body = {"username": "x", "password": "pw", "is_admin": "maybe", "colour": "red"}
    english = await call(hub, "POST", "/api/people", body=body, headers=ENGLISH)
    german = await call(hub, "POST", "/api/people", body=body, headers=GERMAN)

    assert english[0] == german[0] == 400
    assert english[1]["code"] == german[1]["code"] == "bad_request"
    assert english[1]["message"] == (
        "is_admin: Input should be a valid boolean, unable to interpret input; "
        "colour: Extra inputs are not permitted"
    )
    assert german[1]["message"] == (
        "is_admin: muss true oder false sein; colour: ist kein bekanntes Feld"
    )
    assert german[1]["key"] == "errors.invalid_fields"
    assert german[1]["params"] == {"problems": german[1]["message"]}


async def test_the_persons_setting_wins_over_the_browsers_header(hub: Client) -> None:
    greta, eric = await token_of(hub, "greta"), await token_of(hub, "eric")

    status, error = await call(hub, "GET", "/api/people", token=greta, headers=ENGLISH)
    assert (status, error["code"]) == (403, "forbidden")
    assert error["message"] == "Das darf nur ein Administrator."
    assert (error["key"], error["params"]) == ("errors.admin_only", {})

    status, error = await call(hub, "GET", "/api/people", token=eric, headers=GERMAN)
    assert (status, error["code"], error["message"]) == (
        403,
        "forbidden",
        "Only an admin may do this.",
    )


async def test_a_not_found_names_the_missing_thing_in_either_language(hub: Client) -> None:
    greta = await token_of(hub, "greta")

    status, error = await call(hub, "DELETE", "/api/auth/tokens/tok-9", token=greta)
    assert (status, error["code"]) == (404, "not_found")
    assert error["message"] == "Es gibt kein Token „tok-9“."
    assert error["params"] == {"token": "tok-9"}

    status, error = await call(hub, "DELETE", "/api/auth/tokens/tok-9")
    assert (status, error["message"]) == (404, "There is no token 'tok-9'.")

    # An error raised with an English sentence alone gets its code's sentence in German.
    status, error = await call(hub, "GET", "/api/entities/999", token=greta)
    assert (status, error["code"]) == (404, "entity_not_found")
    assert error["message"] == "Diese Entität gibt es nicht, oder du darfst sie nicht sehen."
    assert error["key"] == "errors.entity_not_found"


async def test_a_signed_out_request_answers_in_the_browsers_language(hub: Client) -> None:
    async with hub.get("/api/auth/current_user", headers={**GERMAN, "Authorization": ""}) as resp:
        error = (await resp.json())["error"]
    assert (resp.status, error["code"]) == (401, "unauthorized")
    assert error["message"] == "Melde dich zuerst an: Es wird ein gültiges Zugangstoken benötigt."


async def test_a_throttled_sign_in_says_how_many_seconds_in_german(hub: Client) -> None:
    assert hub.app is not None
    throttle = hub.app[AUTH].throttle
    throttle.base, throttle.settle = 30.0, 0.0  # a failure holds the name back for a while
    wrong = {"username": "greta", "password": "not it"}
    async with hub.post("/api/auth/login", json=wrong, headers=GERMAN) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["message"] == "Benutzername oder Passwort ist falsch."

    async with hub.post("/api/auth/login", json=wrong, headers=GERMAN) as resp:
        error = (await resp.json())["error"]
        retry_after = resp.headers["Retry-After"]
    assert (resp.status, error["code"]) == (429, "too_many_attempts")
    assert error["params"] == {"seconds": int(retry_after)}
    assert error["message"] == (f"Zu viele Anmeldeversuche; versuch es in {retry_after} s erneut.")

    async with hub.post("/api/auth/login", json=wrong, headers=ENGLISH) as resp:
        error = (await resp.json())["error"]
        retry_after = resp.headers["Retry-After"]
    assert error["message"] == f"Too many sign-in attempts; try again in {retry_after} s."


async def test_a_websocket_error_result_speaks_the_persons_language(hub: Client) -> None:
    greta = await token_of(hub, "greta")
    async with hub.ws_connect("/api/websocket", headers=ENGLISH) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "auth_required"
        await ws.send_json({"type": "auth", "access_token": greta})
        assert (await ws.receive_json(timeout=5))["type"] == "auth_ok"

        await ws.send_json({"id": 1, "type": "lights/on"})
        reply = await ws.receive_json(timeout=5)
        assert (reply["id"], reply["success"]) == (1, False)
        assert reply["error"]["code"] == "unknown_command"
        assert reply["error"]["message"] == "Unbekannter Befehl „lights/on“."
        assert reply["error"]["params"] == {"command": "lights/on"}

        await ws.send_json({"id": 2, "type": "ping", "extra": 1})
        reply = await ws.receive_json(timeout=5)
        assert reply["error"]["code"] == "invalid_format"
        assert reply["error"]["message"] == "ping: extra: ist kein bekanntes Feld"


async def test_a_routing_error_is_coded_and_translated(hub: Client) -> None:
    status, error = await call(hub, "PUT", "/api/auth/login", headers=GERMAN, body={})
    assert (status, error["code"]) == (405, "method_not_allowed")
    assert error["message"] == "Diese Adresse nimmt diese Methode nicht an."
