"""The entity detail view in a real browser: attributes, device, live state and the history chart."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sqlite3
import time
from collections.abc import Iterable
from typing import Any

from playwright.async_api import expect

from tests.browser.conftest import ARTIFACTS, RunningHub

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
MINUTE = 60.0
DAY = 86_400.0
NONSENSE = re.compile(r"\b(null|undefined)\b|\[object Object\]")


async def _flow(hub: RunningHub, domain: str, **user_input: Any) -> str:
    """Add an entry through its config flow; its entry id."""
    step = await hub.api("POST", "/api/config-flows", {"domain": domain})
    if step.get("type") == "form":
        step = await hub.api(
            "POST", f"/api/config-flows/{step['flow_id']}", {"user_input": user_input}
        )
    return str(step["entry_id"])


async def _entity(hub: RunningHub, entry_id: str, entity_type: str | None = None) -> dict[str, Any]:
    """The entry's entity (of ``entity_type``), once its first sync made it."""
    query = f"/api/entities?entry_id={entry_id}"
    if entity_type:
        query += f"&entity_type={entity_type}"
    deadline = time.monotonic() + 20
    while True:
        listed = (await hub.api("GET", query))["entities"]
        if listed:
            return dict(listed[0])
        assert time.monotonic() < deadline, f"no {entity_type} entity"
        await asyncio.sleep(0.1)


def _history(hub: RunningHub, entity_id: int, rows: Iterable[tuple[Any, float]]) -> None:
    """Replace an entity's history in the running hub's database, as months of syncs would."""
    with sqlite3.connect(hub.config_dir / "hub.db", timeout=10) as conn:
        conn.execute("DELETE FROM history WHERE entity_id = ?", (entity_id,))
        conn.executemany(
            "INSERT INTO history (entity_id, state, changed_at) VALUES (?, ?, ?)",
            [(entity_id, json.dumps(state), at) for state, at in rows],
        )


async def _speak_german(hub: RunningHub, page: Any) -> None:
    me = await hub.api("GET", "/api/auth/current_user")
    await hub.api("PATCH", f"/api/people/{me['id']}", {"language": "de"})
    await page.reload()


async def _screenshot(page: Any, name: str) -> None:
    """Keep what the person saw as a test artifact."""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


async def _no_nonsense(dialog: Any) -> None:
    text = await dialog.inner_text()
    assert not NONSENSE.search(text), text


