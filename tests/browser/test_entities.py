"""The entities page in a real browser: live rows, controls, other devices' changes, the chart."""

from __future__ import annotations

import asyncio
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
    domain = page.get_by_role("combobox", name="Integration")
    await domain.select_option("helpers")
    await expect(page.get_by_role("status")).to_have_text("2 entities")


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


# ---- words: entity names, states, units, devices and integrations in the person's language ----

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

# Fits the placeholder text into the search box's content box, in the box's own font.
PLACEHOLDER_FITS = """(el) => {
  const style = getComputedStyle(el);
  const canvas = document.createElement("canvas").getContext("2d");
  canvas.font = style.font;
  const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return canvas.measureText(el.placeholder).width <= room;
}"""
NO_JUNK = """() => {
  const text = document.body.innerText;
  return ["undefined", "null", "[object Object]", "NaN"].filter((word) => text.includes(word));
}"""


async def _speak(hub: RunningHub, language: str) -> None:
    """Set the owner's language, as the settings page does."""
    me = await hub.api("GET", "/api/auth/current_user")
    await hub.api("PATCH", f"/api/people/{me['id']}", {"language": language})


async def _by_type(hub: RunningHub, domain: str) -> dict[str, dict[str, Any]]:
    """The domain's entities by type, once its first sync stored them."""
    while True:
        listed = await hub.api("GET", f"/api/entities?domain={domain}")
        if listed["entities"]:
            return {entity["entity_type"]: entity for entity in listed["entities"]}
        await asyncio.sleep(0.05)


async def _fits(page: Any, size: dict[str, int]) -> None:
    """Nothing sticks out sideways and the filter's hint is whole."""
    await page.set_viewport_size(size)
    search = page.locator(".entities__search")
    assert await search.evaluate(PLACEHOLDER_FITS), await search.get_attribute("placeholder")
    width = await page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= size["width"]
    assert await page.evaluate(NO_JUNK) == []


async def test_entities_read_in_english_and_german_grouped_by_their_device(
    hub: RunningHub, page: Any
) -> None:
    await hub.api("POST", "/api/config-flows", {"domain": "system_monitor"})
    tank = await _helper(hub, name="Tank", kind="number", min=0, max=100, step=1, unit="L")
    monitor = await _by_type(hub, "system_monitor")
    [host] = (await hub.api("GET", "/api/entity-types"))["devices"]
    cpu, uptime, memory = (
        _row(page, monitor[k]["id"]) for k in ("cpu_usage", "uptime", "memory_usage")
    )

    # English: the host's sensors under the host's name, the helper (no device) under "Other".
    device_group = page.get_by_role("region", name=host["name"], exact=True)
    await expect(device_group.get_by_role("heading", name=host["name"])).to_be_visible()
    await expect(page.get_by_role("heading", name=re.compile(r"^Device"))).to_have_count(0)
    await expect(
        device_group.locator(f'tr[data-entity-id="{monitor["cpu_usage"]["id"]}"]')
    ).to_be_visible()
    other = page.get_by_role("region", name="Other", exact=True)
    await expect(other.locator(f'tr[data-entity-id="{tank["id"]}"]')).to_be_visible()
    await expect(cpu.get_by_role("button", name="CPU usage", exact=True)).to_be_visible()
    await expect(cpu.locator(".entity__meta")).to_have_text("System Monitor")
    await expect(cpu.locator(".entity__unit")).to_have_text("%")
    # Uptime in days and hours, not a count of seconds; attributes as a hint, bytes humanized.
    await expect(uptime.locator(".entity__value")).to_have_text(
        re.compile(r"^\d+ (days?|hr|min|sec)\b")
    )
    await expect(uptime.locator(".entity__unit")).to_have_text("")
    await expect(memory.locator(".entity__hint")).to_have_text(
        re.compile(r"^Total: [\d.]+\s[KMGT]B · Used: ")
    )
    await expect(_row(page, tank["id"]).locator(".entity__meta")).to_have_text("Helpers · Number")
    await expect(page.get_by_role("combobox", name="Integration")).to_contain_text("System Monitor")
    await _fits(page, DESKTOP)
    await _fits(page, PHONE)

    # One request for every type's words on load, beside the snapshot: none per type.
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    await page.reload()
    await expect(cpu.locator(".entity__unit")).to_have_text("%")
    assert [url for url in asked if "/api/entit" in url] == [
        f"{hub.url}/api/entity-types?language=en"
    ]

    # German: the same page in the person's language, informal throughout.
    await _speak(hub, "de")
    await page.set_viewport_size(DESKTOP)
    await page.reload()
    await expect(page.get_by_role("heading", name="Entitäten", exact=True)).to_be_visible()
    await expect(cpu.get_by_role("button", name="CPU-Auslastung", exact=True)).to_be_visible()
    await expect(cpu.locator(".entity__meta")).to_have_text("Systemmonitor")
    await expect(memory.get_by_role("button", name="Arbeitsspeicher-Auslastung")).to_be_visible()
    await expect(memory.locator(".entity__hint")).to_have_text(
        re.compile(r"^Gesamt: [\d,]+\s[KMGT]B · Belegt: ")
    )
    await expect(uptime.get_by_role("button", name="Laufzeit", exact=True)).to_be_visible()
    await expect(uptime.locator(".entity__value")).to_have_text(
        re.compile(r"^\d+ (Tg\.|Std\.|Min\.|Sek\.)")
    )
    await expect(page.get_by_role("heading", name=host["name"], exact=True)).to_be_visible()
    await expect(page.get_by_role("heading", name="Sonstige", exact=True)).to_be_visible()
    await expect(_row(page, tank["id"]).locator(".entity__meta")).to_have_text("Helfer · Zahl")
    await expect(page.get_by_role("slider", name="Wert setzen: Tank", exact=True)).to_be_visible()
    await expect(page.get_by_role("button", name="Um einen Schritt erhöhen: Tank")).to_be_visible()
    await expect(page.get_by_role("combobox", name="Integration")).to_contain_text("Systemmonitor")
    await _fits(page, DESKTOP)
    await _fits(page, PHONE)


