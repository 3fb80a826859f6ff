"""A real hub with the bundled integrations and a scripted model, signed in as its owner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient

from hub.api.state import CHAT
from hub.app import create_app
from hub.config import HubConfig
from tests.agent.conftest import LOCAL
from tests.agent.support import AgentHub
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in


@pytest.fixture(autouse=True)
def _no_model_requests() -> Iterator[None]:
    from pydantic_ai import models

    before, models.ALLOW_MODEL_REQUESTS = models.ALLOW_MODEL_REQUESTS, False
    yield
    models.ALLOW_MODEL_REQUESTS = before


@pytest.fixture
async def hub(tmp_path: Path, aiohttp_client: AiohttpClient) -> AgentHub:
    """The hub as shipped (bundled integrations) with one internal-tier model."""
    app = create_app(tmp_path / "config", HubConfig(models=(LOCAL,)), env={})
    client = await aiohttp_client(app)
    token = await sign_in(client, OWNER, OWNER_PASSWORD)
    return AgentHub(client, token, tmp_path / "config", await app[CHAT].get())
