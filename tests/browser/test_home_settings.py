"""Settings → Home in a real browser: an admin sets, corrects and clears the home location."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.browser.conftest import RunningHub


async def test_an_admin_sets_the_home_location_and_a_mistake_is_explained(
    hub: RunningHub, page: Any
) -> None:
    await page.goto(hub.url + "/#/settings/home")
    form = page.get_by_role("form", name="Home")
    await expect(page.locator("#home-state")).to_have_text(
        "No home location is set yet. Set it once and integrations such as Open-Meteo can use it."
    )
    await form.get_by_label("Name").fill("Flat in Berlin")
    await form.get_by_label("Latitude (°N)").fill("52.52")
    await form.get_by_label("Longitude (°E)").fill("13.405")
    await form.get_by_label("Time zone").fill("Mars/Olympus_Mons")
    await form.get_by_role("button", name="Save").click()
    await expect(form.get_by_role("alert")).to_contain_text(
        "Mars/Olympus_Mons is not a time zone the hub knows"
    )
    assert (await hub.api("GET", "/api/home"))["home"] is None, "nothing half-saved"

    await form.get_by_label("Time zone").fill("Europe/Berlin")
    await form.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Home location saved")).to_be_visible()
    await expect(page.locator("#home-state")).to_contain_text("Where the household is.")
    home = (await hub.api("GET", "/api/home"))["home"]
    assert home == {
        "latitude": 52.52,
        "longitude": 13.405,
        "elevation": None,
        "time_zone": "Europe/Berlin",
        "name": "Flat in Berlin",
    }

    await page.reload()
    form = page.get_by_role("form", name="Home")
    await expect(form.get_by_label("Latitude (°N)")).to_have_value("52.52")
    await form.get_by_role("button", name="Clear").click()
    await expect(page.get_by_text("Home location cleared")).to_be_visible()
    assert (await hub.api("GET", "/api/home"))["home"] is None


async def test_the_section_speaks_german(hub: RunningHub, page: Any) -> None:
    me = await hub.api("GET", "/api/auth/current_user")
    await hub.api("PATCH", f"/api/people/{me['id']}", {"language": "de"})
    await page.goto(hub.url + "/#/settings/home")
    await page.reload()
    form = page.get_by_role("form", name="Zuhause")
    await expect(form.get_by_label("Breitengrad (°N)")).to_be_visible()
    await expect(page.locator("#home-state")).to_contain_text("noch kein Heimatort")
