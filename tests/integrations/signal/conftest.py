"""A real hub with the bundled integrations and a fake signal-cli-rest-api bridge on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from hub.app import create_app
from hub.config import CommsConfig, HubConfig
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.bundled.conftest import BundledHub
from tests.fakes.signal import FakeSignal

NUMBER: Final = "+4915112345678"
ADA: Final = "+4917012345678"
WAIT: Final = 20.0
"""How long something may take to show up; it usually takes well under a second."""


class Bridge:
    """The fake bridge and its address."""

    def __init__(self, fake: FakeSignal, url: str) -> None:
        self.fake = fake
        self.url = url


@pytest.fixture
async def bridge(aiohttp_server: AiohttpServer) -> Bridge:
    """A fake signal-cli-rest-api with nothing linked yet."""
    fake = FakeSignal()
    server = await aiohttp_server(fake.app())
    return Bridge(fake, str(server.make_url("/")).rstrip("/"))


@pytest.fixture
async def hub(bridge: Bridge, tmp_path: Path, aiohttp_client: AiohttpClient) -> BundledHub:
    """A started hub; a listener that fails is restarted within a second (the default is 1 s to 60 s).

    It names ``bridge`` first, so the hub stops before the bridge does.
    """
    config = HubConfig(
        comms=CommsConfig(listener_backoff_seconds=0.2, listener_backoff_max_seconds=1.0)
    )
    app = create_app(tmp_path / "config", config, env={})
    client = await aiohttp_client(app)
    await sign_in(client, OWNER, OWNER_PASSWORD)
    return BundledHub(client)


async def link(hub: BundledHub, bridge: Bridge, number: str = NUMBER) -> str:
    """Link ``number`` through the flow (scan the code, continue); the new entry's id."""
    form = await hub.start_flow("signal")
    step = await hub.submit(form["flow_id"], {"number": number, "base_url": bridge.url})
    assert step["step_id"] == "link", step
    assert bridge.fake.scan(number)
    done = await hub.submit(form["flow_id"], {})
    assert done["type"] == "create_entry", done
    return str(done["entry_id"])


async def wait_for(check: Callable[[], Awaitable[Any]], seconds: float = WAIT) -> Any:
    """Ask ``check`` until it answers something truthy (bounded); that answer."""
    async with asyncio.timeout(seconds):
        while not (answer := await check()):  # noqa: ASYNC110  # polled over REST
            await asyncio.sleep(0.05)
        return answer


async def entry(hub: BundledHub, entry_id: str) -> dict[str, Any]:
    """The entry as the entries page shows it."""
    status, body = await hub.get(f"/api/config-entries/{entry_id}")
    assert status == 200, body
    return dict(body)


async def listening(hub: BundledHub, entry_id: str) -> None:
    """Wait until the entry's listener runs."""

    async def running() -> bool:
        listener = (await entry(hub, entry_id)).get("listener") or {}
        return bool(listener.get("state") == "running")

    await wait_for(running)
