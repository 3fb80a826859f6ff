"""Settings → Skills in a real browser: a person writes, changes, switches and deletes a skill of
their own; an integration's skill shows the exact text it puts before the model before it is
switched on; the section in German."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import OWNER, RunningHub, _hub_process
from tests.integrations.on_disk import install
from tests.integrations.on_disk.skill_shelf import INSTRUCTIONS

LIMIT = 20_000


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[RunningHub]:
    """An onboarded hub that also loads the on-disk ``skill_shelf`` integration."""
    external = tmp_path / "external"
    external.mkdir()
    install(external, "skill_shelf")
    config = tmp_path / "config"
    config.mkdir()
    (config / "configuration.yaml").write_text(
        f"integrations:\n  allow_external: true\n  external_dirs: [{external}]\n"
    )
    with _hub_process(tmp_path) as url:
        request = urllib.request.Request(
            f"{url}/api/onboarding",
            data=json.dumps(OWNER).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            tokens = json.loads(resp.read())
        yield RunningHub(url, tokens, config)


async def skills(hub: RunningHub) -> dict[str, dict[str, Any]]:
    """The owner's skills by name."""
    return {s["name"]: s for s in (await hub.api("GET", "/api/skills"))["skills"]}


async def test_a_person_writes_changes_switches_and_deletes_a_skill(
    page: Page, hub: RunningHub
) -> None:
    await page.goto(hub.url + "/#/settings/skills")
    section = page.locator("#settings-skills-section")
    await expect(section.get_by_role("heading", name="Skills")).to_be_visible()
    await section.get_by_role("button", name="New skill").click()

    form = page.get_by_role("dialog", name="A new skill")
    await form.get_by_label("Name").fill("Trip packing")
    await form.get_by_label("Description").fill("Make a packing list for a trip.")
    # Too long: refused with the limit named, nothing is sent.
    await form.get_by_label("Instructions").fill("x" * (LIMIT + 1))
    await expect(form.get_by_text("20,001 of 20,000 characters")).to_be_visible()
    await form.get_by_role("button", name="Add").click()
    await expect(form.get_by_role("alert")).to_have_text(
        "The instructions are 20,001 characters long; at most 20,000 fit."
    )
    assert "Trip packing" not in await skills(hub)

    await form.get_by_label("Instructions").fill("1. Ask where to.\n2. Pack a raincoat.")
    await form.get_by_label("Required tools").fill("web_search, fetch")
    await form.get_by_role("button", name="Add").click()
    await expect(
        page.get_by_role("status").filter(has_text="Trip packing has been added.")
    ).to_be_visible()
    switch = section.get_by_role("switch", name="Trip packing is on")
    await expect(switch).to_have_attribute("aria-checked", "true")  # one's own starts on
    await expect(section.get_by_text("Needs: web_search, fetch")).to_be_visible()
    mine = (await skills(hub))["Trip packing"]
    assert (mine["own"], mine["source"], mine["enabled"]) == (True, "person", True)
    assert mine["required_tools"] == ["web_search", "fetch"]

    # Change it: the new words reach the hub.
    await section.get_by_role("button", name="Edit Trip packing").click()
    edit = page.get_by_role("dialog", name="Edit Trip packing")
    await edit.get_by_label("Description").fill("A packing list for any trip.")
    await edit.get_by_role("button", name="Save").click()
    await expect(section.get_by_text("A packing list for any trip.")).to_be_visible()
    mine = (await skills(hub))["Trip packing"]
    assert mine["listing_text"] == "- Trip packing: A packing list for any trip."

    # Off at once; on again only after reading what the model gets.
    await switch.click()
    await expect(switch).to_have_attribute("aria-checked", "false")
    assert not (await skills(hub))["Trip packing"]["enabled"]
    await switch.click()
    preview = page.get_by_role("dialog", name="Switch on Trip packing?")
    await expect(preview.locator("pre").nth(0)).to_have_text(mine["listing_text"])
    await expect(preview.locator("pre").nth(1)).to_have_text(mine["context_text"])
    await preview.get_by_role("button", name="Switch on").click()
    await expect(switch).to_have_attribute("aria-checked", "true")
    assert (await skills(hub))["Trip packing"]["enabled"]

    await section.get_by_role("button", name="Delete Trip packing").click()
    await (
        page.get_by_role("dialog", name="Delete Trip packing?")
        .get_by_role("button", name="Delete")
        .click()
    )
    await expect(
        page.get_by_role("status").filter(has_text="Trip packing has been deleted.")
    ).to_be_visible()
    await expect(section.get_by_role("switch", name="Trip packing is on")).to_have_count(0)
    assert "Trip packing" not in await skills(hub)


