"""A real hub app on loopback with the agent tests' integrations, and the models it may use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from hub.api.state import CHAT
from hub.app import create_app
from hub.config import HubConfig, IntegrationsConfig, ModelConfig
from tests.agent.support import AgentHub, write_integrations
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in

StartAgentHub = Callable[..., Awaitable[AgentHub]]

LOCAL = ModelConfig(name="local", base_url="http://127.0.0.1:9/v1", model="m", tier="internal")
HOSTED = ModelConfig(name="hosted", base_url="http://127.0.0.1:9/v1", model="m", tier="unregulated")


@pytest.fixture(autouse=True)
def _no_model_requests() -> Iterator[None]:
    from pydantic_ai import models

    before, models.ALLOW_MODEL_REQUESTS = models.ALLOW_MODEL_REQUESTS, False
    yield
    models.ALLOW_MODEL_REQUESTS = before


@pytest.fixture
def start_agent_hub(tmp_path: Path, aiohttp_client: AiohttpClient) -> StartAgentHub:
    """Start (or restart) a hub on one config dir; ``models`` and ``env`` as a person set them."""
    bundled = write_integrations(tmp_path / "integrations")

    async def start(
        models: tuple[ModelConfig, ...] = (LOCAL, HOSTED),
        env: dict[str, str] | None = None,
        **config: Any,
    ) -> AgentHub:
        hub_config = HubConfig(
            integrations=IntegrationsConfig(bundled_dir=bundled), models=models, **config
        )
        app = create_app(tmp_path / "config", hub_config, env=env or {})
        client = await aiohttp_client(app)
        token = await sign_in(client, OWNER, OWNER_PASSWORD)
        return AgentHub(client, token, tmp_path / "config", await app[CHAT].get())

    return start


@pytest.fixture
async def hub(start_agent_hub: StartAgentHub) -> AgentHub:
    """A started hub with an internal-tier default model and an unregulated one."""
    return await start_agent_hub()
