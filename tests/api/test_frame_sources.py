"""The UI's ``frame-src``: only the origins of iframe cards that stored surfaces show."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient

from hub.api.frame_sources import frame_origin
from hub.app import create_app
from hub.config import HubConfig
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.bundled.conftest import BundledHub

TRADINGVIEW = "https://s.tradingview.com"


@pytest.fixture
async def hub(tmp_path: Path, aiohttp_client: AiohttpClient) -> BundledHub:
    client = await aiohttp_client(create_app(tmp_path / "config", HubConfig(), env={}))
    await sign_in(client, OWNER, OWNER_PASSWORD)
    return BundledHub(client)


async def frame_src(hub: BundledHub, path: str = "/") -> list[str]:
    """The sources of the page's ``frame-src``, as a browser would read them."""
    resp = await hub.client.get(path, headers={"Authorization": ""})
    assert resp.status == 200
    directives = [d.strip().split() for d in resp.headers["Content-Security-Policy"].split(";")]
    [sources] = [d[1:] for d in directives if d and d[0] == "frame-src"]
    assert [d[0] for d in directives].count("default-src") == 1
    return sources


async def dashboard(hub: BundledHub, *urls: str) -> str:
    cards = [{"type": "iframe", "url": url} for url in urls]
    body = {"name": "Mine", "config": {"views": [{"title": "Home", "cards": cards}]}}
    status, surface = await hub.post("/api/surfaces", body)
    assert status == 200, surface
    return str(surface["slug"])


async def test_the_tradingview_origin_is_allowed_only_while_an_entry_exists(
    hub: BundledHub,
) -> None:
    assert await frame_src(hub) == ["'none'"], "nothing to frame: no frame at all"
    entry = await hub.create_entry("tradingview", {"symbol": "NASDAQ:AAPL", "interval": "D"})
    assert await frame_src(hub) == [TRADINGVIEW]
    assert await frame_src(hub, "/js/app.js") == [TRADINGVIEW], "every file of the UI says the same"
    resp = await hub.client.delete(f"/api/config-entries/{entry}")
    assert resp.status == 200, await resp.text()
    assert TRADINGVIEW not in await frame_src(hub)


async def test_a_persons_own_iframe_cards_keep_working(hub: BundledHub) -> None:
    slug = await dashboard(
        hub, "http://192.168.1.20:3000/d/abc?kiosk", "https://grafana.example.org/x"
    )
    assert await frame_src(hub) == ["http://192.168.1.20:3000", "https://grafana.example.org"]
    # Another person's dashboard counts too: the page is the same for everyone who loads it.
    other = await hub.another_person("bob", "bob-passphrase-1")
    body = {
        "name": "Bob's",
        "config": {"views": [{"cards": [{"type": "iframe", "url": "https://BÜCHER.example/"}]}]},
    }
    resp = await hub.client.post("/api/surfaces", json=body, headers=other)
    assert resp.status == 200, await resp.text()
    assert "https://xn--bcher-kva.example" in await frame_src(hub)
    # Edited and removed, the dashboard takes its origins along.
    edited = {
        "name": "Mine",
        "config": {"views": [{"cards": [{"type": "markdown", "content": "x"}]}]},
    }
    resp = await hub.client.put(f"/api/surfaces/{slug}", json=edited)
    assert resp.status == 200, await resp.text()
    assert await frame_src(hub) == ["https://xn--bcher-kva.example"]


async def test_a_card_url_never_adds_a_directive_or_a_wildcard(hub: BundledHub) -> None:
    await dashboard(
        hub,
        "https://evil.example/;script-src *",
        "https://a.example;script-src 'unsafe-inline'",
        "javascript:alert(1)",
        "data:text/html,hi",
        "https://*.example/",
        "http://[::1]:8080/",
        "https://user:pw@b.example:8443/p",
    )
    resp = await hub.client.get("/")
    policy = resp.headers["Content-Security-Policy"]
    assert "script-src" not in policy, policy
    assert "*" not in policy, policy
    assert await frame_src(hub) == ["https://b.example:8443", "https://evil.example"]


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://s.tradingview.com/widgetembed/?symbol=X", "https://s.tradingview.com"),
        ("HTTP://Example.ORG:80/", "http://example.org:80"),
        ("http://10.0.0.2:3000", "http://10.0.0.2:3000"),
        ("ftp://example.org/", None),
        ("https://exa mple.org/", None),
        ("https://example.org:99999/", None),
        ("https://under_score.example/", None),
        ("https:///path", None),
        (None, None),
        (42, None),
    ],
)
def test_frame_origin(url: object, origin: str | None) -> None:
    assert frame_origin(url) == origin
