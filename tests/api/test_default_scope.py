"""``default_scope`` in a manifest: whose entry a flow started without a scope creates."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from pydantic import ValidationError
from pytest_aiohttp import AiohttpClient

from hub.app import create_app
from hub.config import HubConfig, IntegrationsConfig
from hub.integrations.manifest import IntegrationManifest
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.hub_client import HubClient
from tests.integrations.helpers import make_integration

StartHub = Callable[[], Awaitable[HubClient]]


@pytest.fixture
def start_hub(tmp_path: Path, aiohttp_client: AiohttpClient) -> StartHub:
    """A hub with three zero-step integrations: personal by default, household, and unsaid."""
    bundled = tmp_path / "integrations"
    make_integration(bundled, "diary", single_instance=False, default_scope="user")
    make_integration(bundled, "almanac", single_instance=False, default_scope="global")
    make_integration(bundled, "lamp", single_instance=False)

    async def start() -> HubClient:
        config = HubConfig(integrations=IntegrationsConfig(bundled_dir=bundled))
        client = await aiohttp_client(create_app(tmp_path / "config", config, env={}))
        await sign_in(client, OWNER, OWNER_PASSWORD)
        assert client.app is not None
        return HubClient(client, client.app)

    return start


async def scope_of(hub: HubClient, domain: str, **body: object) -> str:
    """Add ``domain`` (no form: the entry at once) and return the new entry's scope."""
    status, done = await hub.post("/api/config-flows", {"domain": domain, **body})
    assert status == 200, done
    assert done["type"] == "create_entry", done
    status, entry = await hub.get(f"/api/config-entries/{done['entry_id']}")
    assert status == 200, entry
    return str(entry["scope"])


async def test_an_admin_adds_a_personal_integration_as_their_own_unless_they_choose(
    start_hub: StartHub,
) -> None:
    hub = await start_hub()
    assert await scope_of(hub, "diary") == "user"
    assert await scope_of(hub, "diary", scope="global") == "global"
    # Without default_scope an admin's entry is the household's, as before.
    assert await scope_of(hub, "lamp") == "global"
    assert await scope_of(hub, "almanac") == "global"


async def test_a_personal_default_the_admin_disallowed_gives_way_to_the_household(
    start_hub: StartHub,
) -> None:
    hub = await start_hub()
    resp = await hub.client.patch("/api/integrations/diary", json={"allowed_scopes": ["global"]})
    assert resp.status == 200, await resp.text()
    assert await scope_of(hub, "diary") == "global"


async def test_a_member_always_adds_their_own(start_hub: StartHub) -> None:
    hub = await start_hub()
    headers = await hub.another_person("mia", "mia's long passphrase")
    for domain in ("diary", "almanac", "lamp"):
        status, done = await hub.post("/api/config-flows", {"domain": domain}, headers=headers)
        assert status == 200, done
        status, entry = await hub.get(f"/api/config-entries/{done['entry_id']}", headers=headers)
        assert (status, entry["scope"]) == (200, "user")


async def test_the_catalog_tells_the_web_ui(start_hub: StartHub) -> None:
    hub = await start_hub()
    status, body = await hub.get("/api/integrations")
    assert status == 200, body
    scopes = {item["domain"]: item["default_scope"] for item in body["integrations"]}
    assert scopes == {"diary": "user", "almanac": "global", "lamp": None}


def test_only_user_or_global_is_a_default_scope() -> None:
    with pytest.raises(ValidationError, match="default_scope"):
        IntegrationManifest.model_validate({"domain": "x", "name": "X", "default_scope": "org"})
