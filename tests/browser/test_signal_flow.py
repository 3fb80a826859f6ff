"""Linking a Signal account in a real browser against the fake bridge: the QR shows, linking completes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Page, expect

from tests.browser.conftest import RunningHub
from tests.fakes.signal import FakeSignal

NUMBER = "+4915112345678"


@pytest.fixture
async def bridge() -> AsyncIterator[tuple[FakeSignal, str]]:
    """The fake signal-cli-rest-api on a real port (the hub runs in its own process)."""
    fake = FakeSignal()
    runner = web.AppRunner(fake.app(), shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield fake, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_the_qr_code_shows_and_scanning_it_links_the_account(
    bridge: tuple[FakeSignal, str], page: Page, hub: RunningHub
) -> None:
    fake, url = bridge
    await page.goto(hub.url + "/#/integrations")
    await page.get_by_label("Search by name or domain").fill("signal")
    await page.get_by_role("button", name="Add Signal", exact=True).click()
    wizard = page.get_by_role("dialog", name="Link a Signal account")
    await expect(wizard.get_by_label("Bridge address")).to_have_value("http://127.0.0.1:8080")
    await wizard.get_by_label("Phone number").fill("0151 12345678")
    await wizard.get_by_label("Bridge address").fill(url)
    await wizard.get_by_role("button", name="Submit").click()
    await expect(wizard).to_contain_text("international format")  # the form says what is wrong

    await wizard.get_by_label("Phone number").fill(NUMBER)
    await wizard.get_by_role("button", name="Submit").click()
    wizard = page.get_by_role("dialog", name="Link this hub")
    qr = wizard.get_by_role("img", name="Scan this code in Signal")
    await expect(qr).to_be_visible()
    width: Any = await qr.evaluate("img => img.complete && img.naturalWidth")
    assert isinstance(width, int)
    assert width > 100  # a real image the browser decoded, not a broken icon

    await wizard.get_by_role("button", name="Submit").click()  # not scanned yet
    await expect(wizard.get_by_role("alert")).to_contain_text("not linked to this number yet")
    assert fake.qr_requests == 2

    assert fake.scan(NUMBER)  # the phone scans the fresh code
    await wizard.get_by_role("button", name="Submit").click()
    await expect(wizard).to_have_count(0)
    await expect(page.get_by_role("article", name=NUMBER)).to_contain_text("Loaded")
    [entry] = (await hub.api("GET", "/api/config-entries"))["entries"]
    assert entry["data"] == {"number": NUMBER, "base_url": url}
