"""Approvals in a real browser: the chat's approval card (approve once, deny, no answer in time), the
notice in the navigation, Settings → Tool approvals, in German and on a phone, against a fake model
that calls the hub's acting tool ``control_entity`` on a helper toggle."""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import (
    ARTIFACTS,
    FAKE_API_KEY,
    OWNER,
    FakeModelServer,
    RunningHub,
    _hub_process,
    _signed_in_page,
)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
ENGLISH = (
    "Approve once",
    "Always",
    "Deny",
    "Arguments",
    "left to answer",
    "Approved",
    "Denied",
    "Tool approvals",
    "Ask first",
    "Reset to default",
    "Recent decisions",
    "approval waiting",
    "reads only",
)


def _console_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda err: errors.append(str(err)))
    return errors


async def _lamp(hub: RunningHub, fake: FakeModelServer) -> dict[str, Any]:
    """The fake as the default model and a helper toggle "Lamp" (off); the lamp's entity."""
    await hub.api(
        "POST",
        "/api/models",
        {
            "name": "fake",
            "base_url": fake.url,
            "model": "fake-model",
            "tier": "unregulated",
            "api_key": FAKE_API_KEY,
            "is_default": True,
        },
    )
    step = await hub.api("POST", "/api/config-flows", {"domain": "helpers"})
    user_input = {"name": "Lamp", "kind": "toggle"}
    step = await hub.api("POST", f"/api/config-flows/{step['flow_id']}", {"user_input": user_input})
    entry_id = step["entry_id"]
    deadline = time.monotonic() + 20
    while True:
        listed = (await hub.api("GET", f"/api/entities?entry_id={entry_id}"))["entities"]
        if listed:
            return dict(listed[0])
        assert time.monotonic() < deadline, "the lamp never appeared"
        await asyncio.sleep(0.1)


async def _state(hub: RunningHub, entity_id: int) -> Any:
    return (await hub.api("GET", f"/api/entities/{entity_id}"))["state"]


def _switch(
    fake: FakeModelServer, lamp: dict[str, Any], action: str, answer: str, **more: Any
) -> None:
    """The model's next turn: control the lamp, then say ``answer``."""
    fake.fake.reply_tool_call("control_entity", {"entity_id": lamp["id"], "action": action, **more})
    fake.fake.reply_text(answer)


async def _send(page: Any, text: str, label: str = "Message") -> None:
    message = page.get_by_role("textbox", name=label)
    await message.fill(text)
    await message.press("Enter")


