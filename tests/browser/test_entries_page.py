"""Adding, the catalog and the entries page as a newcomer meets them, in English and German."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Page, Route, expect

from tests.browser.conftest import RunningHub
from tests.fakes.openproject import API_KEY, FakeOpenProject

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
MEMBER = {"username": "member", "password": "member-password-1"}


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def openproject() -> AsyncIterator[str]:
    """A fake OpenProject on 127.0.0.1 (the hub runs in its own process); its URL."""
    runner = web.AppRunner(FakeOpenProject().app(), shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def set_language(hub: RunningHub, language: str) -> None:
    """The owner's own language setting."""
    me = await hub.api("GET", "/api/auth/current_user")
    await hub.api("PATCH", f"/api/people/{me['id']}", {"language": language})


async def signed_in(browser: Any, hub: RunningHub, tokens: dict[str, Any], **context: Any) -> Page:
    """A new browser context signed in with ``tokens``."""
    ctx = await browser.new_context(**context)
    session = json.dumps({k: tokens[k] for k in ("access_token", "refresh_token")})
    await ctx.add_init_script(f"localStorage.setItem('hub.session', {json.dumps(session)});")
    page: Page = await ctx.new_page()
    return page


async def member_tokens(hub: RunningHub, language: str = "en") -> dict[str, Any]:
    """Add a person who is not an admin; their tokens."""
    person = await hub.api("POST", "/api/people", {**MEMBER, "is_admin": False})
    await hub.api("PATCH", f"/api/people/{person['id']}", {"language": language})
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{hub.url}/api/auth/login", json=MEMBER) as resp,
    ):
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())


async def no_placeholder_text(page: Page) -> None:
    """No visible text node reads null, undefined or [object Object]."""
    found = await page.evaluate(
        """() => {
          const bad = new Set(["null", "undefined", "[object Object]"]);
          const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
          const hits = [];
          for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const text = node.textContent.trim();
            if (bad.has(text) && node.parentElement?.checkVisibility()) hits.push(text);
          }
          return hits;
        }"""
    )
    assert found == []


# 1 and 6: an unreachable service asks; waiting shows progress; Cancel works while waiting


@pytest.mark.parametrize("language", ["en", "de"])
async def test_an_unreachable_server_is_explained_and_can_be_added_anyway(
    browser: Any, hub: RunningHub, openproject: str, language: str
) -> None:
    words = {
        "en": {
            "add": "Add OpenProject",
            "url": "OpenProject URL",
            "key": "API key",
            "submit": "Submit",
            "refused": "Authentication failed",
            "asked": "OpenProject did not answer",
            "reason": "Nothing answered at this address.",
            "back": "Back",
            "anyway": "Add anyway",
            "added": "has been added. It will connect as soon as the server answers.",
            "badge": "Cannot connect, retrying",
            "problem": "The service cannot be reached.",
        },
        "de": {
            "add": "OpenProject hinzufügen",
            "url": "OpenProject-Adresse",
            "key": "API-Schlüssel",
            "submit": "Absenden",
            "refused": "Anmeldung fehlgeschlagen",
            "asked": "OpenProject antwortet nicht",
            "reason": "Unter dieser Adresse antwortet nichts.",
            "back": "Zurück",
            "anyway": "Trotzdem hinzufügen",
            "added": "Die Verbindung entsteht, sobald der Server antwortet.",
            "badge": "Keine Verbindung, neuer Versuch folgt",
            "problem": "Der Dienst ist nicht erreichbar.",
        },
    }[language]
    await set_language(hub, language)
    page = await signed_in(browser, hub, hub.tokens, viewport=DESKTOP)
    await page.goto(hub.url + "/#/integrations")
    await page.get_by_role("button", name=words["add"]).click()
    wizard = page.get_by_role("dialog")
    await wizard.get_by_label(words["url"]).fill(openproject)

    # A refused key is still an error on the form itself.
    await wizard.get_by_label(words["key"]).fill("wrong-key")
    await wizard.get_by_role("button", name=words["submit"]).click()
    await expect(wizard.get_by_role("alert")).to_contain_text(words["refused"])

    # Nobody answers at the address: the person is told what failed and asked.
    url = f"http://127.0.0.1:{closed_port()}"
    await wizard.get_by_label(words["url"]).fill(url)
    await wizard.get_by_label(words["key"]).fill(API_KEY)
    await wizard.get_by_role("button", name=words["submit"]).click()
    asked = page.get_by_role("dialog", name=words["asked"])
    await expect(asked).to_contain_text(url)
    await expect(asked.get_by_role("alert")).to_have_text(words["reason"])
    await expect(asked).not_to_contain_text(words["refused"])  # the old error is gone
    await expect(asked).not_to_contain_text("ClientConnectorError")
    await no_placeholder_text(page)

    # Back keeps what was typed; asked again, "add anyway" adds it in one clear state.
    await asked.get_by_role("button", name=words["back"]).click()
    await expect(wizard.get_by_label(words["url"])).to_have_value(url)
    await expect(wizard.get_by_label(words["key"])).to_have_value(API_KEY)
    await wizard.get_by_role("button", name=words["submit"]).click()
    await asked.get_by_role("button", name=words["anyway"]).click()
    await expect(page.get_by_role("status").filter(has_text=words["added"])).to_be_visible()
    entry = page.get_by_role("article", name=url)
    await expect(entry.locator(".badge")).to_have_text(words["badge"])
    await expect(entry.locator(".badge")).to_have_count(1)
    await expect(entry).to_contain_text(words["problem"])
    for wrong in ("Loaded", "Geladen", "Degraded", "Eingeschränkt", "ClientConnectorError"):
        await expect(entry.get_by_text(wrong)).not_to_be_visible()
    await no_placeholder_text(page)


