"""The config-flow wizard, the integration catalog and the entries page in a real browser."""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.async_api import Page, Route, expect

from tests.browser.conftest import RunningHub

# A 1x1 PNG: what a device-linking step sends as its QR code, as a data URL.
QR = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYPj/"
    "HwADAgH/eL9GtQAAAABJRU5ErkJggg=="
)


async def add_helper(hub: RunningHub, name: str, kind: str = "toggle") -> dict[str, Any]:
    """Create a helper entry over REST; the ``create_entry`` answer."""
    form = await hub.api("POST", "/api/config-flows", {"domain": "helpers"})
    done = await hub.api(
        "POST", f"/api/config-flows/{form['flow_id']}", {"user_input": {"name": name, "kind": kind}}
    )
    assert done["type"] == "create_entry", done
    return dict(done)


async def entries(hub: RunningHub) -> list[dict[str, Any]]:
    """The hub's config entries, as the owner sees them."""
    return list((await hub.api("GET", "/api/config-entries"))["entries"])


async def test_add_reconfigure_and_delete_a_helper(page: Page, hub: RunningHub) -> None:
    await page.get_by_role("link", name="Integrations").click()
    await page.get_by_label("Search by name or domain").fill("HELP")
    helpers = page.get_by_role("article", name="Helpers")
    await expect(helpers).to_be_visible()
    await expect(page.get_by_role("article", name="Webhook")).to_have_count(0)
    # What it is for, in words; no status when nothing is wrong, no developer facts on the card.
    await expect(helpers).to_contain_text("Toggles, numbers and buttons that live in the hub")
    await expect(helpers.locator(".badge")).to_have_count(0)
    for fact in ("Loaded", "Service", "Stable", "1.0.0"):
        await expect(helpers.get_by_text(fact, exact=True)).not_to_be_visible()
    await page.get_by_label("Search by name or domain").fill("webho")  # by domain too
    await expect(page.get_by_role("article", name="Webhook")).to_be_visible()
    await page.get_by_label("Search by name or domain").fill("helpers")

    await helpers.get_by_role("button", name="Add Helpers").click()
    wizard = page.get_by_role("dialog", name="Add a helper")
    await expect(wizard).to_contain_text("Step 1")
    await expect(wizard.get_by_label("Kind").locator("option:checked")).to_have_text("Toggle")
    await wizard.get_by_label("Name").fill("Guest mode")
    await wizard.get_by_role("button", name="Submit").click()

    await expect(wizard).to_have_count(0)
    await expect(
        page.get_by_role("status").filter(has_text="Guest mode has been added.")
    ).to_be_visible()
    await expect(page).to_have_url(re.compile(r"#/entries$"))
    entry = page.get_by_role("article", name="Guest mode")
    await expect(entry).to_contain_text("Loaded")
    [stored] = await entries(hub)
    assert (stored["domain"], stored["data"], stored["state"]) == (
        "helpers",
        {"name": "Guest mode", "kind": "toggle"},
        "loaded",
    )

    # A helper takes no webhooks, has no health check and is not pulled: none of that is shown.
    for absent in ("Webhook URL", "Health", "Last sync", "pushes its updates"):
        await expect(entry.get_by_text(absent)).to_have_count(0)

    # Reconfigure: the same form, pre-filled; the entry is updated in place.
    await entry.get_by_role("button", name="Reconfigure: Guest mode").click()
    wizard = page.get_by_role("dialog", name="Change Guest mode")
    await expect(wizard.get_by_label("Name")).to_have_value("Guest mode")
    await expect(wizard.get_by_label("Minimum")).to_be_hidden()  # a toggle has no range
    await wizard.get_by_label("Name").fill("Guest room")
    await wizard.get_by_role("button", name="Submit").click()
    await expect(wizard).to_have_count(0)
    renamed = page.get_by_role("article", name="Guest room")
    await expect(renamed).to_contain_text("Loaded")
    await expect(page.get_by_role("article", name="Guest mode")).to_have_count(0)
    [stored] = await entries(hub)
    assert stored["title"] == "Guest room"

    # Disable and enable.
    await renamed.get_by_role("button", name="Disable: Guest room").click()
    await expect(renamed).to_contain_text("Disabled")
    await renamed.get_by_role("button", name="Enable: Guest room").click()
    await expect(renamed).to_contain_text("Loaded")

    # Delete asks first; cancelling keeps the entry.
    await renamed.get_by_role("button", name="Delete: Guest room").click()
    confirm = page.get_by_role("dialog", name="Delete Guest room?")
    # The body says what will happen, not the heading again.
    await expect(confirm).to_contain_text("Its entities and their history are removed")
    await expect(confirm.get_by_text("Delete Guest room?")).to_have_count(1)
    await confirm.get_by_role("button", name="Cancel").click()
    await expect(confirm).to_have_count(0)
    assert len(await entries(hub)) == 1
    await renamed.get_by_role("button", name="Delete: Guest room").click()
    await confirm.get_by_role("button", name="Delete").click()
    await expect(page.get_by_role("article", name="Guest room")).to_have_count(0)
    await expect(page.get_by_text("Nothing is set up yet.")).to_be_visible()
    assert await entries(hub) == []


