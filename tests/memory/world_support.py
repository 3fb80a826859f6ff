"""A real hub for the world-memory tests: the world_shelf test integration on disk, the owner signed in."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from hub.api.state import MEMORY, SYNC
from hub.app import create_app
from hub.config import HubConfig, IntegrationsConfig
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.hub_client import HubClient
from tests.integrations.on_disk import install

StartHub = Callable[[], Awaitable[HubClient]]
Shelf = tuple[str, dict[str, Any]]


def bundled(tmp_path: Path) -> Path:
    """Where the test hub finds its integrations."""
    return tmp_path / "integrations"


@pytest.fixture
def shelves() -> Sequence[Shelf]:
    """The world_shelf copies to install: ``(domain, manifest changes)``."""
    return (("world_shelf", {}),)


@pytest.fixture
def start_hub(tmp_path: Path, aiohttp_client: AiohttpClient, shelves: Sequence[Shelf]) -> StartHub:
    """Start (or restart) a hub on one config dir, the owner signed in."""

    async def start() -> HubClient:
        root = bundled(tmp_path)
        for domain, manifest in shelves:
            if not (root / domain).exists():
                install(root, "world_shelf", domain, **manifest)
        config = HubConfig(integrations=IntegrationsConfig(bundled_dir=root))
        app = create_app(tmp_path / "config", config, env={})
        client = await aiohttp_client(app)
        await sign_in(client, OWNER, OWNER_PASSWORD)
        return HubClient(client, app)

    return start


def write_records(tmp_path: Path, domain: str, rows: Sequence[tuple[str, str, str]]) -> None:
    """What the shelf's next sync finds: ``(type, external_id, name)`` rows."""
    path = bundled(tmp_path) / domain / "records.json"
    path.write_text(json.dumps([list(row) for row in rows]))


async def add_entry(hub: HubClient, domain: str, **kw: Any) -> str:
    """An entry of a shelf (``scope`` and ``headers`` as the flow takes them); its id."""
    body: dict[str, Any] = {"domain": domain}
    if "scope" in kw:
        body["scope"] = kw.pop("scope")
    status, answer = await hub.post("/api/config-flows", body, **kw)
    assert status == 200, answer
    assert answer["type"] == "create_entry", answer
    return str(answer["entry_id"])


async def sync(hub: HubClient, entry_id: str) -> None:
    """Sync an entry now and wait until its entities are linked to the memory."""
    await hub.app[SYNC].sync_now(entry_id, cooldown=False)
    await hub.app[MEMORY].links.caught_up()


async def entity_ids(hub: HubClient, **kw: Any) -> dict[str, int]:
    """``external_id → entity id`` of the entities the caller sees."""
    status, body = await hub.get("/api/entities", params={"limit": 500}, **kw)
    assert status == 200, body
    return {e["external_id"]: e["id"] for e in body["entities"]}


async def request(
    hub: HubClient, method: str, path: str, body: Any = None, **kw: Any
) -> tuple[int, Any]:
    """Any method; the status and the decoded answer."""
    resp = await hub.client.request(method, path, json=body, **kw)
    return resp.status, await resp.json()


async def node(hub: HubClient, node_id: int, **kw: Any) -> dict[str, Any]:
    """A node's detail as the caller sees it."""
    status, body = await hub.get(f"/api/memory/nodes/{node_id}", **kw)
    assert status == 200, body
    return dict(body)


async def make_node(hub: HubClient, kind: str, name: str, **kw: Any) -> dict[str, Any]:
    """A node by REST (``aliases``, ``household`` and ``headers`` pass through)."""
    headers = kw.pop("headers", None)
    status, body = await hub.post(
        "/api/memory/nodes", {"kind": kind, "name": name, **kw}, headers=headers
    )
    assert status == 201, body
    return dict(body)


def error_code(body: Any) -> str:
    """The typed error's code."""
    return str(body["error"]["code"])
