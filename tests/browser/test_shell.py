"""The shell in a real browser: onboarding, sign-in, navigation, language, sign-out."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.browser.conftest import RunningHub


async def test_onboarding_creates_the_owner_and_signs_in(fresh_hub: str, browser: Any) -> None:
    page = await (await browser.new_context()).new_page()
    await page.goto(fresh_hub)
    await expect(page.get_by_role("heading", name="Welcome to your hub")).to_be_visible()
    await page.get_by_label("Username").fill("owner")
    await page.get_by_label("Password").fill("a long passphrase")
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