async def test_waiting_shows_progress_and_cancel_stops_it(page: Page, hub: RunningHub) -> None:
    hold = asyncio.Event()
    held = asyncio.Event()
    release = asyncio.Event()

    async def slow(route: Route) -> None:
        if route.request.method != "POST" or not hold.is_set():
            await route.continue_()
            return
        held.set()
        await release.wait()
        with contextlib.suppress(Exception):  # the page stopped waiting: nothing to answer
            await route.continue_()

    await page.route(f"{hub.url}/api/config-flows/*", slow)
    await page.goto(hub.url + "/#/integrations")
    await page.get_by_role("button", name="Add Helpers").click()
    wizard = page.get_by_role("dialog", name="Add a helper")
    await wizard.get_by_label("Kind").select_option(label="Number")
    await wizard.get_by_label("Minimum").fill("10")
    await wizard.get_by_label("Maximum").fill("5")
    await wizard.get_by_role("button", name="Submit").click()
    problem = wizard.get_by_text("The maximum must be greater than the minimum.")
    await expect(problem).to_be_visible()

    hold.set()  # the server is slow now
    await wizard.get_by_label("Name").fill("Slow one")
    await wizard.get_by_role("button", name="Submit").click()
    await held.wait()
    await expect(wizard).to_have_attribute("aria-busy", "true")
    await expect(wizard.get_by_role("status")).to_have_text("Waiting for the server…")
    await expect(problem).to_have_count(0)  # the last answer's error is not left on screen
    await expect(wizard.get_by_role("button", name="Submit")).to_be_disabled()
    cancel = wizard.get_by_role("button", name="Cancel")
    await expect(cancel).to_be_enabled()
    async with page.expect_request(lambda request: request.method == "DELETE") as abandoned:
        await cancel.click()
    assert "/api/config-flows/" in (await abandoned.value).url
    await expect(wizard).to_have_count(0)
    release.set()
    assert await hub.api("GET", "/api/config-entries") == {"entries": []}


# 2: an aborted flow says why, never "null"


@pytest.mark.parametrize(
    ("language", "add", "sentence"),
    [
        ("en", "Add System Monitor", "System Monitor is already set up."),
        ("de", "Systemmonitor hinzufügen", "Systemmonitor ist bereits eingerichtet."),
    ],
)
async def test_an_aborted_flow_says_why(
    browser: Any, hub: RunningHub, language: str, add: str, sentence: str
) -> None:
    await set_language(hub, language)
    page = await signed_in(browser, hub, hub.tokens, viewport=DESKTOP)
    await page.goto(hub.url + "/#/integrations")
    button = page.get_by_role("button", name=add)
    await expect(button).to_be_visible()
    # Set up elsewhere after this page was loaded: the flow itself refuses.
    await hub.api("POST", "/api/config-flows", {"domain": "system_monitor"})
    await button.click()
    wizard = page.get_by_role("dialog")
    await expect(wizard.get_by_role("alert")).to_contain_text(sentence)
    await no_placeholder_text(page)


# 3: a member sees household entries read-only, and manages their own


