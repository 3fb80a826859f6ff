"""The dashboards and settings pages in a real browser: cards, safe Markdown, tokens, people, language."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from playwright.async_api import expect

from tests.browser.conftest import RunningHub

HOSTILE = (
    "# Welcome home\n"
    "Lights are **on** and *cosy*; see [the docs](https://example.org/docs) or "
    "[this](javascript:alert(1)).\n\n"
    "- first\n"
    "- second\n\n"
    "<script>window.__pwned = true</script>\n\n"
    '<img src=x onerror="window.__pwned = true">'
)


async def _toggle(hub: RunningHub, name: str) -> dict[str, Any]:
    """Add a toggle helper over REST; its one entity as the API shows it."""
    flow = await hub.api("POST", "/api/config-flows", {"domain": "helpers"})
    entry = await hub.api(
        "POST",
        f"/api/config-flows/{flow['flow_id']}",
        {"user_input": {"name": name, "kind": "toggle"}},
    )
    listed = await hub.api("GET", f"/api/entities?entry_id={entry['entry_id']}")
    [entity] = listed["entities"]
    return dict(entity)


async def _status_with(hub: RunningHub, token: str) -> int:
    """The status ``GET /api/auth/current_user`` answers to a bearer token."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(hub.url + "/api/auth/current_user", headers=headers) as resp,
    ):
        return resp.status


async def test_a_dashboard_shows_safe_markdown_and_live_entities(
    hub: RunningHub, page: Any
) -> None:
    lamp = await _toggle(hub, "Lamp")
    await page.get_by_role("link", name="Dashboards", exact=True).click()
    await expect(page.get_by_role("heading", name="Dashboards", exact=True)).to_be_visible()

    await page.get_by_role("button", name="New dashboard").click()
    create = page.get_by_role("dialog", name="New dashboard")
    await create.get_by_label("Name").fill("Living room")
    await create.get_by_role("button", name="Create").click()
    await expect(page).to_have_url(re.compile(r"#/dashboards/living-room/edit$"))

    # A Markdown card with hostile content.
    await page.get_by_role("button", name="Add card").click()
    picker = page.get_by_role("dialog", name="Add a card")
    await picker.get_by_role("button", name=re.compile("^Text")).click()
    text_card = page.get_by_role("dialog", name="Text card")
    await text_card.get_by_label("Text", exact=True).fill(HOSTILE)
    await text_card.get_by_role("button", name="Add card").click()
    await expect(text_card).to_be_hidden()

    # An entities card with the lamp.
    await page.get_by_role("button", name="Add card").click()
    await picker.get_by_role("button", name=re.compile("^Entities")).click()
    entities_card = page.get_by_role("dialog", name="Entities card")
    await entities_card.get_by_label("Title (optional)").fill("Lights")
    await entities_card.get_by_role("checkbox", name=re.compile("^Lamp")).check()
    await entities_card.get_by_role("button", name="Add card").click()
    await expect(entities_card).to_be_hidden()

    # Reorder: the lights first, then save.
    await page.get_by_role("button", name="Move card 2 up").click()
    await expect(page.get_by_role("toolbar").first).to_contain_text("Entities")
    await page.get_by_role("button", name="Save").click()
    await expect(page).to_have_url(re.compile(r"#/dashboards/living-room$"))
    await expect(page.get_by_role("heading", name="Living room")).to_be_visible()

    stored = await hub.api("GET", "/api/surfaces/living-room")
    cards = stored["config"]["views"][0]["cards"]
    assert [card["type"] for card in cards] == ["entities", "markdown"]
    assert cards[0]["entities"] == [lamp["id"]]

    # The Markdown is rendered from a safe subset; the markup in it is only text.
    markdown = page.locator(".markdown")
    await expect(markdown.get_by_role("heading", name="Welcome home")).to_be_visible()
    await expect(markdown.locator("strong")).to_have_text("on")
    await expect(markdown.locator("em")).to_have_text("cosy")
    await expect(markdown.get_by_role("link", name="the docs")).to_have_attribute(
        "href", "https://example.org/docs"
    )
    await expect(markdown.get_by_role("link", name="this")).to_have_count(0)
    await expect(markdown.get_by_role("listitem")).to_have_text(["first", "second"])
    await expect(markdown).to_contain_text("<script>window.__pwned = true</script>")
    await expect(markdown).to_contain_text('<img src=x onerror="window.__pwned = true">')
    await expect(markdown.locator("script, img")).to_have_count(0)
    assert await page.evaluate("window.__pwned") is None

    # The entity's state, live: from the page's switch and from elsewhere.
    lights = page.get_by_role("region", name="Lights")
    lamp_row = lights.get_by_role("listitem").filter(has_text="Lamp")
    await expect(lamp_row).to_contain_text("Off")
    # The same switch as on the entities page, named by the entity.
    await lights.get_by_role("switch", name="Lamp", exact=True).click()
    await expect(lamp_row).to_contain_text("On")
    assert (await hub.api("GET", f"/api/entities/{lamp['id']}"))["state"] == "on"
    await hub.api("POST", f"/api/entities/{lamp['id']}/action", {"action": "turn_off"})
    await expect(lamp_row).to_contain_text("Off")

    # Delete, after confirming.
    await page.get_by_role("button", name="Delete").click()
    # The question is the title; the body says what it means rather than repeating it.
    confirm = page.get_by_role("dialog", name="Delete “Living room”?")
    await expect(confirm.locator("p")).to_have_text(
        "The dashboard, its views and its cards are removed for everyone who sees it. "
        "This cannot be undone."
    )
    await confirm.get_by_role("button", name="Delete").click()
    await expect(page).to_have_url(re.compile(r"#/dashboards$"))
    await expect(page.get_by_role("link", name="Living room")).to_have_count(0)
    assert (await hub.api("GET", "/api/surfaces"))["surfaces"] == []