async def test_the_wizard_shows_errors_under_their_fields(page: Page, hub: RunningHub) -> None:
    await page.goto(hub.url + "/#/integrations")
    await page.get_by_role("button", name="Add Helpers").click()
    wizard = page.get_by_role("dialog", name="Add a helper")
    await wizard.get_by_label("Kind").select_option(label="Number")
    await wizard.get_by_label("Minimum").fill("10")
    await wizard.get_by_label("Maximum").fill("5")
    await wizard.get_by_role("button", name="Submit").click()

    maximum = wizard.get_by_label("Maximum")
    await expect(maximum).to_have_attribute("aria-invalid", "true")
    await expect(maximum).to_have_accessible_description(
        re.compile("The maximum must be greater than the minimum.")
    )
    name = wizard.get_by_label("Name")
    await expect(name).to_have_accessible_description(re.compile("This field is required."))
    await expect(wizard.get_by_label("Minimum")).not_to_have_attribute("aria-invalid", "true")
    await expect(wizard).to_contain_text("Step 1")  # the same step again, not a new one
    await expect(wizard.get_by_label("Minimum")).to_have_value("10")  # what was typed stays

    await name.fill("Target temperature")
    await maximum.fill("30")
    await wizard.get_by_label("Unit").fill("°C")
    await wizard.get_by_role("button", name="Submit").click()
    await expect(wizard).to_have_count(0)
    await expect(page.get_by_role("article", name="Target temperature")).to_contain_text("Loaded")
    [stored] = await entries(hub)
    assert stored["data"] == {
        "name": "Target temperature",
        "kind": "number",
        "min": 10,
        "max": 30,
        "step": 1,
        "unit": "°C",
    }


async def test_cancelling_abandons_the_flow_on_the_server(page: Page, hub: RunningHub) -> None:
    await page.goto(hub.url + "/#/integrations")
    await page.get_by_role("button", name="Add Helpers").click()
    wizard = page.get_by_role("dialog", name="Add a helper")
    await wizard.get_by_label("Name").fill("Never saved")
    async with page.expect_request(lambda request: request.method == "DELETE") as abandoned:
        await wizard.get_by_role("button", name="Cancel").click()
    assert "/api/config-flows/" in (await abandoned.value).url
    await expect(wizard).to_have_count(0)
    assert await entries(hub) == []


