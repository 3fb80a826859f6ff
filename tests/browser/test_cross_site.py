"""Another site's page in a real Chromium: its form cannot make itself owner of a fresh hub."""

from __future__ import annotations

import html
import json
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

EVIL = {"username": "mallory", "password": "mallory-password-1"}


def attack_page(hub_url: str) -> str:
    """A page that posts a JSON-looking ``text/plain`` form to the hub as soon as it loads."""
    # text/plain sends "name=value": the name holds the JSON, the value closes a dummy string.
    name = json.dumps(EVIL)[:-1] + ', "x": "'
    return f"""<!doctype html><title>Win a prize</title>
<form method="post" enctype="text/plain" action="{html.escape(hub_url)}/api/onboarding">
<input type="hidden" name="{html.escape(name)}" value='"}}'></form>
<script>document.forms[0].submit()</script>"""


@pytest.fixture
async def attacker(fresh_hub: str) -> AsyncIterator[str]:
    """The attack page, served from another port of the same machine; its URL."""
    app = web.Application()

    async def serve(request: web.Request) -> web.Response:
        return web.Response(text=attack_page(fresh_hub), content_type="text/html")

    app.router.add_get("/", serve)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


def onboarding_open(hub_url: str) -> bool:
    with urllib.request.urlopen(f"{hub_url}/api/onboarding", timeout=10) as resp:
        return bool(json.loads(resp.read())["open"])


async def test_a_cross_site_form_cannot_onboard_a_fresh_hub(
    fresh_hub: str, attacker: str, browser: Any
) -> None:
    page = await (await browser.new_context()).new_page()
    async with page.expect_response(f"{fresh_hub}/api/onboarding") as answer:
        await page.goto(attacker)
    response = await answer.value
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "origin_not_allowed"
    assert onboarding_open(fresh_hub)