async def test_settings_tokens_people_theme_and_language(hub: RunningHub, page: Any) -> None:
    await page.get_by_role("link", name="Settings", exact=True).click()
    await expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()

    # A long-lived token: shown once, working, then revoked.
    await page.get_by_label("Token name").fill("backup script")
    await page.get_by_role("button", name="Create token").click()
    shown = page.get_by_role("dialog", name="Token “backup script” created")
    value = shown.get_by_label("New token")
    await expect(value).to_have_value(re.compile(r"\S{20,}"))
    token = await value.input_value()
    assert await _status_with(hub, token) == 200
    await shown.get_by_role("button", name="Done").click()
    await expect(shown).to_be_hidden()
    await expect(page.get_by_text(token)).to_have_count(0)
    tokens = page.get_by_role("table", name="Long-lived tokens")
    await expect(tokens.get_by_role("cell", name="backup script", exact=True)).to_be_visible()

    await page.get_by_role("button", name="Revoke token backup script").click()
    ask = page.get_by_role("dialog", name="Revoke the token “backup script”?")
    # The body says what will happen, not the question again.
    await expect(ask).to_contain_text("can no longer reach the hub")
    await ask.get_by_role("button", name="Revoke").click()
    await expect(page.get_by_text("No long-lived tokens yet.")).to_be_visible()
    assert await _status_with(hub, token) == 401

    # People: an admin adds someone and removes them again.
    add = page.get_by_role("form", name="Add person")
    await add.get_by_label("Username").fill("guest")
    await add.get_by_label("Password", exact=True).fill("guest-password-1")
    await add.get_by_label("Password again").fill("guest-password-1")
    await add.get_by_label("Display name").fill("Guest")
    await add.get_by_role("button", name="Add person").click()
    people = page.get_by_role("table", name="People")
    await expect(people.get_by_role("cell", name="guest", exact=True)).to_be_visible()
    listed = (await hub.api("GET", "/api/people"))["people"]
    assert sorted(p["username"] for p in listed) == ["guest", "owner"]

    await page.get_by_role("button", name="Remove guest").click()
    confirm = page.get_by_role("dialog")
    await expect(confirm).to_contain_text("guest")
    await confirm.get_by_role("button", name="Remove").click()
    await expect(people.get_by_role("cell", name="guest", exact=True)).to_have_count(0)
    listed = (await hub.api("GET", "/api/people"))["people"]
    assert [p["username"] for p in listed] == ["owner"]

    # The theme is the browser's own setting and survives a reload.
    await page.get_by_role("radio", name="Dark").check()
    await expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    await page.reload()
    await expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    await expect(page.get_by_role("radio", name="Dark")).to_be_checked()

    # The language is the person's: German changes the page and the navigation.
    await page.get_by_label("Language").first.select_option("de")
    await expect(page.get_by_role("heading", name="Einstellungen", exact=True)).to_be_visible()
    await expect(page.get_by_role("link", name="Einstellungen", exact=True)).to_be_visible()
    await expect(page.get_by_role("button", name="Token erstellen")).to_be_visible()
    await expect(page.get_by_label("Sprache").first).to_have_value("de")
    assert (await hub.api("GET", "/api/auth/current_user"))["language"] == "de"


async def test_an_entities_card_with_a_filter_lists_what_matches(
    hub: RunningHub, page: Any
) -> None:
    """Card templates (OpenProject's work packages) name a filter rather than entity ids."""
    await _toggle(hub, "Porch light")
    await _toggle(hub, "Kettle")
    card = {"type": "entities", "title": "Helpers", "filter": {"domain": "helpers"}}
    body = {"name": "Filtered", "config": {"views": [{"title": "Main", "cards": [card]}]}}
    await hub.api("POST", "/api/surfaces", body)
    await page.goto(hub.url + "/#/dashboards/filtered")
    listed = page.locator(".dashboards__entity-name")
    await expect(listed).to_have_text(["Porch light", "Kettle"])
