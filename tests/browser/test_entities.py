"""The entities page in a real browser: live rows, controls, other devices' changes, the chart."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from tests.browser.conftest import RunningHub


async def _helper(hub: RunningHub, **user_input: Any) -> dict[str, Any]:
    """Add a helper entry over REST; its one entity as the API shows it."""
    flow = await hub.api("POST", "/api/config-flows", {"domain": "helpers"})
    entry = await hub.api(
        "POST", f"/api/config-flows/{flow['flow_id']}", {"user_input": user_input}
    )
    entry_id = entry["entry_id"]
    listed = await hub.api("GET", f"/api/entities?entry_id={entry_id}")
    [entity] = listed["entities"]
    return dict(entity)


async def _state_in_api(hub: RunningHub, entity_id: int) -> Any:
    """The entity's state as the API reports it.

    The page shows a new state only once the action's answer or the stream brought it, and both
    come after the change is stored: so once the page shows it, the API must report it too.
    """
    return (await hub.api("GET", f"/api/entities/{entity_id}"))["state"]


async def _act(hub: RunningHub, entity_id: int, action: str, **args: Any) -> None:
    """Run an action over REST, as a script or another person would."""
    await hub.api("POST", f"/api/entities/{entity_id}/action", {"action": action, "args": args})


def _row(page: Any, entity_id: int) -> Any:
    return page.locator(f'tr[data-entity-id="{entity_id}"]')


async def test_a_new_toggle_appears_live_and_switches_both_ways(hub: RunningHub, page: Any) -> None:
    await expect(page.get_by_role("heading", name="Entities", exact=True)).to_be_visible()
    await expect(page.get_by_role("status").filter(has_text="No entities yet")).to_be_visible()

    lamp = await _helper(hub, name="Lamp", kind="toggle")
    switch = page.get_by_role("switch", name="Lamp", exact=True)
    await expect(switch).to_have_attribute("aria-checked", "false")
    await expect(_row(page, lamp["id"]).locator(".entity__value")).to_have_text("Off")

    await switch.click()
    await expect(switch).to_have_attribute("aria-checked", "true")
    await expect(_row(page, lamp["id"]).locator(".entity__value")).to_have_text("On")
    assert await _state_in_api(hub, lamp["id"]) == "on"

    # A change made elsewhere (a script, an automation) shows without a reload.
    await _act(hub, lamp["id"], "turn_off")
    await expect(switch).to_have_attribute("aria-checked", "false")
    await expect(_row(page, lamp["id"]).locator(".entity__value")).to_have_text("Off")


async def test_a_second_browser_sees_the_first_ones_change(
    hub: RunningHub, page: Any, second_page: Any
) -> None:
    lamp = await _helper(hub, name="Hall light", kind="toggle")
    mine = page.get_by_role("switch", name="Hall light", exact=True)
    theirs = second_page.get_by_role("switch", name="Hall light", exact=True)
    await expect(theirs).to_have_attribute("aria-checked", "false")

    await mine.click()
    await expect(theirs).to_have_attribute("aria-checked", "true")
    assert await _state_in_api(hub, lamp["id"]) == "on"

    await theirs.click()
    await expect(mine).to_have_attribute("aria-checked", "false")


async def test_controls_follow_the_declared_actions(hub: RunningHub, page: Any) -> None:
    level = await _helper(hub, name="Level", kind="number", min=0, max=10, step=1, unit="dB")
    bell = await _helper(hub, name="Bell", kind="button")
    level_row = _row(page, level["id"])
    await expect(level_row.locator(".entity__value")).to_have_text("0")
    await expect(level_row.locator(".entity__unit")).to_have_text("dB")

    slider = page.get_by_role("slider", name="Set value: Level", exact=True)
    await slider.focus()
    await slider.press("ArrowRight")
    await expect(level_row.locator(".entity__value")).to_have_text("1")
    assert await _state_in_api(hub, level["id"]) == 1

    await page.get_by_role("button", name="Increase by one step: Level", exact=True).click()
    await expect(level_row.locator(".entity__value")).to_have_text("2")

    await page.get_by_role("button", name="Press: Bell", exact=True).click()
    await expect(_row(page, bell["id"]).locator(".entity__value")).not_to_have_text("—")


async def test_filter_by_text_and_domain(hub: RunningHub, page: Any) -> None:
    await _helper(hub, name="Porch", kind="toggle")
    await _helper(hub, name="Garden", kind="toggle")
    porch = page.get_by_role("switch", name="Porch", exact=True)
    garden = page.get_by_role("switch", name="Garden", exact=True)
    await expect(garden).to_be_visible()

    await page.get_by_role("searchbox", name="Filter entities").fill("porch")
    await expect(garden).to_be_hidden()
    await expect(porch).to_be_visible()
    await expect(page.get_by_role("status")).to_have_text("1 of 2 entities")

    await page.get_by_role("searchbox", name="Filter entities").fill("")
    await expect(garden).to_be_visible()
    domain = page.get_by_role("combobox", name="Domain")
    await domain.select_option("helpers")
    await expect(page.get_by_role("status")).to_have_text("2 entities")


async def test_the_history_chart_of_a_number(hub: RunningHub, page: Any) -> None:
    level = await _helper(hub, name="Tank", kind="number", min=0, max=100, step=1, unit="%")
    for value in (20, 55, 40):
        await _act(hub, level["id"], "set_value", value=value)
    await expect(_row(page, level["id"]).locator(".entity__value")).to_have_text("40")

    await page.get_by_role("button", name="Tank", exact=True).click()
    dialog = page.get_by_role("dialog", name="History of Tank")
    chart = dialog.get_by_role("img", name=re.compile(r"^Tank over the last 24 hours"))
    await expect(chart).to_have_attribute("aria-label", re.compile(r"from 0 % to 55 %, now 40 %"))
    await expect(chart.locator("path.history-chart__line")).to_have_attribute("d", re.compile("^M"))

    # The open chart follows the live state.
    await _act(hub, level["id"], "set_value", value=90)
    await expect(chart).to_have_attribute("aria-label", re.compile(r"to 90 %, now 90 %"))
    await dialog.get_by_role("button", name="Close").click()
    await expect(dialog).to_be_hidden()


def test_the_german_strings_cover_the_english_ones() -> None:
    def keys(value: Any, prefix: str = "") -> set[str]:
        if not isinstance(value, dict):
            return {prefix}
        return {key for name, item in value.items() for key in keys(item, f"{prefix}.{name}")}

    www = Path(__file__).resolve().parents[2] / "www" / "i18n"
    english = json.loads((www / "en" / "entities.json").read_text())
    german = json.loads((www / "de" / "entities.json").read_text())
    assert keys(german) == keys(english)
    assert german["entities"]["nav"] != english["entities"]["nav"]
