"""The Workflows page in a real browser: a workflow made in the editor runs with "Run now" and its
trace shows each step; a refused save names the field; the page in German."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from playwright.async_api import Page, expect

from tests.browser.conftest import RunningHub


async def tank(hub: RunningHub) -> dict[str, Any]:
    """A helpers number entity "Tank" (0…100), once its entry has made it."""
    step = await hub.api("POST", "/api/config-flows", {"domain": "helpers"})
    done = await hub.api(
        "POST",
        f"/api/config-flows/{step['flow_id']}",
        {"user_input": {"name": "Tank", "kind": "number", "min": 0, "max": 100, "step": 1}},
    )
    deadline = time.monotonic() + 20
    while True:
        listed = (await hub.api("GET", f"/api/entities?entry_id={done['entry_id']}"))["entities"]
        if listed:
            return dict(listed[0])
        assert time.monotonic() < deadline, "the helper made no entity"
        await asyncio.sleep(0.1)


async def add_step(page: Page, kind: str, type_label: str, value: str) -> None:
    """Pick the type of a new trigger/condition/action and add it."""
    await page.get_by_label(f"Type of the new {kind}").select_option(value)
    await page.get_by_role("button", name=f"Add {kind}").click()
    await expect(
        page.get_by_role("group", name=re.compile(rf"^{type_label} \d+$")).last
    ).to_be_visible()


async def test_a_workflow_made_in_the_editor_runs_now_and_its_trace_shows_each_step(
    page: Page, hub: RunningHub
) -> None:
    entity = await tank(hub)
    await page.goto(hub.url + "/#/workflows")
    await expect(page.get_by_role("heading", name="Workflows", exact=True)).to_be_visible()
    await page.get_by_role("link", name="New workflow").click()

    await page.get_by_label("Name", exact=True).fill("Fill the tank")
    await add_step(page, "trigger", "Event", "event")
    await page.get_by_label("Event type").fill("home.arrived")
    await page.get_by_role("group", name="Event 1").get_by_role("button", name="Add a row").click()
    await page.get_by_label("Key 1").fill("who")
    await page.get_by_label("Value 1").fill("greta")

    # An entity action: the entity, one of its declared actions, that action's fields.
    await add_step(page, "action", "Entity action", "entity_action")
    first = page.get_by_role("group", name="Entity action 1")
    await first.get_by_label("Search for Entity").fill("tank")
    await first.get_by_label("Entity", exact=True).select_option(str(entity["id"]))
    await first.get_by_label("Action", exact=True).select_option("set_value")
    await first.get_by_label("Value", exact=True).fill("42")

    await add_step(page, "action", "Notification", "notify")
    second = page.get_by_role("group", name="Notification 2")
    await second.get_by_label("Title").fill("The tank is full")
    await second.get_by_label("Message").fill("Started by {{ trigger.type }}")

    # Reorder: the notification first, then back.
    await second.get_by_role("button", name="Move Notification 2 up").click()
    await expect(page.get_by_role("group", name="Notification 1")).to_be_visible()
    await page.get_by_role("button", name="Move Notification 1 down").click()
    await expect(page.get_by_role("group", name="Notification 2")).to_be_visible()

    await page.get_by_role("button", name="Save").click()
    await expect(
        page.get_by_role("status").filter(has_text="Fill the tank is saved.")
    ).to_be_visible()

    [stored] = (await hub.api("GET", "/api/workflows"))["workflows"]
    assert stored["triggers"] == [
        {"type": "event", "event_type": "home.arrived", "data": {"who": "greta"}}
    ]
    assert stored["actions"][0]["args"] == {"value": 42}
    assert stored["actions"][1]["title"] == "The tank is full"

    card = page.get_by_role("article", name="Fill the tank")
    await expect(card.get_by_role("switch", name="Fill the tank is on")).to_have_attribute(
        "aria-checked", "true"
    )
    await card.get_by_role("button", name="Run Fill the tank now").click()

    # "Run now" opens the run's trace: each step with its result.
    steps = page.locator(".wf-trace-step")
    await expect(steps).to_have_count(2, timeout=20_000)
    await expect(page.locator(".wf-facts")).to_contain_text("Succeeded")
    await expect(steps.nth(0)).to_contain_text("Entity action")
    await expect(steps.nth(0)).to_contain_text("actions[0]")
    await expect(steps.nth(1)).to_contain_text("Notification")
    await expect(page.locator(".wf-facts")).to_contain_text("Run by hand")
    got = await hub.api("GET", f"/api/entities/{entity['id']}")
    assert got["state"] == 42, "the run set the tank"

    # "Run again" runs it with the same trigger: a second run, marked as a rerun.
    await page.get_by_role("button", name="Run again").click()
    await expect(page.locator(".wf-facts")).to_contain_text("Run by hand · again")
    await expect(page.locator(".wf-facts")).to_contain_text("Succeeded")
    await expect(steps).to_have_count(2)

    # The history lists both runs; the list shows the newest as the last run.
    await page.get_by_role("link", name="All runs").click()
    await expect(page.locator(".wf-run")).to_have_count(2)
    await expect(page.locator(".wf-run").first).to_contain_text("Succeeded")
    await page.get_by_role("link", name="All workflows").click()
    await expect(card).to_contain_text("Succeeded")

    # Switched off from the list, and the hub knows.
    await card.get_by_role("switch", name="Fill the tank is on").click()
    await expect(card.get_by_role("switch", name="Fill the tank is on")).to_have_attribute(
        "aria-checked", "false"
    )
    [stored] = (await hub.api("GET", "/api/workflows"))["workflows"]
    assert stored["enabled"] is False


async def test_a_refused_workflow_names_each_field_next_to_it(page: Page, hub: RunningHub) -> None:
    entity = await tank(hub)
    await page.goto(hub.url + "/#/workflows/new")
    await page.get_by_label("Name", exact=True).fill("Broken")
    await add_step(page, "trigger", "Schedule", "schedule")
    await page.get_by_label("Cron line").fill("every morning")
    await add_step(page, "action", "Entity action", "entity_action")
    action = page.get_by_role("group", name="Entity action 1")
    await action.get_by_label("Entity", exact=True).select_option(str(entity["id"]))
    await action.get_by_label("Action", exact=True).select_option("set_value")
    # The value left empty: the hub says the argument is required, next to it.
    await page.get_by_role("button", name="Save").click()

    summary = page.locator(".wf-summary")
    await expect(summary).to_be_visible()
    await expect(summary.locator("li")).to_have_count(2)
    await expect(summary).to_contain_text("triggers[0].cron")
    await expect(summary).to_contain_text("actions[0].args.value")
    cron = page.locator('[data-path="triggers[0].cron"] > .wf-error')
    await expect(cron).to_contain_text("is not a cron line")
    await expect(page.get_by_label("Cron line")).to_have_attribute("aria-invalid", "true")
    value = page.locator('[data-path="actions[0].args.value"] > .wf-error')
    await expect(value).to_be_visible()
    await expect(action.get_by_label("Value", exact=True)).to_have_attribute("aria-invalid", "true")
    await expect(value).not_to_contain_text(
        "actions[0]"
    )  # the field says where; the text says what
    assert (await hub.api("GET", "/api/workflows"))["workflows"] == []

    # Fixed, it saves.
    await page.get_by_label("Cron line").fill("0 7 * * 1-5")
    await action.get_by_label("Value", exact=True).fill("5")
    await page.get_by_role("button", name="Save").click()
    card = page.get_by_role("article", name="Broken")
    await expect(card).to_be_visible()

    # Edited: the stored workflow comes back into the form, and saves as its next version.
    await card.get_by_role("link", name="Edit Broken").click()
    await expect(page.get_by_label("Cron line")).to_have_value("0 7 * * 1-5")
    await expect(page.get_by_label("Value", exact=True)).to_have_value("5")
    await page.get_by_label("Name", exact=True).fill("Fixed")
    await page.get_by_role("button", name="Save").click()
    card = page.get_by_role("article", name="Fixed")
    await expect(card).to_be_visible()
    [stored] = (await hub.api("GET", "/api/workflows"))["workflows"]
    assert (stored["version"], stored["triggers"][0]["cron"]) == (2, "0 7 * * 1-5")

    # Deleting asks first.
    await card.get_by_role("button", name="Delete Fixed").click()
    dialog = page.get_by_role("dialog", name="Delete Fixed?")
    await dialog.get_by_role("button", name="Delete").click()
    await expect(card).to_have_count(0)
    assert (await hub.api("GET", "/api/workflows"))["workflows"] == []


async def test_the_page_and_its_errors_in_german(page: Page, hub: RunningHub) -> None:
    me: dict[str, Any] = await hub.api("GET", "/api/auth/current_user")
    await hub.api("PATCH", f"/api/people/{me['id']}", {"language": "de"})
    await page.goto(hub.url + "/#/workflows")
    await page.reload()
    await expect(page.get_by_role("link", name="Workflows", exact=True)).to_be_visible()
    await expect(page.get_by_text("Noch keine Workflows.")).to_be_visible()
    # Live: one made elsewhere shows up without a reload.
    await hub.api(
        "POST",
        "/api/workflows",
        {
            "name": "Anderswo",
            "triggers": [{"type": "event", "event_type": "home.arrived"}],
            "actions": [{"type": "notify", "title": "Hallo"}],
        },
    )
    made = page.get_by_role("article", name="Anderswo")
    await expect(made).to_contain_text("Einzeln")
    await expect(made.get_by_role("button", name="Anderswo jetzt ausführen")).to_be_visible()
    await page.get_by_role("link", name="Neuer Workflow").click()
    await expect(page.get_by_role("heading", name="Auslöser", exact=True)).to_be_visible()
    await page.get_by_label("Art des neuen Auslösers").select_option("schedule")
    await page.get_by_role("button", name="Auslöser hinzufügen").click()
    await page.get_by_label("Cron-Zeile").fill("jeden Morgen")
    await page.get_by_role("button", name="Speichern").click()
    summary = page.locator(".wf-summary")
    await expect(summary).to_contain_text("Der Workflow ist noch nicht gespeichert")
    # The hub's own sentences, in German, next to the fields they name.
    await expect(page.locator('[data-path="name"] > .wf-error')).to_have_text(
        "muss mindestens 1 Zeichen haben"
    )
    await expect(page.locator('[data-path="actions"] > .wf-error')).to_contain_text("mindestens 1")
    await expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")