async def test_a_multi_step_flow_with_a_qr_note_and_every_field_type(
    page: Page, hub: RunningHub
) -> None:
    """No bundled integration links a device by QR, so the helpers flow is given a second step.

    The first step is the real helpers form and its submission really creates the entry; the
    browser is then shown a "link" step (a QR note and one field of every other type) before the
    real ``create_entry`` answer, which checks the renderer and what it sends.
    """
    porch = await add_helper(hub, "Porch light")
    [porch_entity] = await _entities(hub, "helpers")
    assert porch["title"] == "Porch light"
    sent: list[dict[str, Any]] = []
    stash: dict[str, Any] = {}

    async def advance(route: Route) -> None:
        sent.append(route.request.post_data_json or {})
        if len(sent) == 1:  # the real helpers step: let it create the entry, show step 2 instead
            real = await route.fetch()
            stash["done"] = await real.json()
            assert stash["done"]["type"] == "create_entry", stash["done"]
            await route.fulfill(json=link_step(stash["done"]["flow_id"]))
        elif len(sent) == 2:  # a connection problem and a field error, with a log reference
            await route.fulfill(
                json=link_step(
                    stash["done"]["flow_id"],
                    errors={"base": "The phone did not answer.", "wait": "At most an hour."},
                    correlation_id="c0ffee12",
                )
            )
        else:
            await route.fulfill(json=stash["done"])

    await page.route(f"{hub.url}/api/config-flows/*", advance)
    await page.goto(hub.url + "/#/integrations")
    await page.get_by_role("button", name="Add Helpers").click()
    wizard = page.get_by_role("dialog", name="Add a helper")
    await wizard.get_by_label("Name").fill("Front door")
    await wizard.get_by_role("button", name="Submit").click()

    wizard = page.get_by_role("dialog", name="Link your phone")
    await expect(wizard).to_contain_text("Step 2")
    qr = wizard.get_by_role("img", name="Scan this code with the app.")
    await expect(qr).to_be_visible()
    await expect(qr).to_have_attribute("src", QR)
    await expect(wizard.get_by_text("Scan this code with the app.", exact=True)).to_be_visible()

    # The entity picker lists the helpers' toggles (the filter), including the new one.
    picker = wizard.get_by_label("Light to switch")
    await expect(picker.locator("option", has_text="Porch light")).to_have_count(1)
    await expect(picker.locator("option", has_text="Front door")).to_have_count(1)
    await picker.select_option(label="Porch light (helpers.toggle)")
    await expect(wizard.get_by_label("Wait", exact=True)).to_have_accessible_description(
        re.compile("seconds")
    )
    await wizard.get_by_label("Wait", exact=True).fill("90")
    assert await wizard.get_by_label("Day", exact=True).get_attribute("type") == "date"
    assert await wizard.get_by_label("At", exact=True).get_attribute("type") == "time"
    assert await wizard.get_by_label("Starts", exact=True).get_attribute("type") == "datetime-local"
    assert await wizard.get_by_label("Colour", exact=True).get_attribute("type") == "color"
    await wizard.get_by_label("Day", exact=True).fill("2025-06-01")
    await wizard.get_by_label("At", exact=True).fill("07:30")
    await wizard.get_by_label("Starts", exact=True).fill("2025-06-01T07:30")
    await wizard.get_by_label("Colour", exact=True).fill("#ff8800")
    await wizard.get_by_label("Room", exact=True).fill("Hall")
    await wizard.get_by_label("Device", exact=True).fill("phone-1")
    await wizard.get_by_role("group", name="Channels").get_by_label("Two").check()
    await wizard.get_by_label("Notify me").check()
    await wizard.get_by_label("Message").fill("line one\nline two")
    await wizard.get_by_role("button", name="Submit").click()

    alert = wizard.get_by_role("alert")
    await expect(alert).to_contain_text("The phone did not answer.")
    await expect(alert).to_contain_text("c0ffee12")
    await expect(wizard.get_by_label("Wait", exact=True)).to_have_accessible_description(
        re.compile("At most an hour.")
    )
    await expect(wizard).to_contain_text("Step 2")
    await expect(wizard.get_by_label("Wait", exact=True)).to_have_value(
        "90"
    )  # kept across the re-show
    await wizard.get_by_label("Wait", exact=True).fill("60")
    await wizard.get_by_role("button", name="Submit").click()

    await expect(wizard).to_have_count(0)
    await expect(page.get_by_role("article", name="Front door")).to_contain_text("Loaded")
    # A toggle's form has no range: the fields that do not apply are neither shown nor sent.
    assert sent[0]["user_input"] == {"name": "Front door", "kind": "toggle"}
    assert sent[2]["user_input"] == {  # the note takes no value, so it is never sent
        "target": porch_entity["id"],
        "wait": 60,
        "day": "2025-06-01",
        "at": "07:30",
        "starts": "2025-06-01T07:30",
        "colour": "#ff8800",
        "room": "Hall",
        "device": "phone-1",
        "channels": [2],
        "notify": True,
        "message": "line one\nline two",
    }


