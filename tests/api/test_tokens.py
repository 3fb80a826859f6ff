"""Sign-ins that rotate and expire, caps on tokens, and changing one's own password."""

from __future__ import annotations

import asyncio
import json
import time
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
ANN = {"username": "ann", "password": "ann-password-1"}


class Hub:
    """A hub on one config dir that a test can stop and start again."""

    def __init__(self, tmp_path: Path, aiohttp_client: AiohttpClient) -> None:
        make_integration(tmp_path / "integrations", "lamp")
        self.config_dir = tmp_path / "config"
        self.config = HubConfig(
            integrations=IntegrationsConfig(bundled_dir=tmp_path / "integrations")
        )
        self._factory = aiohttp_client
        self.client: Client | None = None

    async def start(self) -> Client:
        self.client = await self._factory(create_app(self.config_dir, self.config, env={}))
        return self.client

    async def call(
        self, method: str, path: str, token: str | None = None, body: Any = None
    ) -> tuple[int, Any]:
        assert self.client is not None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        resp = await self.client.request(method, path, json=body, headers=headers)
        return resp.status, await resp.json()


@pytest.fixture
async def hub(tmp_path: Path, aiohttp_client: AiohttpClient) -> Hub:
    """A started hub whose owner is ``ann``."""
    hub = Hub(tmp_path, aiohttp_client)
    await hub.start()
    assert (await hub.call("POST", "/api/onboarding", None, ANN))[0] == 200
    return hub


async def refresh(hub: Hub, token: str) -> tuple[int, Any]:
    return await hub.call("POST", "/api/auth/refresh", None, {"refresh_token": token})


async def test_a_refresh_token_works_once_and_its_replay_ends_the_sign_in(hub: Hub) -> None:
    _, signed_in = await hub.call("POST", "/api/auth/login", None, ANN)
    first = signed_in["refresh_token"]
    status, renewed = await refresh(hub, first)
    assert status == 200
    second = renewed["refresh_token"]
    assert second != first
    status, again = await refresh(hub, second)
    assert status == 200, "the rotated token is the one that works now"
    third, access = again["refresh_token"], again["access_token"]
    assert (await hub.call("GET", "/api/auth/current_user", access))[0] == 200

    # Someone replays the first token (a stolen copy): the whole sign-in ends, for both holders.
    status, body = await refresh(hub, first)
    assert (status, body["error"]["code"]) == (401, "invalid_credentials")
    assert (await refresh(hub, third))[0] == 401
    assert (await hub.call("GET", "/api/auth/current_user", access))[0] == 401
    _, tokens = await hub.call("GET", "/api/auth/tokens", (await login(hub))["access_token"])
    assert signed_in["access_token"] not in json.dumps(tokens)
    assert len([t for t in tokens["tokens"] if t["kind"] == "refresh"]) == 2, "onboarding + now"


async def login(hub: Hub) -> dict[str, Any]:
    status, body = await hub.call("POST", "/api/auth/login", None, ANN)
    assert status == 200, body
    return dict(body)


async def test_a_sign_in_unused_for_thirty_days_stops_working(hub: Hub) -> None:
    stale, fresh = (await login(hub))["refresh_token"], (await login(hub))["refresh_token"]
    assert hub.client is not None
    await hub.client.close()
    path = hub.config_dir / ".storage" / "auth"
    stored = json.loads(path.read_text())
    sign_ins = [t for t in stored["data"]["tokens"] if t["kind"] == "refresh"]
    long_ago = time.time() - 31 * 86_400
    for record in sign_ins[1:2]:  # the first login above: onboarding is [0]
        record["created_at"] = record["last_used"] = long_ago
    path.write_text(json.dumps(stored))

    await hub.start()
    status, body = await refresh(hub, stale)
    assert (status, body["error"]["code"]) == (401, "invalid_credentials")
    assert (await refresh(hub, fresh))[0] == 200


async def test_sign_ins_are_capped_oldest_first_and_named_tokens_refused_past_fifty(
    hub: Hub,
) -> None:
    assert hub.client is not None
    auth = hub.client.app[AUTH]
    auth.max_sign_ins = 3  # 100 in the hub; three keep the test to a few password checks
    oldest = await login(hub)
    kept = [await login(hub) for _ in range(3)]
    assert (await hub.call("GET", "/api/auth/current_user", oldest["access_token"]))[0] == 401
    assert (await refresh(hub, oldest["refresh_token"]))[0] == 401
    for pair in kept:
        assert (await hub.call("GET", "/api/auth/current_user", pair["access_token"]))[0] == 200

    access = kept[-1]["access_token"]
    for n in range(50):
        status, _ = await hub.call("POST", "/api/auth/tokens", access, {"name": f"script {n}"})
        assert status == 200
    status, body = await hub.call("POST", "/api/auth/tokens", access, {"name": "one more"})
    assert (status, body["error"]["code"]) == (409, "too_many_tokens")
    _, listed = await hub.call("GET", "/api/auth/tokens", access)
    assert sum(t["kind"] == "long_lived" for t in listed["tokens"]) == 50


async def test_changing_ones_own_password_needs_the_current_one(hub: Hub) -> None:
    assert hub.client is not None
    throttle = hub.client.app[AUTH].throttle
    throttle.base, throttle.settle = 0.05, 0.0  # a short delay, answered at once, slept out below
    here, elsewhere = await login(hub), await login(hub)
    token = here["access_token"]
    _, me = await hub.call("GET", "/api/auth/current_user", token)
    path = f"/api/people/{me['id']}"

    status, body = await hub.call("PATCH", path, token, {"password": "new-password-22"})
    assert (status, body["error"]["code"]) == (400, "bad_request")
    assert "current_password" in body["error"]["message"]
    wrong = {"password": "new-password-22", "current_password": "not-it-at-all"}
    status, body = await hub.call("PATCH", path, token, wrong)
    assert (status, body["error"]["code"]) == (403, "current_password_wrong")
    # A wrong current password is a guess like a failed login: the next try waits.
    status, body = await hub.call("PATCH", path, token, wrong)
    assert (status, body["error"]["code"]) == (429, "too_many_attempts")
    assert (await hub.call("POST", "/api/auth/login", None, ANN))[0] == 429, "same address"

    await asyncio.sleep(0.2)
    right = {"password": "new-password-22", "current_password": ANN["password"]}
    assert (await hub.call("PATCH", path, token, right))[0] == 200
    assert (await hub.call("GET", "/api/auth/current_user", token))[0] == 200, "this one goes on"
    assert (await hub.call("GET", "/api/auth/current_user", elsewhere["access_token"]))[0] == 401
    new = {"username": "ann", "password": "new-password-22"}
    assert (await hub.call("POST", "/api/auth/login", None, new))[0] == 200


async def test_an_admin_resets_someone_elses_password_without_theirs(hub: Hub) -> None:
    admin = (await login(hub))["access_token"]
    bob = {"username": "bob", "password": "bob-password-1"}
    _, person = await hub.call("POST", "/api/people", admin, bob)
    reset = {"password": "bob-password-2"}
    assert (await hub.call("PATCH", f"/api/people/{person['id']}", admin, reset))[0] == 200
    new = {"username": "bob", "password": "bob-password-2"}
    assert (await hub.call("POST", "/api/auth/login", None, new))[0] == 200
