"""The ``Origin`` check on a real hub: another site's page may neither onboard nor open the websocket;
the hub's own pages, configured origins and clients that send no ``Origin`` (scripts) may."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from hub.app import create_app
from hub.config import HttpConfig, HubConfig

OWNER = {"username": "owner", "password": "correct horse battery"}
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def fresh(no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient) -> Client:
    """A hub that still waits for its owner; ``https://hub.example`` is a configured origin."""
    config = HubConfig(http=HttpConfig(allowed_origins=("https://hub.example",)))
    return await aiohttp_client(create_app(tmp_path / "config", config, env={}))


def own_origin(client: Client) -> str:
    return f"http://127.0.0.1:{client.port}"


async def onboard(client: Client, origin: str | None) -> tuple[int, Any]:
    headers = {} if origin is None else {"Origin": origin}
    async with client.post("/api/onboarding", json=OWNER, headers=headers) as resp:
        return resp.status, await resp.json()


async def still_open(client: Client) -> bool:
    async with client.get("/api/onboarding") as resp:
        return bool((await resp.json())["open"])


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "http://127.0.0.1:1",  # another port of the same machine is another site
        "https://127.0.0.1",
        "null",  # a sandboxed frame or a file:// page
        "http://127.0.0.1:{port}.evil.example",
        "not an origin",
    ],
)
async def test_another_sites_page_cannot_onboard(fresh: Client, origin: str) -> None:
    status, body = await onboard(fresh, origin.format(port=fresh.port))
    assert status == 403
    assert body["error"]["code"] == "origin_not_allowed"
    assert "http.allowed_origins" in body["error"]["message"]
    assert await still_open(fresh)


@pytest.mark.parametrize("origin", [None, "own", "https://hub.example", "HTTPS://Hub.Example:443"])
async def test_the_hubs_own_pages_scripts_and_configured_origins_can(
    fresh: Client, origin: str | None
) -> None:
    status, body = await onboard(fresh, own_origin(fresh) if origin == "own" else origin)
    assert status == 200, body
    assert body["access_token"]
    assert not await still_open(fresh)


async def test_the_websocket_refuses_another_sites_page(fresh: Client) -> None:
    token = (await onboard(fresh, None))[1]["access_token"]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await fresh.ws_connect("/api/websocket", origin="http://evil.example")
    assert refused.value.status == 403
    async with fresh.get("/api/websocket", headers={"Origin": "http://evil.example"}) as resp:
        assert resp.status == 403
        assert (await resp.json())["error"]["code"] == "origin_not_allowed"

    for origin in (own_origin(fresh), None):
        ws = await fresh.ws_connect("/api/websocket", origin=origin)
        assert (await ws.receive_json(timeout=5))["type"] == "auth_required"
        await ws.send_json({"type": "auth", "access_token": token})
        assert (await ws.receive_json(timeout=5))["type"] == "auth_ok"
        await ws.close()
