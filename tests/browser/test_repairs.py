"""The Repairs badge in real Chromium over a real ``hub run``: an OpenProject entry whose key stops
working raises a repair that shows on the badge at once, the panel words it in the person's language
(German here), its fix opens the entry's reauth flow, and the repair goes away when that succeeds.
The diagnostics downloads (an entry's on the entries page, the hub's in Settings) carry no secret."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Page, expect

from hub.api.repairs import REPAIRS
from hub.integrations.translations import fill
from tests.browser.conftest import ARTIFACTS, RunningHub, served_hub
from tests.fakes.openproject import API_KEY, FakeOpenProject

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def hub_text(language: str, key: str, **params: Any) -> str:
    """The hub's own sentence for ``key`` (``repairs.reauth_required.title``), filled."""
    node: Any = json.loads((ROOT / "hub" / "translations" / f"{language}.json").read_text("utf-8"))
    for part in key.split("."):
        node = node[part]
    return fill(str(node), params)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeOpenProject, str]]:
    """A fake OpenProject on 127.0.0.1 (the hub runs in its own process), and its URL."""
    server = FakeOpenProject()
    server.add_project("home", "Home")
    runner = web.AppRunner(server.app(), shutdown_timeout=1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield server, f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def add_openproject(hub: RunningHub, url: str) -> dict[str, Any]:
    """An OpenProject entry made through its flow; the entry."""
    form = await hub.api("POST", "/api/config-flows", {"domain": "openproject"})
    done = await hub.api(
        "POST",
        f"/api/config-flows/{form['flow_id']}",
        {"user_input": {"base_url": url, "api_key": API_KEY}},
    )
    assert done["type"] == "create_entry", done
    return dict(await hub.api("GET", f"/api/config-entries/{done['entry_id']}"))


@pytest.fixture
async def page(
    browser: Any, hub: RunningHub, request: pytest.FixtureRequest
) -> AsyncIterator[Page]:
    """A page signed in as the owner, on the test's viewport; kept as a screenshot on failure."""
    callspec = getattr(request.node, "callspec", None)
    viewport = callspec.params["viewport"] if callspec else DESKTOP
    ctx = await browser.new_context(viewport=viewport, accept_downloads=True)
    session = json.dumps({k: hub.tokens[k] for k in ("access_token", "refresh_token")})
    await ctx.add_init_script(f"localStorage.setItem('hub.session', {json.dumps(session)});")
    opened: Page = await ctx.new_page()
    yield opened
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        await opened.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    await ctx.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_a_refused_key_raises_a_repair_live_whose_fix_is_the_reauth_flow(
    page: Page, hub: RunningHub, fake: tuple[FakeOpenProject, str], viewport: dict[str, int]
) -> None:
    server, url = fake
    me = await hub.api("GET", "/api/auth/current_user")
    await hub.api("PATCH", f"/api/people/{me['id']}", {"language": "de"})
    entry = await add_openproject(hub, url)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    await page.goto(hub.url + "/#/entities")
    await expect(page.get_by_role("button", name="Benachrichtigungen", exact=True)).to_be_visible()
    badge = page.locator(".nav__repairs")
    await expect(badge).to_be_hidden()

    # The key stops working; the next sync meets it while the page is open.
    server.key = "rotated"
    await hub.api("POST", f"/api/config-entries/{entry['entry_id']}/sync")
    button = page.get_by_role("button", name="1 Reparatur", exact=True)
    await expect(button).to_be_visible()
    await expect(page.locator(".nav__repairs-count")).to_have_text("1")

    await button.click()
    panel = page.get_by_role("region", name="Reparaturen")
    await expect(panel).to_be_visible()
    item = panel.get_by_role("listitem")
    await expect(item).to_have_count(1)
    params = {"title": entry["title"], "domain": "openproject"}
    title = hub_text("de", "repairs.reauth_required.title", **params)
    await expect(item).to_contain_text(title)
    await expect(item).to_contain_text(hub_text("de", "repairs.reauth_required.text", **params))
    # Not safe to ignore: the entry stays stopped until it has a key again.
    await expect(item.get_by_role("button", name=f"Ignorieren: {title}")).to_have_count(0)

    # The fix is the entry's reauth flow; a working key ends the repair, live.
    await item.get_by_role("button", name=f"Beheben: {title}").click()
    wizard = page.get_by_role("dialog")
    await expect(wizard).to_be_visible()
    server.key = API_KEY
    await wizard.get_by_role("textbox", name="API-Schlüssel").fill(API_KEY)
    await wizard.get_by_role("button", name="Absenden").click()
    await expect(wizard).to_be_hidden()
    await expect(badge).to_be_hidden()
    fixed = await hub.api("GET", f"/api/config-entries/{entry['entry_id']}")
    assert fixed["state"] == "loaded"
    assert (await hub.api("GET", "/api/repairs"))["repairs"] == []
    assert errors == []


async def test_diagnostics_download_from_the_entry_and_from_settings_without_the_key(
    page: Page, hub: RunningHub, fake: tuple[FakeOpenProject, str], tmp_path: Path
) -> None:
    _, url = fake
    entry = await add_openproject(hub, url)
    await page.goto(hub.url + "/#/entries")
    button = page.get_by_role("button", name=f"Diagnostics: {entry['title']}")
    async with page.expect_download() as downloading:
        await button.click()
    download = await downloading.value
    assert download.suggested_filename.endswith(".json")
    saved = tmp_path / "entry.json"
    await download.save_as(saved)
    text = saved.read_text("utf-8")
    report = json.loads(text)
    assert entry["entry_id"] in text
    assert report
    assert API_KEY not in text

    await page.goto(hub.url + "/#/settings/diagnostics")
    section = page.locator("#settings-diagnostics-section")
    await expect(section.get_by_role("heading", name="Diagnostics")).to_be_visible()
    async with page.expect_download() as downloading:
        await section.get_by_role("button", name="Download diagnostics").click()
    download = await downloading.value
    saved = tmp_path / "hub.json"
    await download.save_as(saved)
    text = saved.read_text("utf-8")
    assert json.loads(text)
    assert entry["entry_id"] in text
    assert API_KEY not in text


@pytest.fixture
async def local_hub(tmp_path: Path) -> AsyncIterator[tuple[str, dict[str, Any], web.Application]]:
    """An onboarded hub without integrations served from this test's loop: URL, tokens, app."""
    async with served_hub(tmp_path) as served:
        yield served


async def test_a_repair_safe_to_ignore_is_dismissed_and_stays_dismissed(
    browser: Any, local_hub: tuple[str, dict[str, Any], web.Application]
) -> None:
    url, tokens, app = local_hub
    ctx = await browser.new_context(viewport=DESKTOP)
    session = json.dumps({k: tokens[k] for k in ("access_token", "refresh_token")})
    await ctx.add_init_script(f"localStorage.setItem('hub.session', {json.dumps(session)});")
    page = await ctx.new_page()
    try:
        await page.goto(url + "/#/entities")
        await expect(page.get_by_role("button", name="Notifications", exact=True)).to_be_visible()
        # Raised through the registry as the scheduled backup raises it, here as safe to ignore.
        params = {"reason": "No space left on device"}
        app[REPAIRS].raise_(
            "backup_failed",
            issue_id="backup_failed",
            severity="error",
            params=params,
            fix={"kind": "link", "href": "#/settings/backups"},
            dismissable=True,
        )
        button = page.get_by_role("button", name="1 repair", exact=True)
        await button.click()
        panel = page.get_by_role("region", name="Repairs")
        title = hub_text("en", "repairs.backup_failed.title", **params)
        item = panel.get_by_role("listitem")
        await expect(item).to_contain_text(title)
        await expect(item).to_contain_text(hub_text("en", "repairs.backup_failed.text", **params))
        link = item.get_by_role("link", name=f"Open: {title}")
        await expect(link).to_have_attribute("href", "#/settings/backups")

        await item.get_by_role("button", name=f"Ignore: {title}").click()
        await expect(panel).to_contain_text("Nothing needs your attention.")
        await panel.get_by_role("button", name="Close").click()
        await expect(page.locator(".nav__repairs")).to_be_hidden()
        await page.reload()
        await expect(page.get_by_role("button", name="Notifications", exact=True)).to_be_visible()
        await expect(page.locator(".nav__repairs")).to_be_hidden()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        async with (
            aiohttp.ClientSession() as client,
            client.get(f"{url}/api/repairs", headers=headers) as resp,
        ):
            assert (await resp.json())["repairs"] == []
    finally:
        await ctx.close()