async def test_an_integrations_skill_shows_its_exact_text_before_it_is_switched_on(
    page: Page, hub: RunningHub
) -> None:
    await hub.api("POST", "/api/config-flows", {"domain": "skill_shelf"})
    contributed = (await skills(hub))["Plant care"]
    assert contributed["context_text"] == f"# Skill: Plant care\n\n{INSTRUCTIONS}"
    assert not contributed["enabled"]  # an integration's skill starts off

    await page.goto(hub.url + "/#/settings/skills")
    section = page.locator("#settings-skills-section")
    row = section.locator("li", has_text="Plant care")
    await expect(row.get_by_text("From skill_shelf")).to_be_visible()
    # Read-only: it can be switched, not edited or deleted.
    await expect(row.get_by_role("button", name="Edit Plant care")).to_have_count(0)
    await expect(row.get_by_role("button", name="Delete Plant care")).to_have_count(0)
    switch = row.get_by_role("switch", name="Plant care is on")
    await expect(switch).to_have_attribute("aria-checked", "false")

    # Cancelled after reading: it stays off.
    await switch.click()
    preview = page.get_by_role("dialog", name="Switch on Plant care?")
    await expect(
        preview.get_by_text("In every chat, the assistant sees this line:")
    ).to_be_visible()
    await expect(preview.locator("pre").nth(0)).to_have_text(
        "- Plant care: How to look after the house plants."
    )
    await expect(preview.get_by_text("When it uses the skill, it reads this text:")).to_be_visible()
    await expect(preview.locator("pre").nth(1)).to_have_text(contributed["context_text"])
    await preview.get_by_role("button", name="Cancel").click()
    await expect(preview).to_have_count(0)
    await expect(switch).to_have_attribute("aria-checked", "false")
    assert not (await skills(hub))["Plant care"]["enabled"]

    await switch.click()
    await (
        page.get_by_role("dialog", name="Switch on Plant care?")
        .get_by_role("button", name="Switch on")
        .click()
    )
    await expect(switch).to_have_attribute("aria-checked", "true")
    assert (await skills(hub))["Plant care"]["enabled"]
    await page.reload()
    row = page.locator("#settings-skills-section li", has_text="Plant care")
    await expect(row.get_by_role("switch", name="Plant care is on")).to_have_attribute(
        "aria-checked", "true"
    )


async def test_the_section_speaks_german(page: Page, hub: RunningHub) -> None:
    await hub.api("POST", "/api/config-flows", {"domain": "skill_shelf"})
    me = await hub.api("GET", "/api/auth/current_user")
    await hub.api("PATCH", f"/api/people/{me['id']}", {"language": "de"})
    await page.goto(hub.url + "/#/settings/skills")
    await page.reload()
    section = page.locator("#settings-skills-section")
    await expect(section.get_by_role("heading", name="Fähigkeiten")).to_be_visible()
    await expect(section.get_by_text("Von skill_shelf")).to_be_visible()
    await section.get_by_role("switch", name="Plant care ist eingeschaltet").click()
    preview = page.get_by_role("dialog", name="Plant care einschalten?")
    await expect(
        preview.get_by_text("In jedem Chat sieht der Assistent diese Zeile:")
    ).to_be_visible()
    await preview.get_by_role("button", name="Abbrechen").click()
    await section.get_by_role("button", name="Neue Fähigkeit").click()
    form = page.get_by_role("dialog", name="Eine neue Fähigkeit")
    await expect(form.get_by_label("Anleitung")).to_be_visible()
    await expect(form.get_by_text("0 von 20.000 Zeichen")).to_be_visible()