async def test_a_sensor_in_detail_with_a_month_of_history(hub: RunningHub, page: Any) -> None:
    await page.set_viewport_size(DESKTOP)
    entry_id = await _flow(hub, "system_monitor")
    memory = await _entity(hub, entry_id, "memory_usage")
    now = time.time()
    # A reading every minute for 30 days, 40 to 59 %, the newest a minute ago.
    _history(hub, memory["id"], ((40 + i % 20, now - 30 * DAY + i * MINUTE) for i in range(43_200)))

    opener = page.get_by_role("button", name="Memory usage", exact=True)
    await opener.click()
    dialog = page.get_by_role("dialog", name="Memory usage")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator(".entity-detail__unit")).to_have_text("%")

    # The device, the integration and every attribute under its label.
    about = dialog.locator("dl").first
    await expect(about.locator("dt", has_text="Device")).to_be_visible()
    await expect(about).to_contain_text(socket.gethostname())
    await expect(about).to_contain_text("System Monitor")
    attributes = dialog.get_by_role("region", name="Attributes")
    for label in ("Available", "Total", "Used"):
        await expect(attributes.locator("dt", has_text=re.compile(f"^{label}$"))).to_be_visible()
    await expect(attributes).to_contain_text(re.compile(r"\d\s?[GMKT]B"))  # bytes humanized

    # 24 hours by default, drawn as a line with its unit on the y-axis.
    chart = dialog.get_by_role("img", name=re.compile(r"^Memory usage over the last 24 hours"))
    await expect(chart).to_have_attribute(
        "aria-label", re.compile(r"from 40\s%\sto 59\s%, now \d+\s%$")
    )
    await expect(chart.locator(".history__unit")).to_have_text("%")
    await expect(dialog.get_by_role("button", name="24 h")).to_have_attribute(
        "aria-pressed", "true"
    )

    # Thirty days: the month arrives bucketed, fast, and draws with its min-max band.
    started = time.monotonic()
    await dialog.get_by_role("button", name="30 d").click()
    month = dialog.get_by_role("img", name=re.compile(r"^Memory usage over the last 30 days"))
    await expect(month).to_be_visible()
    print(f"30 days of minute readings charted in {(time.monotonic() - started) * 1000:.0f} ms")
    await expect(month.locator("path.history__band")).to_have_count(1)
    await expect(dialog.get_by_role("button", name="24 h")).to_have_attribute(
        "aria-pressed", "false"
    )

    # Pointing at the chart tells the time and value there, with the unit.
    tip = dialog.get_by_role("status").filter(has_text=re.compile(r"\d"))
    plot = dialog.locator(".history__plot")
    box = await plot.bounding_box()
    assert box is not None
    await plot.hover(position={"x": box["width"] * 0.6, "y": box["height"] / 2})
    await expect(tip).to_have_text(
        re.compile(r"^\w{3} \d{1,2}, \d{2}:\d{2}\s[AP]M: \d+\s% \(from 40\s% to 59\s%\)$")
    )
    # The keyboard too: the last reading.
    await dialog.get_by_role("button", name="1 h").click()
    await expect(dialog.get_by_role("img", name=re.compile(r"over the last hour"))).to_be_visible()
    await plot.focus()
    await page.keyboard.press("End")
    await expect(tip).to_have_text(re.compile(r"\d{2}:\d{2}\s[AP]M: \d+\s%$"))
    await _no_nonsense(dialog)
    await _screenshot(page, "entity-detail-en-1280")

    # Escape closes it, and the focus is back on the name that opened it.
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(opener).to_be_focused()


async def test_minutes_of_history_fill_the_chart_and_no_history_says_so(
    hub: RunningHub, page: Any
) -> None:
    await page.set_viewport_size(DESKTOP)
    tank = await _entity(
        hub,
        await _flow(hub, "helpers", name="Tank", kind="number", min=0, max=100, step=1, unit="%"),
    )
    now = time.time()
    _history(hub, tank["id"], [(10, now - 300), (30, now - 240), (20, now - 120)])
    lamp = await _entity(hub, await _flow(hub, "helpers", name="Lamp", kind="toggle"))
    _history(hub, lamp["id"], [])

    await page.get_by_role("button", name="Tank", exact=True).click()
    dialog = page.get_by_role("dialog", name="Tank")
    chart = dialog.get_by_role("img", name=re.compile(r"^Tank over the last 24 hours"))
    await expect(chart).to_have_attribute(
        "aria-label", re.compile(r"from 10\s% to 30\s%, now 20\s%")
    )
    # Five minutes of a 24-hour range span the chart, not a sliver at its right edge: the first
    # change is drawn in the left third.
    line = await chart.locator("path.history__line").get_attribute("d")
    assert line is not None
    first_x = float(re.match(r"M([\d.]+),", line).group(1))  # type: ignore[union-attr]
    width = float((await chart.get_attribute("width")) or 0)
    assert first_x < width / 3, (first_x, width)
    # The axis counts minutes, not hours.
    ticks = await chart.locator(".history__axes text").all_text_contents()
    minutes = {tick for tick in ticks if re.fullmatch(r"\d{2}:\d{2}\s[AP]M", tick)}
    assert len(minutes) >= 3, ticks
    await dialog.get_by_role("button", name="Close").click()
    await expect(dialog).to_be_hidden()

    await page.get_by_role("button", name="Lamp", exact=True).click()
    dialog = page.get_by_role("dialog", name="Lamp")
    await expect(
        dialog.get_by_role("img", name="Lamp over the last 24 hours: no history")
    ).to_be_visible()
    await expect(dialog).to_contain_text("No history in this period")
    await _no_nonsense(dialog)
    await dialog.get_by_role("button", name="Close").click()

    # A link to the entity opens its detail too.
    await page.goto(f"{hub.url}/#/entities/{tank['id']}")
    await expect(page.get_by_role("dialog", name="Tank")).to_be_visible()


