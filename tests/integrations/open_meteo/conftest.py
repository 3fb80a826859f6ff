"""A real hub with the bundled integrations, Open-Meteo's fake on 127.0.0.1 in place of the service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from hub.app import create_app
from hub.config import HubConfig
from integrations.open_meteo.client import BASE_URL_ENV
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.bundled.conftest import BundledHub
from tests.fakes.open_meteo import FakeOpenMeteo

BERLIN: dict[str, Any] = {
    "latitude": 52.52,
    "longitude": 13.405,
    "elevation": 34,
    "time_zone": "Europe/Berlin",
    "name": "Flat in Berlin",
}


@pytest.fixture
def fake() -> FakeOpenMeteo:
    """The fake service; a test changes its mode between requests."""
    return FakeOpenMeteo()


@pytest.fixture
async def meteo_url(
    fake: FakeOpenMeteo, aiohttp_server: AiohttpServer, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The fake served on 127.0.0.1, and the hub pointed at it as a person would point it."""
    server = await aiohttp_server(fake.app())
    url = str(server.make_url("/")).rstrip("/")
    monkeypatch.setenv(BASE_URL_ENV, url)
    return url


@pytest.fixture
async def hub(meteo_url: str, tmp_path: Path, aiohttp_client: AiohttpClient) -> BundledHub:
    """A started hub with the bundled integrations; the owner (an admin) signed in."""
    app = create_app(tmp_path / "config", HubConfig(), env={})
    client = await aiohttp_client(app)
    await sign_in(client, OWNER, OWNER_PASSWORD)
    return BundledHub(client)


async def set_home(hub: BundledHub, home: dict[str, Any] | None) -> None:
    """Set (or with ``None`` clear) the home location as an admin does."""
    if home is None:
        resp = await hub.client.delete("/api/home")
    else:
        resp = await hub.client.put("/api/home", json=home)
    assert resp.status == 200, await resp.text()