async def test_an_acting_tool_waits_for_approve_once_and_a_second_run_is_denied(
    hub: RunningHub, page: Any, fake_openai: FakeModelServer
) -> None:
    errors = _console_errors(page)
    await page.set_viewport_size(DESKTOP)
    lamp = await _lamp(hub, fake_openai)
    _switch(fake_openai, lamp, "turn_on", "The lamp is **on** now.")
    await page.goto(hub.url + "/#/chat")
    await _send(page, "Turn on the lamp")

    transcript = page.get_by_role("log", name="Conversation")
    card = transcript.get_by_role("region", name="Allow control_entity?")
    await expect(card).to_be_visible()
    # The tool, where it comes from, and its arguments as "key: value" lines, never as markup.
    await expect(card).to_contain_text("the hub itself")
    await expect(card).to_contain_text("acts")
    await expect(card.locator("dt")).to_have_text(["entity_id:", "action:"])
    await expect(card.locator("dd")).to_have_text([str(lamp["id"]), "turn_on"])
    await expect(card).to_contain_text(re.compile(r"\d+:\d\d left to answer"))
    await expect(
        page.get_by_role("status").filter(has_text="Waiting for your approval")
    ).to_be_visible()
    assert await _state(hub, lamp["id"]) == "off"  # nothing happened yet

    # The notice in the navigation leads here too.
    [conversation] = (await hub.api("GET", "/api/conversations"))["conversations"]
    notice = page.get_by_role("link", name="1 approval waiting")
    await expect(notice).to_be_visible()
    await expect(notice).to_have_attribute("href", f"#/chat/{conversation['id']}")
    [pending] = (await hub.api("GET", "/api/approvals/pending"))["pending"]
    assert (pending["tool"], pending["conversation_id"]) == ("control_entity", conversation["id"])

    await card.get_by_role("button", name="Approve once").click()
    await expect(card).to_contain_text("Approved once (by you)")
    await expect(card.get_by_role("button")).to_have_count(0)
    tool = transcript.locator("details.chat__tool").filter(has_text="control_entity")
    await expect(tool.locator("summary")).to_contain_text("✓")
    await expect(transcript.locator(".chat__msg--assistant strong")).to_have_text("on")
    await expect(notice).to_be_hidden()
    assert await _state(hub, lamp["id"]) == "on"
    assert (await hub.api("GET", "/api/approvals/pending"))["pending"] == []

    # A reloaded conversation shows the card with its outcome, and no buttons.
    await page.reload()
    card = transcript.get_by_role("region", name="Allow control_entity?")
    await expect(card).to_contain_text("Approved once")
    await expect(card.get_by_role("button")).to_have_count(0)

    # Asked again (an "once" is good once): this time denied, and the chat says so.
    requests = len(fake_openai.fake.requests)
    markup = '<img src=x onerror="document.title=1"><b>now</b>'
    note = {"note": markup, "why": "the evening " * 20}
    _switch(fake_openai, lamp, "turn_off", "Understood, I left the lamp alone.", args=note)
    await _send(page, "Now turn it off")
    second = transcript.get_by_role("region", name="Allow control_entity?").last
    await expect(second.get_by_role("button", name="Deny")).to_be_visible()
    # A long value is folded, shown as pretty JSON when opened, and markup stays text.
    fold = second.locator("details")
    await expect(fold.locator("summary")).to_contain_text("…")
    await fold.locator("summary").click()
    await expect(fold.locator("pre")).to_contain_text('"note": "<img src=x')
    await expect(second.locator("img, b")).to_have_count(0)
    await second.get_by_role("button", name="Deny").click()
    await expect(second).to_contain_text("Denied (by you)")
    await expect(transcript).to_contain_text("Understood, I left the lamp alone.")
    await expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    assert await _state(hub, lamp["id"]) == "on"
    # The model heard of the denial as the tool's result.
    results = fake_openai.fake.tool_results(requests + 1)
    assert any("denied" in r.lower() for r in results), results
    decisions = (await hub.api("GET", "/api/approvals/decisions"))["decisions"]
    assert [d["answer"] for d in decisions[:2]] == ["deny", "once"]
    assert errors == []


async def test_the_notice_leads_back_to_a_waiting_conversation_from_another_page(
    hub: RunningHub, page: Any, fake_openai: FakeModelServer
) -> None:
    errors = _console_errors(page)
    await page.set_viewport_size(DESKTOP)
    lamp = await _lamp(hub, fake_openai)
    _switch(fake_openai, lamp, "turn_on", "Switched on while you were away.")
    await page.goto(hub.url + "/#/chat")
    await _send(page, "Turn on the lamp")
    await expect(page.get_by_role("region", name="Allow control_entity?")).to_be_visible()
    await page.get_by_role("link", name="Entities", exact=True).click()
    await expect(page).to_have_url(re.compile(r"#/entities$"))

    # Elsewhere, the navigation says something waits, and leads to the conversation.
    await page.get_by_role("link", name="1 approval waiting").click()
    await expect(page).to_have_url(re.compile(r"#/chat/"))
    card = page.get_by_role("region", name="Allow control_entity?")
    await card.get_by_role("button", name="Approve once").click()
    transcript = page.get_by_role("log", name="Conversation")
    await expect(transcript).to_contain_text("Switched on while you were away.")
    await expect(card).to_contain_text("Approved once")
    await expect(page.get_by_role("link", name="1 approval waiting")).to_be_hidden()
    assert await _state(hub, lamp["id"]) == "on"
    assert errors == []