async def test_stored_secrets_are_kept_unless_cleared(page: Page, hub: RunningHub) -> None:
    """No bundled integration stores a secret, so the helpers reconfigure form is given two.

    What the browser sends is checked, then the two made-up fields are taken out before the
    real hub sees the submission.
    """
    await add_helper(hub, "Alarm")
    sent: list[dict[str, Any]] = []

    async def reconfigure(route: Route) -> None:
        real = await (await route.fetch()).json()
        real["data_schema"] += [
            {
                **FIELD,
                "name": "password",
                "label": "Password",
                "type": "password",
                "has_value": True,
                "masked": "••••1234",
            },
            {**FIELD, "name": "api_key", "label": "API key", "type": "secret", "has_value": True},
            {**FIELD, "name": "token", "label": "Token", "type": "secret", "has_value": True},
        ]
        await route.fulfill(json=real)

    async def advance(route: Route) -> None:
        body = route.request.post_data_json or {}
        sent.append(body)
        real = {name: value for name, value in body["user_input"].items() if name not in FAKE}
        await route.continue_(post_data=json.dumps({**body, "user_input": real}))

    await page.route(f"{hub.url}/api/config-entries/*/reconfigure", reconfigure)
    await page.route(f"{hub.url}/api/config-flows/*", advance)
    await page.goto(hub.url + "/#/entries")
    await page.get_by_role("button", name="Reconfigure: Alarm").click()
    wizard = page.get_by_role("dialog", name="Change Alarm")
    password = wizard.get_by_label("Password", exact=True)
    await expect(password).to_have_attribute("type", "password")
    await expect(password).to_have_value("")
    await expect(password).to_have_accessible_description(
        re.compile("Stored ••••1234, leave empty to keep it.")
    )
    api_key = wizard.get_by_label("API key", exact=True)
    await expect(api_key).to_have_accessible_description(
        re.compile("Stored, leave empty to keep it.")
    )
    await wizard.get_by_label("Token", exact=True).fill("new-token")
    await wizard.get_by_role("checkbox", name="Remove the stored API key").check()
    await expect(api_key).to_be_disabled()
    await wizard.get_by_role("button", name="Submit").click()
    await expect(wizard).to_have_count(0)
    user_input = sent[0]["user_input"]
    assert "password" not in user_input  # left empty: the server keeps it
    assert user_input["api_key"] == ""  # cleared on purpose
    assert user_input["token"] == "new-token"


FAKE = ("password", "api_key", "token")
FIELD: dict[str, Any] = {
    "required": False,
    "default": None,
    "options": None,
    "placeholder": None,
    "description": None,
    "multiline": False,
    "image": None,
    "filter": None,
    "multiple": False,
}


