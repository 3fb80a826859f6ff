"""A real hub for the skill tests: the skillful test integration on disk, signed in as its owner."""

from __future__ import annotations

import json
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from hub.api.state import CHAT
from hub.app import create_app
from hub.config import HubConfig, IntegrationsConfig
from tests.agent.support import AgentHub
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.hub_client import HubClient

SKILLFUL = Path(__file__).parent / "skillful"
REVIEW = "skillful-review"
"""The slug of the skillful integration's household skill (from a global entry)."""

StartHub = Callable[..., Awaitable[AgentHub]]


@pytest.fixture
def start_hub(tmp_path: Path, aiohttp_client: AiohttpClient) -> StartHub:
    """Start (or restart) a hub on one config dir, with the skillful integration bundled."""

    async def start(**config: Any) -> AgentHub:
        bundled = tmp_path / "integrations"
        if not (bundled / "skillful").exists():
            shutil.copytree(SKILLFUL, bundled / "skillful")
        hub_config = HubConfig(integrations=IntegrationsConfig(bundled_dir=bundled), **config)
        app = create_app(tmp_path / "config", hub_config, env={})
        client = await aiohttp_client(app)
        token = await sign_in(client, OWNER, OWNER_PASSWORD)
        return AgentHub(client, token, tmp_path / "config", await app[CHAT].get())

    return start


async def skills(hub: HubClient, **kw: Any) -> dict[str, dict[str, Any]]:
    """The skills the caller sees, by id."""
    status, body = await hub.get("/api/skills", **kw)
    assert status == 200, body
    return {skill["id"]: skill for skill in body["skills"]}


async def patch(hub: HubClient, skill_id: str, body: Any, **kw: Any) -> tuple[int, Any]:
    """``PATCH /api/skills/{id}``."""
    resp = await hub.client.patch(f"/api/skills/{skill_id}", json=body, **kw)
    return resp.status, await resp.json()


async def delete(hub: HubClient, path: str, **kw: Any) -> tuple[int, Any]:
    """DELETE ``path``."""
    resp = await hub.client.delete(path, **kw)
    return resp.status, await resp.json()


def stored(hub: AgentHub) -> str:
    """The skills' storage file as it is on disk."""
    return (hub.config_dir / ".storage" / "core.skills").read_text("utf-8")


def stored_json(hub: AgentHub) -> Any:
    """The skills' storage file, decoded."""
    return json.loads(stored(hub))
