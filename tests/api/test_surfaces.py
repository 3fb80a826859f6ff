"""Dashboards: surfaces integrations contribute, the ones people make, and the card templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from hub.api.state import AUTH
from hub.app import create_app
from hub.config import HubConfig, IntegrationsConfig
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.integrations.helpers import make_integration

TRADING = """
from hub.integrations.capabilities import SurfaceDescriptor
from hub.integrations.integration import Integration

CONFIG = {
    "views": [
        {"type": "chat"},
        {"title": "Chart", "cards": [{"type": "iframe", "url": "https://example.com/chart"}]},
    ]
}


class Trading(Integration):
    def surfaces(self):
        return {"trading": SurfaceDescriptor(name="Trading", icon="candlestick_chart", config=CONFIG)}


INTEGRATION = Trading()
"""

CARDS = {
    "cards": [
        {
            "key": "chart",
            "name": "Chart",
            "icon": "show_chart",
            "card": {"type": "iframe", "url": "x"},
        }
    ]
}

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(tmp_path: Path, aiohttp_client: AiohttpClient) -> Client:
    make_integration(tmp_path / "integrations", "trading", init=TRADING, frontend=CARDS)
    config = HubConfig(integrations=IntegrationsConfig(bundled_dir=tmp_path / "integrations"))
    client = await aiohttp_client(create_app(tmp_path / "config", config, env={}))
    await sign_in(client, OWNER, OWNER_PASSWORD)
    return client


async def call(
    client: Client, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    resp = await client.request(method, path, json=body, headers=headers)
    return resp.status, await resp.json()


DASHBOARD = {
    "name": "Kitchen",
    "config": {"views": [{"cards": [{"type": "markdown", "content": "Hi"}]}]},
}


async def test_an_entry_contributes_its_surface_and_takes_it_away(client: Client) -> None:
    _, created = await call(client, "POST", "/api/config-flows", {"domain": "trading"})
    _, body = await call(client, "GET", "/api/surfaces")
    [trading] = body["surfaces"]
    assert (trading["slug"], trading["kind"], trading["read_only"]) == (
        "trading-trading",
        "chat",
        True,
    )
    assert trading["source_domain"] == "trading"
    status, err = await call(client, "PUT", "/api/surfaces/trading-trading", DASHBOARD)
    assert (status, "read-only" in err["error"]["message"]) == (400, True)
    await call(client, "DELETE", f"/api/config-entries/{created['entry_id']}")
    assert (await call(client, "GET", "/api/surfaces"))[1]["surfaces"] == []


async def test_people_make_their_own_dashboards_and_admins_global_ones(client: Client) -> None:
    assert client.app is not None
    auth = client.app[AUTH]
    await auth.create_person("kim", "kim-password-1")
    kim = (await auth.login("kim", "kim-password-1", "test")).access_token

    status, own = await call(client, "POST", "/api/surfaces", DASHBOARD, token=kim)
    assert (status, own["slug"], own["kind"]) == (200, "kitchen", "dashboard")
    status, shared = await call(client, "POST", "/api/surfaces", {**DASHBOARD, "scope": "global"})
    assert (status, shared["slug"], shared["owner"]) == (200, "kitchen-2", None)
    status, err = await call(
        client, "POST", "/api/surfaces", {**DASHBOARD, "scope": "global"}, token=kim
    )
    assert (status, err["error"]["code"]) == (403, "forbidden")

    admin_sees = {s["slug"] for s in (await call(client, "GET", "/api/surfaces"))[1]["surfaces"]}
    kim_sees = {
        s["slug"] for s in (await call(client, "GET", "/api/surfaces", token=kim))[1]["surfaces"]
    }
    assert admin_sees == {"kitchen-2"}, "a person's own dashboard is theirs alone"
    assert kim_sees == {"kitchen", "kitchen-2"}
    status, err = await call(client, "PUT", "/api/surfaces/kitchen-2", DASHBOARD, token=kim)
    assert (status, err["error"]["code"]) == (403, "forbidden")
    renamed = {**DASHBOARD, "name": "Kitchen wall"}
    status, body = await call(client, "PUT", "/api/surfaces/kitchen", renamed, token=kim)
    assert (status, body["name"]) == (200, "Kitchen wall")
    status, err = await call(
        client, "POST", "/api/surfaces", {"name": "Bad", "config": {"views": []}}
    )
    assert (status, err["error"]["message"]) == (
        400,
        'config needs "views": a non-empty list of views',
    )
    assert (await call(client, "DELETE", "/api/surfaces/kitchen", token=kim))[0] == 200
    assert (await call(client, "GET", "/api/surfaces/kitchen", token=kim))[0] == 404


async def test_the_card_picker_offers_manifest_card_templates(client: Client) -> None:
    _, body = await call(client, "GET", "/api/cards")
    assert body["cards"] == [
        {
            "domain": "trading",
            "key": "chart",
            "name": "Chart",
            "icon": "show_chart",
            "description": None,
            "card": {"type": "iframe", "url": "x"},
        }
    ]