def link_step(
    flow_id: str, errors: dict[str, str] | None = None, correlation_id: str | None = None
) -> dict[str, Any]:
    """A second step as the serializer writes one: a QR note and a field of every other type."""
    schema = [
        {
            **FIELD,
            "name": "qr",
            "label": "Scan this code with the app.",
            "type": "note",
            "image": QR,
        },
        {
            **FIELD,
            "name": "target",
            "label": "Light to switch",
            "type": "entity",
            "required": True,
            "filter": {"domain": "helpers", "entity_type": "toggle"},
        },
        {**FIELD, "name": "wait", "label": "Wait", "type": "duration"},
        {**FIELD, "name": "day", "label": "Day", "type": "date"},
        {**FIELD, "name": "at", "label": "At", "type": "time"},
        {**FIELD, "name": "starts", "label": "Starts", "type": "datetime"},
        {**FIELD, "name": "colour", "label": "Colour", "type": "color"},
        {**FIELD, "name": "room", "label": "Room", "type": "area"},
        {**FIELD, "name": "device", "label": "Device", "type": "device"},
        {
            **FIELD,
            "name": "channels",
            "label": "Channels",
            "type": "select",
            "multiple": True,
            "options": [{"value": "one", "label": "One"}, {"value": 2, "label": "Two"}],
        },
        {**FIELD, "name": "notify", "label": "Notify me", "type": "bool", "default": False},
        {**FIELD, "name": "message", "label": "Message", "type": "text", "multiline": True},
    ]
    step: dict[str, Any] = {
        "type": "form",
        "flow_id": flow_id,
        "domain": "helpers",
        "language": "en",
        "step_id": "link",
        "title": "Link your phone",
        "description": "Open the app and scan the code.",
        "description_placeholders": {},
        "errors": errors or {},
        "error_keys": dict.fromkeys(errors or {}, "x"),
        "data_schema": schema,
    }
    if correlation_id:
        step["correlation_id"] = correlation_id
    return step


async def _entities(hub: RunningHub, domain: str) -> list[dict[str, Any]]:
    return list((await hub.api("GET", f"/api/entities?domain={domain}"))["entities"])


async def test_an_integration_without_a_form_is_added_at_once_and_syncs(
    page: Page, hub: RunningHub
) -> None:
    await page.goto(hub.url + "/#/integrations")
    await page.get_by_role("button", name="Add System Monitor").click()
    await expect(page.get_by_role("status").filter(has_text="has been added.")).to_be_visible()
    monitor = page.get_by_role("article", name="System Monitor")
    await expect(monitor).to_contain_text("Loaded")
    await expect(monitor).to_contain_text("Next sync")
    await monitor.get_by_role("button", name="Sync now: System Monitor").click()
    await expect(page.get_by_role("status").filter(has_text="Synced")).to_be_visible()
    await expect(monitor.get_by_text("Never")).to_have_count(0)
    [stored] = await entries(hub)
    assert stored["last_sync"]["at"]

    # It may be set up once: the catalog says so and leads to the entry instead of adding.
    await page.get_by_role("link", name="Integrations").click()
    card = page.get_by_role("article", name="System Monitor")
    await expect(card.get_by_role("button", name="Add System Monitor")).to_have_count(0)
    await card.get_by_role("link", name="Already set up").click()
    await expect(page).to_have_url(re.compile(r"#/entries/"))
    await expect(page.get_by_role("article", name="System Monitor")).to_be_focused()
    assert len(await entries(hub)) == 1


async def test_a_german_person_gets_a_german_wizard(browser: Any, hub: RunningHub) -> None:
    me = await hub.api("GET", "/api/auth/current_user")
    await hub.api("PATCH", f"/api/people/{me['id']}", {"language": "de"})
    page = await (await browser.new_context()).new_page()
    await page.goto(hub.url + "/#/integrations")
    await page.get_by_label("Username").fill("owner")
    await page.get_by_label("Password").fill("owner-password-1")
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("link", name="Integrationen").click()
    await page.get_by_role("button", name="Helfer hinzufügen").click()
    wizard = page.get_by_role("dialog", name="Helfer hinzufügen")
    await expect(wizard).to_contain_text("Schritt 1")
    await wizard.get_by_label("Art").select_option(label="Zahl")
    await wizard.get_by_label("Name").fill("Zieltemperatur")
    await wizard.get_by_label("Minimum").fill("30")
    await wizard.get_by_label("Maximum").fill("20")
    await wizard.get_by_role("button", name="Absenden").click()
    await expect(wizard.get_by_label("Maximum")).to_have_accessible_description(
        re.compile("Das Maximum muss größer als das Minimum sein.")
    )
    await wizard.get_by_role("button", name="Abbrechen").click()
    await expect(wizard).to_have_count(0)