async def _numbers_controls(row: Any) -> list[list[str | None]]:
    """What a person can operate in a row: each control's role and accessible name, in order."""
    result: list[list[str | None]] = await row.locator(".entity__actions").evaluate(
        """(box) => [...box.querySelectorAll("button, input, select")].map(
          (el) => [el.getAttribute("role") || el.type, el.getAttribute("aria-label")])"""
    )
    return result


async def test_the_number_helper_is_the_same_control_on_a_dashboard(
    hub: RunningHub, page: Any, second_page: Any
) -> None:
    tank = await _helper(hub, name="Tank", kind="number", min=0, max=100, step=5, unit="L")
    card = {"type": "entities", "title": "Water", "entities": [tank["id"]]}
    body = {"name": "Water", "config": {"views": [{"title": "Main", "cards": [card]}]}}
    await hub.api("POST", "/api/surfaces", body)
    dashboard = second_page
    await dashboard.goto(hub.url + "/#/dashboards/water")

    on_page = _row(page, tank["id"])
    on_card = dashboard.get_by_role("region", name="Water").locator(
        f'[data-entity-id="{tank["id"]}"]'
    )
    for row in (on_page, on_card):
        await expect(row.locator(".entity__value")).to_have_text("0")
        await expect(row.locator(".entity__unit")).to_have_text("L")
        await expect(row.get_by_role("slider", name="Set value: Tank", exact=True)).to_be_visible()
    assert await _numbers_controls(on_page) == await _numbers_controls(on_card)
    assert await _numbers_controls(on_card) == [
        ["button", "Decrease by one step: Tank"],
        ["range", "Set value: Tank"],
        ["button", "Increase by one step: Tank"],
    ]

    # A step on the dashboard shows on the entities page, a slide there shows on the dashboard.
    await on_card.get_by_role("button", name="Increase by one step: Tank").click()
    await expect(on_page.locator(".entity__value")).to_have_text("5")
    slider = on_page.get_by_role("slider", name="Set value: Tank")
    await slider.focus()
    await slider.press("ArrowRight")
    await expect(on_card.locator(".entity__value")).to_have_text("10")
    await expect(on_card.get_by_role("slider", name="Set value: Tank")).to_have_value("10")
    assert (await hub.api("GET", f"/api/entities/{tank['id']}"))["state"] == 10

    # The name opens the same detail view from either place.
    for where, row in ((page, on_page), (dashboard, on_card)):
        await row.get_by_role("button", name="Tank", exact=True).click()
        detail = where.get_by_role("dialog", name="Tank")
        await expect(detail).to_be_visible()
        await where.keyboard.press("Escape")
        await expect(detail).to_be_hidden()

    # German, on a phone: the same words and the same control, all of it on the screen.
    await _speak(hub, "de")
    await dashboard.set_viewport_size(PHONE)
    await dashboard.reload()
    await expect(
        on_card.get_by_role("slider", name="Wert setzen: Tank", exact=True)
    ).to_be_visible()
    await expect(on_card.locator(".entity__value")).to_have_text("10")
    await expect(on_card.locator(".entity__unit")).to_have_text("L")
    step = on_card.get_by_role("button", name="Um einen Schritt verringern: Tank")
    box = await step.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    increase = await on_card.get_by_role(
        "button", name="Um einen Schritt erhöhen: Tank"
    ).bounding_box()
    assert increase is not None
    assert increase["x"] + increase["width"] <= PHONE["width"]
    width = await dashboard.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    await step.click()
    await expect(on_card.locator(".entity__value")).to_have_text("5")
    assert await dashboard.evaluate(NO_JUNK) == []