async def test_a_member_sees_household_entries_read_only(browser: Any, hub: RunningHub) -> None:
    flow = await hub.api("POST", "/api/config-flows", {"domain": "helpers"})
    await hub.api(
        "POST",
        f"/api/config-flows/{flow['flow_id']}",
        {"user_input": {"name": "Guest mode", "kind": "toggle"}},
    )
    tokens = await member_tokens(hub, "de")
    page = await signed_in(browser, hub, tokens, viewport=DESKTOP)
    await page.goto(hub.url + "/#/entries")
    household = page.get_by_role("article", name="Guest mode")
    await expect(household).to_contain_text("verwaltet von einem Administrator")
    await expect(household.get_by_role("button")).to_have_count(0)
    await expect(household.get_by_text("Webhook-URL")).to_have_count(0)

    # Their own entry keeps what they may do.
    await page.get_by_role("link", name="Integrationen").click()
    await page.get_by_role("button", name="Helfer hinzufügen").click()
    wizard = page.get_by_role("dialog", name="Helfer hinzufügen")
    await wizard.get_by_label("Name").fill("Mein Schalter")
    await wizard.get_by_role("button", name="Absenden").click()
    mine = page.get_by_role("article", name="Mein Schalter")
    await expect(mine.get_by_role("button", name="Umbenennen: Mein Schalter")).to_be_visible()
    await expect(mine.get_by_role("button", name="Löschen: Mein Schalter")).to_be_visible()
    await expect(household.get_by_role("button")).to_have_count(0)
    await no_placeholder_text(page)


# 5: the catalog, on a phone too


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_the_catalog_says_what_each_integration_is_for(
    browser: Any, hub: RunningHub, viewport: dict[str, int]
) -> None:
    await hub.api("POST", "/api/config-flows", {"domain": "system_monitor"})
    await set_language(hub, "de")
    page = await signed_in(browser, hub, hub.tokens, viewport=viewport)
    await page.goto(hub.url + "/#/integrations")
    helpers = page.get_by_role("article", name="Helfer")
    await expect(helpers).to_contain_text("Schalter, Zahlen und Tasten")
    await expect(helpers.locator("img.catalog-icon")).to_have_attribute(
        "src", "/integration-icons/helpers.svg"
    )
    assert await helpers.locator("img.catalog-icon").evaluate("img => img.naturalWidth > 0")
    await expect(helpers.locator(".badge")).to_have_count(0)
    monitor = page.get_by_role("article", name="Systemmonitor")
    await expect(monitor.get_by_role("link", name="Schon eingerichtet")).to_be_visible()
    await expect(monitor.get_by_role("button", name="Systemmonitor hinzufügen")).to_have_count(0)
    await expect(monitor).to_contain_text("Einmal eingerichtet")
    # Developer facts wait behind "Details" (admins only).
    await expect(helpers.get_by_text("helpers", exact=True)).not_to_be_visible()
    await helpers.get_by_text("Details", exact=True).click()
    await expect(helpers.get_by_text("helpers", exact=True)).to_be_visible()
    width = await page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= viewport["width"], "nothing sticks out sideways"
    await no_placeholder_text(page)


# 8 and 15: only what applies, renaming, and a delete that says what happens


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_entries_show_only_what_applies_and_can_be_renamed(
    browser: Any, hub: RunningHub, viewport: dict[str, int]
) -> None:
    await hub.api("POST", "/api/config-flows", {"domain": "text_tools"})
    flow = await hub.api("POST", "/api/config-flows", {"domain": "webhook"})
    await hub.api(
        "POST", f"/api/config-flows/{flow['flow_id']}", {"user_input": {"name": "Door bell"}}
    )
    page = await signed_in(browser, hub, hub.tokens, viewport=viewport)
    second = await signed_in(browser, hub, hub.tokens, viewport=DESKTOP)
    await page.goto(hub.url + "/#/entries")
    await second.goto(hub.url + "/#/entries")

    tools = page.get_by_role("article", name="Text Tools")
    await expect(tools).to_be_visible()
    for absent in ("Webhook URL", "Health", "Unknown", "pushes its updates", "Last sync"):
        await expect(tools.get_by_text(absent)).to_have_count(0)
    await expect(tools.get_by_role("button", name="Reconfigure: Text Tools")).to_have_count(0)
    hook = page.get_by_role("article", name="Door bell")
    await expect(hook.get_by_text("Webhook URL", exact=True)).to_be_visible()
    await expect(hook).to_contain_text("pushes its updates")

    # Rename: checked, trimmed, and seen live in the other tab.
    await tools.get_by_role("button", name="Rename: Text Tools").click()
    dialog = page.get_by_role("dialog", name="Rename Text Tools")
    await dialog.get_by_label("Name").fill("   ")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog.get_by_role("alert")).to_have_text("The title must not be empty.")
    await dialog.get_by_label("Name").fill("  Word tools ")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_have_count(0)
    await expect(
        page.get_by_role("status").filter(has_text="Renamed to Word tools.")
    ).to_be_visible()
    await expect(second.get_by_role("article", name="Word tools")).to_be_visible()

    # Delete asks with a body that says what happens.
    renamed = page.get_by_role("article", name="Word tools")
    await renamed.get_by_role("button", name="Delete: Word tools").click()
    confirm = page.get_by_role("dialog", name="Delete Word tools?")
    await expect(confirm).to_contain_text("This cannot be undone.")
    await confirm.get_by_role("button", name="Delete").click()
    await expect(page.get_by_role("article", name="Word tools")).to_have_count(0)
    width = await page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= viewport["width"]
    await no_placeholder_text(page)