async def test_settings_sets_a_tool_to_never_and_it_sticks(
    hub: RunningHub, page: Any, fake_openai: FakeModelServer
) -> None:
    errors = _console_errors(page)
    lamp = await _lamp(hub, fake_openai)
    await page.goto(hub.url + "/#/settings/approvals")
    section = page.get_by_role("region", name="Tool approvals")
    await expect(section.get_by_role("heading", name="Tool approvals")).to_be_in_viewport()
    rule = section.get_by_role("combobox", name="Rule for control_entity")
    await expect(rule).to_have_value("ask")
    await expect(rule.locator("option:checked")).to_have_text("Ask first (default)")
    hub_tools = section.get_by_role("table", name="The hub's own tools")
    row = hub_tools.get_by_role("row").filter(has_text="control_entity")
    await expect(row).to_contain_text("acts")
    reset = section.get_by_role("button", name="Reset control_entity to default")
    await expect(reset).to_be_disabled()
    # A read-only tool of the hub is allowed by default.
    read = section.get_by_role("combobox", name="Rule for read_entity")
    await expect(read).to_have_value("always")
    await expect(read.locator("option:checked")).to_have_text("Always allow (default)")

    await rule.select_option("never")
    await expect(row).to_contain_text("Saved")
    await expect(reset).to_be_enabled()
    await page.reload()
    rule = page.get_by_role("combobox", name="Rule for control_entity")
    await expect(rule).to_have_value("never")
    tools = {t["tool"]: t for t in (await hub.api("GET", "/api/approvals/tools"))["tools"]}
    assert (tools["control_entity"]["rule"], tools["control_entity"]["explicit"]) == ("never", True)

    # A "never" tool is not offered to the model at all.
    fake_openai.fake.reply_text("I cannot switch anything.")
    await page.goto(hub.url + "/#/chat")
    await _send(page, "Turn on the lamp")
    await expect(page.get_by_role("log", name="Conversation")).to_contain_text("I cannot switch")
    assert "control_entity" not in fake_openai.fake.tool_names(-1)
    assert "read_entity" in fake_openai.fake.tool_names(-1)
    assert await _state(hub, lamp["id"]) == "off"

    # Back to the default.
    await page.goto(hub.url + "/#/settings/approvals")
    await page.get_by_role("button", name="Reset control_entity to default").click()
    rule = page.get_by_role("combobox", name="Rule for control_entity")
    await expect(rule).to_have_value("ask")
    await expect(
        page.get_by_role("button", name="Reset control_entity to default")
    ).to_be_disabled()
    tools = {t["tool"]: t for t in (await hub.api("GET", "/api/approvals/tools"))["tools"]}
    assert (tools["control_entity"]["rule"], tools["control_entity"]["explicit"]) == ("ask", False)
    assert errors == []


