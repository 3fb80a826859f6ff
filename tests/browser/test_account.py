"""A person's account in a real browser: throttled sign-in, changing one's password, signing out
everywhere, and an admin editing people."""

from __future__ import annotations

from typing import Any

import aiohttp
from playwright.async_api import expect

from tests.browser.conftest import OWNER, RunningHub, _signed_in_page

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


async def _status_of_login(hub: RunningHub, password: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            hub.url + "/api/auth/login",
            json={"username": OWNER["username"], "password": password},
        ) as resp,
    ):
        return resp.status


async def _sign_in_page(browser: Any, hub: RunningHub, locale: str, viewport: Any) -> Any:
    context = await browser.new_context(locale=locale, viewport=viewport)
    page = await context.new_page()
    await page.goto(hub.url)
    return page


async def test_a_throttled_sign_in_counts_down_with_its_button_disabled(
    hub: RunningHub, browser: Any
) -> None:
    # Four wrong passwords (each answered once its delay is over: 0.5, 1, 2, 4 s).
    for _ in range(4):
        assert await _status_of_login(hub, "not the password") == 401
    english = await _sign_in_page(browser, hub, "en-US", DESKTOP)
    button = english.get_by_role("button", name="Sign in")
    form = english.locator("form.auth")
    await english.get_by_label("Username").fill(OWNER["username"])
    await english.get_by_label("Password").fill("still not the password")
    await button.click()
    # While it is checked (the fifth failure is answered after 5 s), more clicks do nothing.
    await expect(button).to_be_disabled()
    await expect(form).to_have_attribute("aria-busy", "true")
    await expect(english.get_by_role("alert")).to_have_text(
        "Wrong username or password.", timeout=15_000
    )
    await expect(button).to_be_enabled()

    # The delay it earned (8 s) outlasts the 5 s answer: the next try is refused, and says so.
    await button.click()
    await expect(english.get_by_role("alert")).to_contain_text(
        "Too many sign-in attempts. Try again in"
    )
    await expect(button).to_be_disabled()
    await expect(form).to_have_attribute("aria-busy", "false")

    german = await _sign_in_page(browser, hub, "de-DE", PHONE)
    knopf = german.get_by_role("button", name="Anmelden")
    await german.get_by_label("Benutzername").fill(OWNER["username"])
    await german.get_by_label("Passwort").fill(OWNER["password"])
    await knopf.click()
    await expect(german.get_by_role("alert")).to_contain_text(
        "Zu viele Anmeldeversuche. Versuch es in"
    )
    await expect(knopf).to_be_disabled()

    # Once the wait is over, the button works again and the right password signs in.
    await expect(knopf).to_be_enabled(timeout=15_000)
    await expect(german.get_by_role("alert")).to_be_hidden()
    await knopf.click()
    await expect(german.get_by_role("button", name="Menü")).to_be_visible()
    await expect(button).to_be_enabled(timeout=15_000)


async def test_changing_ones_password_needs_it_twice_and_the_old_one_stops_working(
    hub: RunningHub, page: Any
) -> None:
    await page.set_viewport_size(DESKTOP)
    await page.goto(hub.url + "/#/settings/account")
    form = page.get_by_role("form", name="Change password")
    await form.get_by_label("Current password").fill(OWNER["password"])
    await form.get_by_label("New password", exact=True).fill("a brand new passphrase")
    await form.get_by_label("New password again").fill("a brand new passphrasf")
    await form.get_by_role("button", name="Change password").click()
    await expect(form.get_by_role("alert")).to_have_text("The two new passwords do not match.")

    await form.get_by_label("New password again").fill("a brand new passphrase")
    await form.get_by_role("button", name="Change password").click()
    await expect(page.get_by_text("Password changed.")).to_be_visible()
    assert await _status_of_login(hub, OWNER["password"]) == 401
    assert await _status_of_login(hub, "a brand new passphrase") == 200


async def test_signing_out_everywhere_signs_out_another_device(
    hub: RunningHub, browser: Any
) -> None:
    me = await hub.api("GET", "/api/auth/current_user")
    await hub.api("PATCH", f"/api/people/{me['id']}", {"language": "de"})
    other = await _sign_in_page(browser, hub, "de-DE", DESKTOP)
    await other.get_by_label("Benutzername").fill(OWNER["username"])
    await other.get_by_label("Passwort").fill(OWNER["password"])
    await other.get_by_role("button", name="Anmelden").click()
    await expect(other.get_by_role("link", name="Einstellungen")).to_be_visible()

    phone = await _signed_in_page(browser, hub)
    await phone.set_viewport_size(PHONE)
    await phone.goto(hub.url + "/#/settings/account")
    await phone.get_by_role("button", name="Überall sonst abmelden").click()
    ask = phone.get_by_role("dialog", name="Auf allen anderen Geräten abmelden?")
    await expect(ask).to_contain_text("müssen sich neu anmelden")
    await ask.get_by_role("button", name="Überall sonst abmelden").click()
    await expect(phone.get_by_role("status").filter(has_text="andere Anmeldung")).to_be_visible()

    # The other device's socket is closed by the hub; it finds out and shows the sign-in page.
    await expect(other.get_by_role("heading", name="Anmelden")).to_be_visible()
    # This one stays signed in.
    await phone.get_by_role("button", name="Menü").click()
    await phone.get_by_role("link", name="Entitäten").click()
    await expect(phone.get_by_role("heading", name="Anmelden")).to_have_count(0)
    assert (await hub.api("GET", "/api/auth/current_user"))["id"] == me["id"]


async def test_an_admin_edits_a_person_but_cannot_demote_the_last_admin(
    hub: RunningHub, page: Any
) -> None:
    await page.set_viewport_size(DESKTOP)
    await hub.api("POST", "/api/people", {"username": "guest", "password": "guest-password-1"})
    await page.goto(hub.url + "/#/settings/people")
    people = page.get_by_role("table", name="People")

    await page.get_by_role("button", name="Edit owner").click()
    edit = page.get_by_role("dialog", name="Edit owner")
    await edit.get_by_label("Admin").uncheck()
    await edit.get_by_role("button", name="Save").click()
    await expect(edit.get_by_role("alert")).to_have_text(
        "The hub needs at least one admin, so the last admin cannot stop being one."
    )
    await edit.get_by_role("button", name="Cancel").click()

    await page.get_by_role("button", name="Edit guest").click()
    edit = page.get_by_role("dialog", name="Edit guest")
    await edit.get_by_label("Display name").fill("Guest Star")
    await edit.get_by_label("Language").select_option("de")
    await edit.get_by_label("Admin").check()
    await edit.get_by_role("button", name="Save").click()
    await expect(edit).to_have_count(0)
    row = people.get_by_role("row").filter(has_text="guest")
    await expect(row).to_contain_text("Guest Star")
    await expect(row).to_contain_text("Admin")
    await expect(row).to_contain_text("Deutsch")
    guest = next(
        p for p in (await hub.api("GET", "/api/people"))["people"] if p["username"] == "guest"
    )
    assert (guest["display_name"], guest["is_admin"], guest["language"]) == (
        "Guest Star",
        True,
        "de",
    )

    # A confirmation says what will happen, not its question again.
    await page.get_by_role("button", name="Remove guest").click()
    ask = page.get_by_role("dialog", name="Remove guest?")
    await expect(ask).to_contain_text("signed out everywhere")
    await expect(ask.locator("p")).not_to_have_text("Remove guest?")
    await ask.get_by_role("button", name="Cancel").click()
    await expect(people.get_by_role("cell", name="guest", exact=True)).to_be_visible()
