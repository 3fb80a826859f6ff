"""Login throttling under concurrency: guesses fired at once, from one address and from many."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from hub.api.state import AUTH
from hub.app import create_app
from hub.auth.service import AuthService
from hub.config import HubConfig, IntegrationsConfig
from tests.integrations.helpers import make_integration

Client = TestClient[web.Request, web.Application]
PASSWORD = "ann-password-1"


@pytest.fixture
async def hub(tmp_path: Path, aiohttp_client: AiohttpClient) -> Client:
    """A hub whose owner ``ann`` has signed in once from 127.0.0.1."""
    make_integration(tmp_path / "integrations", "lamp")
    config = HubConfig(integrations=IntegrationsConfig(bundled_dir=tmp_path / "integrations"))
    client = await aiohttp_client(create_app(tmp_path / "config", config, env={}))
    body = {"username": "ann", "password": PASSWORD}
    assert (await client.post("/api/onboarding", json=body)).status == 200
    assert (await client.post("/api/auth/login", json=body)).status == 200
    return client


def auth(client: Client) -> AuthService:
    assert client.app is not None
    return client.app[AUTH]


async def guess(
    client: Client,
    address: str,
    username: str,
    password: str,
    session: aiohttp.ClientSession | None = None,
) -> tuple[int, dict[str, Any], str | None]:
    """One login from ``address`` (any of 127/8 is this machine): status, body, Retry-After."""
    url = client.make_url("/api/auth/login")
    body = {"username": username, "password": password}
    if session is None:
        connector = aiohttp.TCPConnector(local_addr=(address, 0))
        async with aiohttp.ClientSession(connector=connector) as own:
            return await guess(client, address, username, password, own)
    async with session.post(url, json=body) as resp:
        return resp.status, await resp.json(), resp.headers.get("Retry-After")


async def test_a_hundred_guesses_at_once_from_one_address_check_one_password(
    hub: Client,
) -> None:
    service = auth(hub)
    service.throttle.base = 30.0  # the delay after a failure outlasts the whole burst
    service.throttle.settle = 0.0  # and the failed answer is not held back meanwhile
    before = service.password_checks
    connector = aiohttp.TCPConnector(limit=0, local_addr=("127.0.0.9", 0))
    async with aiohttp.ClientSession(connector=connector) as session:
        answers = await asyncio.gather(
            *(guess(hub, "127.0.0.9", "ann", f"guess-{n}", session) for n in range(100))
        )
    statuses = Counter(status for status, _, _ in answers)
    assert statuses == {401: 1, 429: 99}, statuses
    assert service.password_checks - before == 1, "the other 99 never reached the hash"
    refused = [(body, retry) for status, body, retry in answers if status == 429]
    assert all(body["error"]["code"] == "too_many_attempts" for body, _ in refused)
    assert all(int(retry or 0) >= 1 for _, retry in refused)

    # The attacker's address is held back, the person is not: ann signs in from her own device
    # and from a device she never used.
    assert (await guess(hub, "127.0.0.1", "ann", PASSWORD))[0] == 200
    assert (await guess(hub, "127.0.0.9", "ann", PASSWORD))[0] == 429


async def test_guesses_at_one_name_from_forty_addresses_check_one_password(hub: Client) -> None:
    service = auth(hub)
    service.throttle.base, service.throttle.settle = 30.0, 0.0
    before = service.password_checks
    answers = await asyncio.gather(
        *(guess(hub, f"127.0.1.{n}", "ann", f"guess-{n}") for n in range(1, 41))
    )
    statuses = Counter(status for status, _, _ in answers)
    assert statuses == {401: 1, 429: 39}, statuses
    assert service.password_checks - before == 1

    # Where ann signed in before, she still gets in at once; a stranger to her name waits.
    assert (await guess(hub, "127.0.0.1", "ann", PASSWORD))[0] == 200
    status, body, retry = await guess(hub, "127.0.2.1", "ann", PASSWORD)
    assert (status, body["error"]["code"]) == (429, "too_many_attempts")
    assert retry is not None
    assert 1 <= int(retry) <= 15, "the delay per name is capped low"


async def test_guesses_at_many_names_from_many_addresses_hit_the_hub_wide_ceiling(
    hub: Client,
) -> None:
    service = auth(hub)
    throttle = service.throttle
    throttle.global_failures = 5  # failures a minute, hub-wide, before strangers share one lane
    throttle.spacing = 600.0  # that lane admits one attempt per 10 minutes during the test
    throttle.settle = 0.0
    before = service.password_checks

    async def wave(first: int) -> Counter[int]:
        answers = await asyncio.gather(
            *(guess(hub, f"127.0.3.{n}", f"user{n}", "guess-123") for n in range(first, first + 40))
        )
        return Counter(status for status, _, _ in answers)

    first = await wave(1)
    checked = service.password_checks - before
    # At most ``max_in_flight`` at once, and admissions stop once five failures are counted.
    assert checked <= throttle.max_in_flight + throttle.global_failures + 1, first
    assert (first[401], first[429]) == (checked, 40 - checked)

    second = await wave(101)
    assert service.password_checks - before - checked <= 1, f"the slow lane only: {second}"

    # The owner's own device is no stranger: the storm does not lock her out.
    assert (await guess(hub, "127.0.0.1", "ann", PASSWORD))[0] == 200


async def test_a_wrong_password_earns_a_delay_and_the_right_one_clears_the_address(
    hub: Client,
) -> None:
    service = auth(hub)
    service.throttle.base = 0.05
    # One after another, a failed answer comes once its delay is over: never a refusal.
    for n in range(3):
        status, body, _ = await guess(hub, "127.0.4.1", "ann", f"guess-{n}")
        assert (status, body["error"]["code"]) == (401, "invalid_credentials")
    service.throttle.settle = 0.0  # answered at once, the next try meets the delay
    assert (await guess(hub, "127.0.4.1", "ann", "guess-4"))[0] == 401
    status, body, retry = await guess(hub, "127.0.4.1", "ann", "guess-5")
    assert (status, body["error"]["code"], retry) == (429, "too_many_attempts", "1")
    unknown = await guess(hub, "127.0.4.2", "nobody", "whatever-1")
    assert unknown[1]["error"]["message"] == "Wrong username or password.", "no hint which"
    await asyncio.sleep(1.0)  # the earned delay (0.05 s doubled four times) runs out
    assert (await guess(hub, "127.0.4.1", "ann", PASSWORD))[0] == 200
    assert service.throttle.pending("127.0.4.1", "ann") == 0, "the right password clears it"
