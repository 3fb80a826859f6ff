"""The people part of settings in a real browser: removing someone with entries, changing a password."""

from __future__ import annotations

from typing import Any

import aiohttp
from playwright.async_api import expect

from tests.browser.conftest import OWNER, RunningHub


async def _member_with_an_entry(hub: RunningHub, username: str) -> dict[str, Any]:
    """A member who added a helper of their own; their person record."""
    password = f"{username}-password-1"
    person = await hub.api("POST", "/api/people", {"username": username, "password": password})
    async with aiohttp.ClientSession() as session:
        creds = {"username": username, "password": password}
        async with session.post(hub.url + "/api/auth/login", json=creds) as resp:
            headers = {"Authorization": f"Bearer {(await resp.json())['access_token']}"}
        async with session.post(
            hub.url + "/api/config-flows", json={"domain": "helpers"}, headers=headers
        ) as resp:
            flow = await resp.json()
        user_input = {"user_input": {"name": "Desk lamp", "kind": "toggle"}}
        async with session.post(
            hub.url + f"/api/config-flows/{flow['flow_id']}", json=user_input, headers=headers
        ) as resp:
            assert (await resp.json())["type"] == "create_entry"
    return dict(person)


async def test_removing_a_person_asks_about_their_entries_and_hands_them_over(
    hub: RunningHub, page: Any
) -> None:
    await _member_with_an_entry(hub, "guest")
    await page.get_by_role("link", name="Settings", exact=True).click()
    people = page.get_by_role("table", name="People")
    row = people.get_by_role("row").filter(has_text="guest")
    await expect(row.get_by_role("cell", name="1", exact=True)).to_be_visible()

    await page.get_by_role("button", name="Remove guest").click()
    ask = page.get_by_role("dialog", name="Remove guest")
    await expect(ask).to_contain_text("guest has set up one integration of their own")
    await ask.get_by_role("radio", name="Hand them to an admin").check()
    await ask.get_by_role("button", name="Remove").click()
    await expect(people.get_by_role("cell", name="guest", exact=True)).to_have_count(0)

    entries = (await hub.api("GET", "/api/config-entries?domain=helpers"))["entries"]
    me = await hub.api("GET", "/api/auth/current_user")
    assert [(e["title"], e["owner"]) for e in entries] == [("Desk lamp", me["id"])]


async def test_changing_ones_password_needs_the_current_one(hub: RunningHub, page: Any) -> None:
    await page.get_by_role("link", name="Settings", exact=True).click()
    form = page.get_by_role("form", name="Change password")
    await form.get_by_label("Current password").fill("not my password")
    await form.get_by_label("New password", exact=True).fill("a brand new passphrase")
    await form.get_by_label("New password again").fill("a brand new passphrase")
    await form.get_by_role("button", name="Change password").click()
    await expect(form.get_by_role("alert")).to_have_text("That is not your current password.")

    await form.get_by_label("Current password").fill(OWNER["password"])
    await form.get_by_role("button", name="Change password").click()
    await expect(page.get_by_text("Password changed.")).to_be_visible()
    async with aiohttp.ClientSession() as session:
        creds = {"username": OWNER["username"], "password": "a brand new passphrase"}
        async with session.post(hub.url + "/api/auth/login", json=creds) as resp:
            assert resp.status == 200
