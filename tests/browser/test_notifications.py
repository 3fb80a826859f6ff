"""The notification bell in real Chromium over a real hub served from this test's loop: a notification
sent through the hub's service shows on the badge at once, the panel lists it, and reading,
following and deleting it work, in English on a desktop and in German on a phone."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Page, ViewportSize, expect

from hub.api.state import NOTIFICATIONS
from hub.core.notifications import Notifications
from tests.browser.conftest import ARTIFACTS, served_hub

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
# Where a notification leads: a place in the web UI (a workflow run's, from a workflow).
LINK = "#/settings/account"
ENGLISH = ("Notifications", "Mark all read", "Mark read", "Delete", "Open", "Close", "unread")


@dataclass
class BellHub:
    """A hub served on 127.0.0.1 from this test's loop, and its owner."""

    url: str
    tokens: dict[str, Any]
    app: web.Application
    person_id: str = ""

    @property
    def notifications(self) -> Notifications:
        """The hub's notification service, as a workflow's notify step uses it."""
        return self.app[NOTIFICATIONS]

    async def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the REST API as the owner; the answer (asserting a 2xx)."""
        headers = {"Authorization": f"Bearer {self.tokens['access_token']}"}
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.url + path, json=body, headers=headers) as resp,
        ):
            answer = await resp.json() if resp.content_type == "application/json" else None
            assert resp.status < 300, answer
            return answer

    async def send(self, title: str, message: str, link: str | None = None) -> str:
        """Notify the owner; the notification's id."""
        [sent] = await self.notifications.send(
            [self.person_id], title, message, source="workflow:w1", link=link
        )
        return sent


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[BellHub]:
    """An onboarded hub without integrations."""
    async with served_hub(tmp_path) as (url, tokens, app):
        hub = BellHub(url, tokens, app)
        hub.person_id = (await hub.api("GET", "/api/auth/current_user"))["id"]
        yield hub


@pytest.fixture
async def page(browser: Any, hub: BellHub, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A page signed in as the owner; kept as a screenshot when the test fails."""
    context = await browser.new_context(viewport=DESKTOP)
    session = json.dumps({k: hub.tokens[k] for k in ("access_token", "refresh_token")})
    await context.add_init_script(f"localStorage.setItem('hub.session', {json.dumps(session)});")
    opened: Page = await context.new_page()
    yield opened
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        await opened.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    await context.close()


def console_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda err: errors.append(str(err)))
    return errors


async def test_a_notification_shows_live_and_is_read_followed_and_deleted(
    hub: BellHub, page: Page
) -> None:
    errors = console_errors(page)
    await page.goto(hub.url + "/#/entities")
    bell = page.get_by_role("button", name="Notifications", exact=True)
    await expect(bell).to_be_visible()
    badge = page.locator(".nav__bell-count")
    await expect(badge).to_be_hidden()

    # Sent while the page is open: the badge counts it without a reload.
    await hub.send("Run failed", "Step 2 (http) answered 500.", LINK)
    bell = page.get_by_role("button", name="Notifications, 1 unread")
    await expect(bell).to_be_visible()
    await expect(badge).to_have_text("1")

    await bell.click()
    panel = page.get_by_role("region", name="Notifications")
    await expect(panel).to_be_visible()
    await expect(panel.get_by_role("listitem")).to_have_count(1)
    item = panel.get_by_role("listitem").first
    await expect(item).to_contain_text("Run failed")
    await expect(item).to_contain_text("Step 2 (http) answered 500.")
    await expect(item.locator("time")).to_have_text(re.compile(r"\d"))
    await expect(item.get_by_role("link", name="Open “Run failed”")).to_have_attribute("href", LINK)

    # A second one arrives while the panel is open: it is listed on top.
    await hub.send("Door open", "The back door is open.")
    await expect(page.get_by_role("button", name="Notifications, 2 unread")).to_be_visible()
    await expect(panel.get_by_role("listitem")).to_have_count(2)
    await expect(panel.get_by_role("listitem").first).to_contain_text("Door open")

    await panel.get_by_role("button", name="Mark “Door open” read").click()
    await expect(badge).to_have_text("1")
    await expect(panel.get_by_role("button", name="Mark “Door open” read")).to_have_count(0)
    listed = await hub.api("GET", "/api/notifications?unread=1")
    assert [n["title"] for n in listed["notifications"]] == ["Run failed"]

    # Following the link marks it read, closes the panel and goes to the run.
    await panel.get_by_role("link", name="Open “Run failed”").click()
    await expect(page).to_have_url(re.compile(re.escape(LINK) + "$"))
    await expect(panel).to_be_hidden()
    await expect(badge).to_be_hidden()
    await expect(page.get_by_role("button", name="Notifications", exact=True)).to_be_visible()

    await page.get_by_role("button", name="Notifications", exact=True).click()
    await panel.get_by_role("button", name="Delete “Door open”").click()
    await expect(panel.get_by_role("listitem")).to_have_count(1)
    listed = await hub.api("GET", "/api/notifications")
    assert [n["title"] for n in listed["notifications"]] == ["Run failed"]

    # Marking all read from another device reaches this one too.
    await hub.send("Backup done", "All good.")
    await expect(badge).to_have_text("1")
    await hub.api("POST", "/api/notifications/read", {})
    await expect(badge).to_be_hidden()
    await expect(panel.get_by_role("button", name="Mark “Backup done” read")).to_have_count(0)
    await page.keyboard.press("Escape")
    await expect(panel).to_be_hidden()
    await expect(page.get_by_role("button", name="Notifications", exact=True)).to_be_focused()
    assert errors == [], "\n".join(errors)


async def test_in_german_on_a_phone_the_bell_and_panel_fit_and_mark_all_read(
    hub: BellHub, page: Page
) -> None:
    errors = console_errors(page)
    await hub.api("PATCH", f"/api/people/{hub.person_id}", {"language": "de"})
    await page.set_viewport_size(PHONE)
    await page.goto(hub.url + "/#/entities")
    await expect(page.get_by_role("button", name="Benachrichtigungen", exact=True)).to_be_visible()
    await hub.send("Lauf fehlgeschlagen", "Schritt 2 ist fehlgeschlagen.", LINK)
    await hub.send("Tür offen", "Die Hintertür steht offen.")

    bell = page.get_by_role("button", name="Benachrichtigungen, 2 ungelesen")
    await expect(bell).to_be_in_viewport()
    await bell.click()
    panel = page.get_by_role("region", name="Benachrichtigungen")
    await expect(panel).to_be_visible()
    await expect(panel.get_by_role("listitem")).to_have_count(2)
    await expect(panel.get_by_role("link", name="„Lauf fehlgeschlagen“ öffnen")).to_be_visible()
    text = await panel.inner_text()
    assert not [word for word in ENGLISH if word in text], text
    box = await panel.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= PHONE["width"]
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    await panel.get_by_role("button", name="„Tür offen“ als gelesen markieren").click()
    await expect(page.get_by_role("button", name="Benachrichtigungen, 1 ungelesen")).to_be_visible()
    await panel.get_by_role("button", name="Alle als gelesen markieren").click()
    await expect(page.locator(".nav__bell-count")).to_be_hidden()
    await expect(page.get_by_role("button", name="Benachrichtigungen", exact=True)).to_be_visible()
    await expect(panel.get_by_role("button", name="Alle als gelesen markieren")).to_be_disabled()
    assert (await hub.api("GET", "/api/notifications"))["unread"] == 0

    await panel.get_by_role("button", name="Schließen").click()
    await expect(panel).to_be_hidden()
    assert errors == [], "\n".join(errors)
