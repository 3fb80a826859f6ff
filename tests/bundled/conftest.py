"""A real hub over loopback with the bundled integrations, driven the way the web UI and senders drive it."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from hub.api.state import CONFIG_ENTRIES
from hub.app import create_app
from hub.config import SOURCE_ROOT, HubConfig
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.hub_client import HubClient


class BundledHub(HubClient):
    """A started hub with the steps the bundled integrations' tests repeat."""

    def __init__(self, client: TestClient[web.Request, web.Application]) -> None:
        assert client.app is not None
        super().__init__(client, client.app)

    async def create_entry(self, domain: str, user_input: dict[str, Any]) -> str:
        """Run a one-form flow to its end and return the new entry's id."""
        form = await self.start_flow(domain)
        done = await self.submit(form["flow_id"], user_input)
        assert done["type"] == "create_entry", done
        return str(done["entry_id"])

    async def entities(self, **filters: str) -> list[dict[str, Any]]:
        """``GET /api/entities`` with filters."""
        status, answer = await self.get("/api/entities", params=filters)
        assert status == 200, answer
        return list(answer["entities"])

    async def only_entity(self, entry_id: str) -> dict[str, Any]:
        """The single entity of an entry that owns exactly one."""
        [entity] = await self.entities(entry_id=entry_id)
        return entity

    async def act(
        self, entity_id: int, action: str, args: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        """``POST /api/entities/{id}/action``."""
        return await self.post(
            f"/api/entities/{entity_id}/action", {"action": action, "args": args or {}}
        )

    def webhook_path(self, entry_id: str) -> str:
        """The entry's webhook URL path with its token, as its sender would be given it."""
        entries = self.app[CONFIG_ENTRIES]
        token = entries.webhook_token(entries.require(entry_id))
        return f"/webhooks/integration/{entry_id}?token={token}"


StartHub = Callable[[], Awaitable[BundledHub]]


@pytest.fixture
def start_hub(tmp_path: Path, aiohttp_client: AiohttpClient) -> StartHub:
    """Start the hub on one config dir; start it again to see what survives a restart."""

    async def start() -> BundledHub:
        app = create_app(tmp_path / "config", HubConfig(), env={})
        client = await aiohttp_client(app)
        await sign_in(client, OWNER, OWNER_PASSWORD)
        return BundledHub(client)

    return start


@pytest.fixture
async def hub(start_hub: StartHub) -> BundledHub:
    """A started hub with the bundled integrations from the repository."""
    return await start_hub()


BUNDLED = SOURCE_ROOT / "integrations"


def flat_keys(node: dict[str, Any], prefix: str = "") -> set[str]:
    """Every dotted key of a translation file."""
    keys: set[str] = set()
    for key, value in node.items():
        if isinstance(value, dict):
            keys |= flat_keys(value, f"{prefix}{key}.")
        else:
            keys.add(f"{prefix}{key}")
    return keys


def translations(domain: str, language: str) -> dict[str, Any]:
    """A bundled integration's translation file."""
    path: Path = BUNDLED / domain / "translations" / f"{language}.json"
    return dict(json.loads(path.read_text("utf-8")))
