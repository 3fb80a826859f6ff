"""The shell in a real browser: onboarding, sign-in, navigation, language, sign-out."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect

from tests.browser.conftest import RunningHub, _signed_in_page


async def test_onboarding_creates_the_owner_and_signs_in(fresh_hub: str, browser: Any) -> None:
    page = await (await browser.new_context()).new_page()
    await page.goto(fresh_hub)
    await expect(page.get_by_role("heading", name="Welcome to your hub")).to_be_visible()
    await page.get_by_label("Username").fill("owner")
    await page.get_by_label("Password", exact=True).fill("a long passphrase")
    await page.get_by_label("Password again").fill("a long passphrase")
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Username").fill("owner")
    await page.get_by_label("Password").fill("wrong password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    await page.get_by_label("Password").fill("a long passphrase")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()


async def test_the_ui_is_served_compressed_with_validators(hub: RunningHub) -> None:
    import aiohttp

    async with aiohttp.ClientSession(auto_decompress=False) as session:
        async with session.get(hub.url + "/js/app.js", headers={"Accept-Encoding": "gzip"}) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Encoding"] == "gzip"
            assert (
                resp.headers["Content-Type"].startswith("text/javascript")
                or "javascript" in resp.headers["Content-Type"]
            )
            etag = resp.headers["ETag"]
        async with session.get(hub.url + "/js/app.js", headers={"If-None-Match": etag}) as resp:
            assert resp.status == 304
        async with session.get(hub.url + "/api/nothing-here") as resp:
            assert resp.status == 401, "API paths never fall through to the UI"


async def test_a_german_person_gets_a_german_shell(hub: RunningHub, browser: Any) -> None:
    me = await hub.api("GET", "/api/auth/current_user")
    await hub.api("PATCH", f"/api/people/{me['id']}", {"language": "de"})
    page = await (await browser.new_context()).new_page()
    await page.goto(hub.url)
    # Before signing in the browser's language rules (English here); after, the person's.
    await page.get_by_label("Username").fill("owner")
    await page.get_by_label("Password").fill("owner-password-1")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Abmelden")).to_be_visible()


async def test_onboarding_refuses_passwords_that_differ_in_the_browsers_language(
    fresh_hub: str, browser: Any
) -> None:
    context = await browser.new_context(locale="de-DE", viewport={"width": 390, "height": 844})
    page = await context.new_page()
    await page.goto(fresh_hub)
    # Nobody is signed in yet: the browser's language speaks, German here.
    await expect(page.get_by_role("heading", name="Willkommen bei deinem Hub")).to_be_visible()
    await expect(page.get_by_role("link", name="Zum Inhalt springen")).to_be_attached()
    await page.get_by_label("Benutzername").fill("owner")
    await page.get_by_label("Passwort", exact=True).fill("a long passphrase")
    await page.get_by_label("Passwort wiederholen").fill("a long passphrasf")
    await page.get_by_role("button", name="Konto anlegen").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Die beiden Passwörter stimmen nicht überein."
    )
    await expect(page.get_by_role("heading", name="Willkommen bei deinem Hub")).to_be_visible()

    await page.get_by_label("Passwort wiederholen").fill("a long passphrase")
    await page.get_by_role("button", name="Konto anlegen").click()
    await expect(page.get_by_role("button", name="Menü")).to_be_visible()


async def _height(locator: Any) -> float:
    box = await locator.bounding_box()
    assert box is not None
    return float(box["height"])


async def test_a_phone_gets_one_bar_with_a_menu_of_every_page(
    hub: RunningHub, browser: Any
) -> None:
    page = await _signed_in_page(browser, hub)
    await page.set_viewport_size({"width": 390, "height": 844})
    nav = page.get_by_role("navigation", name="Main")
    menu = nav.get_by_role("button", name="Menu")
    await expect(menu).to_have_attribute("aria-expanded", "false")
    assert await _height(nav) <= 64
    await expect(nav.get_by_role("link", name="Chat")).to_be_hidden()

    pages = {
        "Chat": "chat",
        "Entities": "entities",
        "Dashboards": "dashboards",
        "Integrations": "integrations",
        "Entries": "entries",
        "Settings": "settings",
    }
    for label, route in pages.items():
        await menu.click()
        await expect(menu).to_have_attribute("aria-expanded", "true")
        await nav.get_by_role("link", name=label, exact=True).click()
        await expect(page).to_have_url(re.compile(f"#/{route}$"))
        await expect(menu).to_have_attribute("aria-expanded", "false")
        await expect(nav.get_by_role("link", name=label, exact=True)).to_be_hidden()
        assert await _height(nav) <= 64, route

    await menu.click()
    await expect(nav.get_by_role("button", name="Sign out")).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(menu).to_have_attribute("aria-expanded", "false")
    await expect(nav.get_by_role("button", name="Sign out")).to_be_hidden()

    # On a desktop the same navigation is a bar of links, with no menu button.
    await page.set_viewport_size({"width": 1280, "height": 800})
    await expect(menu).to_be_hidden()
    await expect(nav.get_by_role("link", name="Integrations")).to_be_visible()
    assert await _height(nav) <= 64


async def test_a_german_phone_menu_and_toasts_that_end_with_their_page(
    hub: RunningHub, browser: Any
) -> None:
    me = await hub.api("GET", "/api/auth/current_user")
    await hub.api("PATCH", f"/api/people/{me['id']}", {"language": "de"})
    page = await _signed_in_page(browser, hub)
    await page.set_viewport_size({"width": 390, "height": 844})
    menu = page.get_by_role("button", name="Menü")
    await menu.click()
    await page.get_by_role("link", name="Einstellungen", exact=True).click()
    await page.get_by_role("textbox", name="Anzeigename").first.fill("Chefin")
    await page.get_by_role("form", name="Anzeigename").get_by_role("button").click()
    saved = page.get_by_role("status").filter(has_text="Anzeigename gespeichert")
    await expect(saved).to_be_visible()
    await menu.click()
    await page.get_by_role("link", name="Entitäten", exact=True).click()
    await expect(page).to_have_url(re.compile("#/entities$"))
    await expect(saved).to_have_count(0)
    await menu.click()
    await expect(page.get_by_role("navigation").get_by_text("Chefin")).to_be_visible()