async def test_in_german_on_a_phone_always_answers_and_settings_lists_the_decision(
    hub: RunningHub, page: Any, fake_openai: FakeModelServer
) -> None:
    errors = _console_errors(page)
    me = await hub.api("GET", "/api/auth/current_user")
    await hub.api("PATCH", f"/api/people/{me['id']}", {"language": "de"})
    lamp = await _lamp(hub, fake_openai)
    _switch(fake_openai, lamp, "turn_on", "Die Lampe ist an.")
    await page.set_viewport_size(PHONE)
    await page.goto(hub.url + "/#/chat")
    await page.reload()
    await _send(page, "Mach die Lampe an", "Nachricht")

    card = page.get_by_role("region", name="control_entity erlauben?")
    await expect(card).to_be_visible()
    await expect(card).to_contain_text("zum Antworten")
    await expect(card).to_contain_text("der Hub selbst")
    # The count in the navigation stays visible beside the menu button.
    notice = page.get_by_role("link", name="1 Freigabe wartet")
    await expect(notice).to_be_in_viewport()
    text = await card.inner_text()
    assert not [word for word in ENGLISH if word in text], text
    for name in ("Einmal erlauben", "Immer", "Ablehnen"):
        button = card.get_by_role("button", name=name, exact=True)
        await expect(button).to_be_in_viewport()
        box = await button.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= PHONE["width"]
    box = await card.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= PHONE["width"]
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    await card.get_by_role("button", name="Immer", exact=True).click()
    await expect(card).to_contain_text("Erlaubt, und ab jetzt immer (von dir)")
    await expect(page.get_by_role("log", name="Unterhaltung")).to_contain_text("Die Lampe ist an.")
    tools = {t["tool"]: t for t in (await hub.api("GET", "/api/approvals/tools"))["tools"]}
    assert tools["control_entity"]["rule"] == "always"

    await page.goto(hub.url + "/#/settings/approvals")
    section = page.get_by_role("region", name="Freigaben für Werkzeuge")
    rule = section.get_by_role("combobox", name="Regel für control_entity")
    await expect(rule).to_have_value("always")
    await expect(rule.locator("option:checked")).to_have_text("Immer erlauben")
    decisions = section.get_by_role("table", name="Letzte Entscheidungen")
    row = decisions.get_by_role("row").filter(has_text="control_entity")
    await expect(row).to_contain_text("Immer erlaubt")
    await expect(row).to_contain_text("du")
    text = await section.inner_text()
    assert not [word for word in ENGLISH if word in text], text
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert errors == []


# ---------------------------------------------------------------------------- no answer in time


@pytest.fixture
def hasty_hub(tmp_path: Path) -> Iterator[RunningHub]:
    """An onboarded hub whose approvals wait three seconds."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "configuration.yaml").write_text("agent:\n  approval_timeout_seconds: 3\n")
    with _hub_process(tmp_path) as url:
        request = urllib.request.Request(
            f"{url}/api/onboarding",
            data=json.dumps(OWNER).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            tokens = json.loads(resp.read())
        yield RunningHub(url, tokens, config)


@pytest.fixture
async def hasty_page(
    browser: Any, hasty_hub: RunningHub, request: pytest.FixtureRequest
) -> AsyncIterator[Any]:
    page = await _signed_in_page(browser, hasty_hub)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)


async def test_no_answer_in_time_is_a_denial_the_card_shows(
    hasty_hub: RunningHub, hasty_page: Any, fake_openai: FakeModelServer
) -> None:
    page = hasty_page
    errors = _console_errors(page)
    lamp = await _lamp(hasty_hub, fake_openai)
    _switch(fake_openai, lamp, "turn_on", "Nobody answered, so I did nothing.")
    await page.goto(hasty_hub.url + "/#/chat")
    await _send(page, "Turn on the lamp")
    card = page.get_by_role("log", name="Conversation").get_by_role(
        "region", name="Allow control_entity?"
    )
    await expect(card.get_by_role("button", name="Approve once")).to_be_visible()
    await expect(card).to_contain_text("No answer in time: denied", timeout=15_000)
    await expect(card.get_by_role("button")).to_have_count(0)
    await expect(page.get_by_role("log", name="Conversation")).to_contain_text(
        "Nobody answered, so I did nothing."
    )
    assert await _state(hasty_hub, lamp["id"]) == "off"
    [decision] = (await hasty_hub.api("GET", "/api/approvals/decisions"))["decisions"]
    assert (decision["answer"], decision["decided_by"]) == ("timeout", None)
    await page.reload()
    await expect(page.get_by_role("region", name="Allow control_entity?")).to_contain_text(
        "No answer in time"
    )
    assert errors == []
