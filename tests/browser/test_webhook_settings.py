"""A GitHub webhook's settings in a real browser: the delivery log, replay, the mapping preview and save."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from typing import Any

import aiohttp
from playwright.async_api import Page, expect

from tests.browser.conftest import RunningHub
from tests.bundled.test_webhook_mapping import example


async def github_entry(hub: RunningHub) -> tuple[str, str]:
    """A GitHub webhook added through its flow (the secret page pasted back); its id and secret."""
    flow = await hub.api("POST", "/api/config-flows", {"domain": "webhook"})
    path = f"/api/config-flows/{flow['flow_id']}"
    page = await hub.api("POST", path, {"user_input": {"name": "Code", "preset": "github"}})
    found = re.search(r"whsec_[A-Za-z0-9+/=]+", page["description"])
    assert found, page
    done = await hub.api("POST", path, {"user_input": {"secret": found.group(0)}})
    assert done["type"] == "create_entry", done
    return str(done["entry_id"]), found.group(0)


async def deliver(hub: RunningHub, entry_id: str, secret: str, name: str, event: str) -> None:
    """Post a vendored GitHub example to the entry as GitHub would, signed."""
    info = await hub.api("GET", f"/api/config-entries/{entry_id}/webhook")
    raw = json.dumps(example(name), separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": "sha256="
        + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest(),
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(hub.url + info["path"], data=raw, headers=headers) as resp,
    ):
        assert resp.status == 200, await resp.text()


async def test_the_log_replay_preview_and_save_of_a_github_webhook(
    page: Page, hub: RunningHub
) -> None:
    entry_id, secret = await github_entry(hub)
    await deliver(hub, entry_id, secret, "push", "push")
    await deliver(hub, entry_id, secret, "issues.opened", "issues")

    await page.goto(hub.url + "/#/entries")
    entry = page.get_by_role("article", name="Code")
    await entry.get_by_text("Webhook URL", exact=True).click()

    # The log: newest first, each delivery with its outcome, headers and body.
    log = entry.get_by_role("region", name="Deliveries")
    rows = log.locator("li")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text("Applied")
    await rows.nth(1).locator("summary").click()
    await expect(rows.nth(1)).to_contain_text("x-github-event: push")
    await expect(rows.nth(1)).to_contain_text('"full_name": "Codertocat/Hello-World"')
    assert secret not in await log.inner_text(), "the signature never reaches the log"

    # Replay the push: a third row, marked as replayed.
    await rows.nth(1).get_by_role("button", name=re.compile("^Replay delivery")).click()
    await expect(page.get_by_role("status").filter(has_text="Delivered again.")).to_be_visible()
    await expect(rows).to_have_count(3)
    await expect(rows.first).to_contain_text("replayed")

    # The mapping: a test against the last delivery before anything is saved.
    mapping = entry.get_by_role("region", name="Mapping")
    await mapping.get_by_role("button", name="Edit the mapping of Code").click()
    await expect(mapping).to_contain_text("Sender: GitHub")
    state = mapping.get_by_label("Entity state")
    await state.fill("sender.login")
    await mapping.get_by_role("button", name="Test with the last delivery").click()
    preview = mapping.locator(".webhook-preview")
    await expect(preview).to_contain_text("Entities: 1")
    await expect(preview.locator("td").nth(2)).to_have_text("Codertocat")
    [stored] = (await hub.api("GET", f"/api/entities?entry_id={entry_id}"))["entities"]
    assert stored["state"] == "push", "a test saves nothing"

    entity_id = mapping.get_by_label("Entity id")
    await entity_id.fill("nothing.here")
    await mapping.get_by_role("button", name="Test with the last delivery").click()
    await expect(preview.get_by_role("alert")).to_contain_text("'nothing.here' found nothing")

    await entity_id.fill("")
    await mapping.get_by_role("button", name="Save").click()
    await expect(
        page.get_by_role("status").filter(has_text="The mapping of Code is saved.")
    ).to_be_visible()
    await deliver(hub, entry_id, secret, "push", "push")
    [stored] = (await hub.api("GET", f"/api/entities?entry_id={entry_id}"))["entities"]
    assert stored["state"] == "Codertocat", "the saved mapping applies to the next delivery"


async def test_a_bad_expression_is_named_in_german(page: Page, hub: RunningHub) -> None:
    entry_id, secret = await github_entry(hub)
    await deliver(hub, entry_id, secret, "push", "push")
    me: dict[str, Any] = await hub.api("GET", "/api/auth/current_user")
    await hub.api("PATCH", f"/api/people/{me['id']}", {"language": "de"})
    await page.goto(hub.url + "/#/entries")
    await page.reload()
    entry = page.get_by_role("article", name="Code")
    await entry.get_by_text("Webhook-URL", exact=True).click()
    await expect(entry.get_by_role("region", name="Zustellungen").locator("li")).to_contain_text(
        "Angewandt"
    )
    mapping = entry.get_by_role("region", name="Zuordnung")
    await mapping.get_by_role("button", name="Zuordnung von Code bearbeiten").click()
    await mapping.get_by_label("Entitäts-ID").fill("repository.[")
    await mapping.get_by_role("button", name="Speichern").click()
    await expect(mapping.get_by_role("alert")).to_have_text(
        "Das ist kein gültiger JMESPath-Ausdruck."
    )