async def _phone(browser: Any, hub: RunningHub) -> Any:
    """A signed-in page on a touch screen of a phone's size."""
    context = await browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    session = json.dumps({k: hub.tokens[k] for k in ("access_token", "refresh_token")})
    await context.add_init_script(f"localStorage.setItem('hub.session', {json.dumps(session)});")
    page = await context.new_page()
    await page.goto(hub.url + "/#/entities")
    return page


async def test_german_on_a_phone_a_toggle_as_a_live_timeline(hub: RunningHub, browser: Any) -> None:
    page = await _phone(browser, hub)
    entry_id = await _flow(hub, "system_monitor")
    memory = await _entity(hub, entry_id, "memory_usage")
    hall = await _entity(hub, await _flow(hub, "helpers", name="Flurlicht", kind="toggle"))
    now = time.time()
    _history(hub, hall["id"], [("on", now - 3 * 3600), ("off", now - 2 * 3600)])
    _history(hub, memory["id"], ((50 + i % 3, now - 7200 + i * MINUTE) for i in range(120)))
    await _speak_german(hub, page)

    opener = page.get_by_role("button", name="Arbeitsspeicher-Auslastung", exact=True)
    await opener.click()
    dialog = page.get_by_role("dialog", name="Arbeitsspeicher-Auslastung")
    await expect(dialog).to_be_visible()
    # A sheet over the whole phone screen.
    box = await dialog.bounding_box()
    assert box is not None
    assert (round(box["width"]), round(box["height"])) == (390, 844), box
    attributes = dialog.get_by_role("region", name="Attribute")
    for label in ("Gesamt", "Belegt", "Verfügbar"):
        await expect(attributes.locator("dt", has_text=re.compile(f"^{label}$"))).to_be_visible()
    await expect(dialog.locator("dt", has_text="Gerät")).to_be_visible()
    await expect(dialog).to_contain_text("Systemmonitor")
    await expect(dialog.get_by_role("heading", name="Verlauf")).to_be_visible()
    chart = dialog.get_by_role("img", name=re.compile(r"über die letzten 24 Stunden: von 50\s%"))
    await expect(chart).to_be_visible()
    await dialog.get_by_role("button", name="6 Std.").click()
    await expect(
        dialog.get_by_role("img", name=re.compile(r"über die letzten 6 Stunden"))
    ).to_be_visible()
    # A touch on the chart reads the value there, in German number format.
    plot = dialog.locator(".history__plot")
    await plot.scroll_into_view_if_needed()
    plot_box = await plot.bounding_box()
    assert plot_box is not None
    await plot.tap(position={"x": plot_box["width"] * 0.8, "y": 100})
    await expect(dialog.get_by_role("status").filter(has_text=":")).to_have_text(
        re.compile(r"\d{2}:\d{2}: 5[0-2]\s%")
    )
    await _no_nonsense(dialog)
    await _screenshot(page, "entity-detail-de-390")
    await dialog.get_by_role("button", name="Schließen").click()
    await expect(dialog).to_be_hidden()
    await expect(opener).to_be_focused()

    # A toggle: a timeline of its states, in German, that follows a change made elsewhere.
    await page.get_by_role("button", name="Flurlicht", exact=True).click()
    dialog = page.get_by_role("dialog", name="Flurlicht")
    band = dialog.get_by_role(
        "img", name=re.compile(r"^Flurlicht über die letzten 24 Stunden: 2 Zustände, jetzt Aus")
    )
    await expect(band).to_be_visible()
    await expect(dialog.locator(".history__legend")).to_have_text(re.compile("An.*Aus"))
    await expect(dialog.locator(".entity-detail__value")).to_have_text("Aus")
    await hub.api("POST", f"/api/entities/{hall['id']}/action", {"action": "turn_on", "args": {}})
    await expect(dialog.locator(".entity-detail__value")).to_have_text("An")
    await expect(
        dialog.get_by_role("img", name=re.compile(r"3 Zustände, jetzt An$"))
    ).to_be_visible()
    await _no_nonsense(dialog)
    await _screenshot(page, "entity-detail-de-390-timeline")
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