async def test_renaming_in_german(browser: Any, hub: RunningHub) -> None:
    await hub.api("POST", "/api/config-flows", {"domain": "text_tools"})
    await set_language(hub, "de")
    page = await signed_in(browser, hub, hub.tokens, viewport=PHONE)
    await page.goto(hub.url + "/#/entries")
    tools = page.get_by_role("article", name="Textwerkzeuge")
    await tools.get_by_role("button", name="Umbenennen: Textwerkzeuge").click()
    dialog = page.get_by_role("dialog", name="Textwerkzeuge umbenennen")
    await dialog.get_by_label("Name").fill(" ")
    await dialog.get_by_role("button", name="Speichern").click()
    await expect(dialog.get_by_role("alert")).to_have_text("Der Titel darf nicht leer sein.")
    await expect(dialog.get_by_label("Name")).to_have_attribute("maxlength", "100")
    await dialog.get_by_label("Name").fill("Meine Werkzeuge")
    await dialog.get_by_role("button", name="Speichern").click()
    await expect(page.get_by_role("article", name="Meine Werkzeuge")).to_be_visible()
    await page.get_by_role("button", name="Löschen: Meine Werkzeuge").click()
    confirm = page.get_by_role("dialog", name="Meine Werkzeuge löschen?")
    await expect(confirm).to_contain_text("Das lässt sich nicht rückgängig machen.")


# 11: the helper wizard shows only what applies to the kind


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ("Add Helpers", "Add a helper", "Kind", "Number", "Toggle", "Minimum", "Change")),
        (
            "de",
            ("Helfer hinzufügen", "Helfer hinzufügen", "Art", "Zahl", "Schalter", "Minimum", ""),
        ),
    ],
)
async def test_the_helper_wizard_asks_only_what_the_kind_needs(
    browser: Any, hub: RunningHub, language: str, words: tuple[str, ...]
) -> None:
    add, heading, kind, number, toggle, minimum, _ = words
    await set_language(hub, language)
    page = await signed_in(browser, hub, hub.tokens, viewport=DESKTOP)
    await page.goto(hub.url + "/#/integrations")
    await page.get_by_role("button", name=add).click()
    wizard = page.get_by_role("dialog", name=heading)
    await expect(wizard.get_by_label(kind).locator("option:checked")).to_have_text(toggle)
    await expect(wizard.get_by_label(minimum)).to_be_hidden()
    await wizard.get_by_label(kind).select_option(label=number)
    await expect(wizard.get_by_label(minimum)).to_be_visible()
    await wizard.get_by_label(kind).select_option(label=toggle)
    await expect(wizard.get_by_label(minimum)).to_be_hidden()
    await wizard.get_by_label("Name").fill("Gast")
    await wizard.get_by_role("button", name="Submit" if language == "en" else "Absenden").click()
    await expect(wizard).to_have_count(0)
    entry = page.get_by_role("article", name="Gast")
    reconfigure = "Reconfigure: Gast" if language == "en" else "Neu konfigurieren: Gast"
    await entry.get_by_role("button", name=reconfigure).click()
    title = "Change Gast" if language == "en" else "„Gast“ ändern"
    await expect(page.get_by_role("dialog", name=title)).to_be_visible()
