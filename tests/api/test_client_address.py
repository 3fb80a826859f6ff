"""The caller's address: ``X-Forwarded-For`` believed only from trusted proxies, the login throttle too."""

from __future__ import annotations

import asyncio
from ipaddress import ip_network
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from hub.api.client_address import forwarded_client
from hub.api.state import AUTH
from hub.app import create_app
from hub.config import HttpConfig, HubConfig, IntegrationsConfig

PROXIES = (ip_network("10.0.0.0/8"), ip_network("fd00::/8"))


@pytest.mark.parametrize(
    ("peer", "header", "client"),
    [
        ("192.0.2.7", ["203.0.113.1"], "192.0.2.7"),  # not a proxy: the header is anyone's
        ("10.0.0.2", [], "10.0.0.2"),
        ("10.0.0.2", ["203.0.113.1"], "203.0.113.1"),
        ("10.0.0.2", ["198.51.100.9, 203.0.113.1"], "203.0.113.1"),  # the left one is made up
        ("10.0.0.2", ["198.51.100.9", "203.0.113.1, 10.0.0.3"], "203.0.113.1"),  # two proxies
        ("10.0.0.2", ["10.0.0.5, 10.0.0.3"], "10.0.0.5"),  # all proxies: the first one
        ("10.0.0.2", ["junk, 203.0.113.1"], "203.0.113.1"),
        ("10.0.0.2", ["203.0.113.1, junk"], "10.0.0.2"),  # nothing left of junk is believed
        ("10.0.0.2", ["[2001:db8::1]:4711"], "2001:db8::1"),
        ("10.0.0.2", ["203.0.113.1:4711"], "203.0.113.1"),
        ("::ffff:10.0.0.2", ["203.0.113.1"], "203.0.113.1"),
        ("fd00::1", ["2001:db8::1"], "2001:db8::1"),
    ],
)
def test_forwarded_for_is_believed_only_from_trusted_proxies(
    peer: str, header: list[str], client: str
) -> None:
    assert forwarded_client(peer, header, PROXIES) == client


async def hub(
    tmp_path: Path, aiohttp_client: AiohttpClient, *proxies: str
) -> TestClient[web.Request, web.Application]:
    config = HubConfig(
        http=HttpConfig.model_validate({"trusted_proxies": proxies}),
        integrations=IntegrationsConfig(enabled=False),
    )
    return await aiohttp_client(create_app(tmp_path / "config", config, env={}))


async def fail_login(client: TestClient[web.Request, web.Application], name: str, via: str) -> int:
    body = {"username": name, "password": "a wrong password"}
    resp = await client.post("/api/auth/login", json=body, headers={"X-Forwarded-For": via})
    return resp.status


async def beside_a_failing_login(
    client: TestClient[web.Request, web.Application], *others: tuple[str, str]
) -> list[int]:
    """The statuses of logins sent while one for ``first`` via 203.0.113.1 is being checked."""
    throttle = client.app[AUTH].throttle
    first = asyncio.create_task(fail_login(client, "first", via="203.0.113.1"))
    async with asyncio.timeout(10):
        while throttle.admitted == 0:  # noqa: ASYNC110  # admitted: its address's slot is taken
            await asyncio.sleep(0.001)
    # A failed check is answered only after the delay it earned: the slot stays taken meanwhile.
    statuses = await asyncio.gather(*(fail_login(client, name, via) for name, via in others))
    assert await first == 401
    return statuses


async def test_a_spoofed_forwarded_for_does_not_escape_the_login_throttle(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    client = await hub(tmp_path, aiohttp_client)
    # Another name from the same peer: refused, whatever address its header claims.
    assert await beside_a_failing_login(client, ("second", "203.0.113.2")) == [429]


async def test_a_trusted_proxy_s_clients_are_throttled_each_on_their_own(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    client = await hub(tmp_path, aiohttp_client, "127.0.0.0/8")
    statuses = await beside_a_failing_login(
        client, ("second", "203.0.113.2"), ("third", "203.0.113.1")
    )
    assert statuses == [401, 429], "another client is checked; the same client waits its turn"
