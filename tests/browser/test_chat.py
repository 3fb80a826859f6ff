"""The agent's UI in a real browser: Settings → Models, the chat page, its integration picker, and a
dashboard's chat view, against a fake OpenAI-compatible model the hub process calls over HTTP."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from playwright.async_api import expect

from tests.bench.startup import free_port
from tests.browser.conftest import FAKE_API_KEY, FakeModelServer, RunningHub


def _console_errors(page: Any) -> list[str]:
    """Collect the page's console errors and uncaught exceptions from now on."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda err: errors.append(str(err)))
    return errors


async def _add_model(hub: RunningHub, fake: FakeModelServer, tier: str = "unregulated") -> None:
    """The fake as the hub's default model, over REST."""
    await hub.api(
        "POST",
        "/api/models",
        {
            "name": "fake",
            "base_url": fake.url,
            "model": "fake-model",
            "tier": tier,
            "api_key": FAKE_API_KEY,
            "is_default": True,
        },
    )


async def _text_tools(hub: RunningHub) -> None:
    """Set up Text Tools (no config flow: one POST creates its entry)."""
    await hub.api("POST", "/api/config-flows", {"domain": "text_tools"})


async def test_settings_models_add_edit_delete_and_never_show_the_key(
    hub: RunningHub, page: Any, fake_openai: FakeModelServer
) -> None:
    errors = _console_errors(page)
    await page.get_by_role("link", name="Settings", exact=True).click()
    models = page.get_by_role("region", name="Models", exact=True)
    await expect(models.get_by_text("No models yet.")).to_be_visible()

    # Add one through the form.
    await models.get_by_role("button", name="Add model").click()
    form = page.get_by_role("dialog", name="Add model")
    await form.get_by_label("Name", exact=True).fill("fake")
    await form.get_by_label("Base URL").fill(fake_openai.url)
    await form.get_by_label("Model ID").fill("fake-model")
    await form.get_by_label("Tier", exact=True).select_option("regulated")
    await form.get_by_label("API key").fill(FAKE_API_KEY)
    await form.get_by_label("Use as the default model").check()
    await form.get_by_role("button", name="Add model").click()
    await expect(form).to_be_hidden()

    table = page.get_by_role("table", name="Models")
    row = table.get_by_role("row").filter(has_text="fake-model")
    await expect(row).to_contain_text("fake")
    await expect(row).to_contain_text(fake_openai.url)
    await expect(row).to_contain_text("Regulated")
    await expect(row).to_contain_text("default")
    await expect(row).to_contain_text("API key stored")
    assert FAKE_API_KEY not in await page.content()
    listed = await hub.api("GET", "/api/models")
    assert listed["default"] == "fake"
    [model] = listed["models"]
    assert model["has_api_key"] is True
    assert model["tier"] == "regulated"
    assert FAKE_API_KEY not in json.dumps(listed)

    # Edit: the key field starts empty and, left empty, keeps the stored key.
    await page.get_by_role("button", name="Edit model fake").click()
    edit = page.get_by_role("dialog", name="Edit model fake")
    await expect(edit.get_by_label("Name", exact=True)).to_be_disabled()
    await expect(edit.get_by_label("API key")).to_have_value("")
    await expect(edit).to_contain_text("leave this empty to keep it")
    await edit.get_by_label("Tier", exact=True).select_option("internal")
    await edit.get_by_role("button", name="Save model").click()
    await expect(edit).to_be_hidden()
    await expect(row).to_contain_text("Internal")
    await expect(row).to_contain_text("API key stored")
    [model] = (await hub.api("GET", "/api/models"))["models"]
    assert (model["tier"], model["has_api_key"]) == ("internal", True)

    # Or the stored key is cleared; an environment variable is never offered here (only
    # configuration.yaml may name one, since the hub sends its value to the model's address).
    await page.get_by_role("button", name="Edit model fake").click()
    await expect(edit.get_by_label("Environment variable")).to_have_count(0)
    await edit.get_by_label("Clear the stored key").check()
    await edit.get_by_role("button", name="Save model").click()
    await expect(edit).to_be_hidden()
    await expect(row).to_contain_text("no key")
    [model] = (await hub.api("GET", "/api/models"))["models"]
    assert (model["has_api_key"], model["api_key_env"]) == (False, None)

    # The sub-agents sit under the models.
    agents = page.get_by_role("region", name="Sub-agents")
    await expect(agents.get_by_role("heading", name="Sub-agents")).to_be_visible()
    listed_agents = (await hub.api("GET", "/api/agents"))["agents"]
    if listed_agents:
        first = listed_agents[0]
        switch = agents.get_by_role("switch", name=f"{first['name']} enabled")
        await expect(switch).to_have_attribute("aria-checked", str(first["enabled"]).lower())
        await switch.click()
        await expect(switch).to_have_attribute("aria-checked", str(not first["enabled"]).lower())
        again = {a["slug"]: a for a in (await hub.api("GET", "/api/agents"))["agents"]}
        assert again[first["slug"]]["enabled"] is not first["enabled"]
    else:
        await expect(agents.get_by_text("No sub-agents yet.")).to_be_visible()

    # Delete, after confirming.
    await page.get_by_role("button", name="Delete model fake").click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    await expect(models.get_by_text("No models yet.")).to_be_visible()
    assert (await hub.api("GET", "/api/models"))["models"] == []
    assert errors == []


async def test_the_chat_page_without_a_model_points_to_settings(hub: RunningHub, page: Any) -> None:
    errors = _console_errors(page)
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.get_by_role("link", name="Chat", exact=True).click()
    await expect(page).to_have_url(re.compile(r"#/chat$"))
    await expect(page.get_by_text("No model is configured yet")).to_be_visible()
    await expect(page.get_by_role("textbox", name="Message")).to_be_disabled()
    await page.get_by_role("link", name="Add one in Settings → Models").click()
    await expect(page).to_have_url(re.compile(r"#/settings/models$"))
    # It lands on the Models card, not at the top of the page.
    models = page.get_by_role("region", name="Models", exact=True)
    await expect(models.get_by_role("heading", name="Models", exact=True)).to_be_in_viewport()
    await expect(page.get_by_role("heading", name="Settings", exact=True)).not_to_be_in_viewport()
    # And it is no wider than the other cards.
    account = await page.get_by_role("region", name="Your account").bounding_box()
    card = await models.bounding_box()
    assert account is not None
    assert card is not None
    assert card["width"] <= account["width"]
    assert errors == []


async def test_settings_models_lands_on_models_in_german_on_a_phone(
    hub: RunningHub, page: Any
) -> None:
    me = await hub.api("GET", "/api/auth/current_user")
    await hub.api("PATCH", f"/api/people/{me['id']}", {"language": "de"})
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(hub.url + "/#/chat")
    await page.reload()
    await page.get_by_role("link", name="Richte eines unter Einstellungen → Modelle ein").click()
    models = page.get_by_role("region", name="Modelle", exact=True)
    await expect(models.get_by_role("heading", name="Modelle", exact=True)).to_be_in_viewport()
    box = await models.bounding_box()
    assert box is not None
    assert box["width"] <= 390


async def test_a_person_lets_web_fetch_reach_their_network_in_settings(
    hub: RunningHub, page: Any
) -> None:
    errors = _console_errors(page)
    await page.get_by_role("link", name="Settings", exact=True).click()
    section = page.get_by_role("region", name="The agent and your network")
    box = section.get_by_role("checkbox", name="Let web fetch open addresses on your home network")
    await expect(box).not_to_be_checked()
    await box.check()
    await expect(box).to_be_enabled()
    assert await hub.api("GET", "/api/agent/preferences") == {"allow_local_fetch": True}
    await page.reload()
    await expect(
        page.get_by_role("checkbox", name="Let web fetch open addresses on your home network")
    ).to_be_checked()
    assert errors == []


async def test_a_chat_streams_text_and_a_tool_call_and_keeps_the_transcript(
    hub: RunningHub, page: Any, fake_openai: FakeModelServer
) -> None:
    errors = _console_errors(page)
    await page.set_viewport_size({"width": 1280, "height": 800})
    await _text_tools(hub)
    await _add_model(hub, fake_openai)
    fake = fake_openai.fake
    fake.reply_tool_call("text_statistics", {"text": "one two three"})
    fake.reply_text("The text has **three** words.\n\n- one\n- two\n- three")

    await page.get_by_role("link", name="Chat", exact=True).click()
    await expect(page.get_by_role("heading", name="New chat")).to_be_visible()
    message = page.get_by_role("textbox", name="Message")
    # The whole chat box fits the window: the composer is not cut off.
    await expect(page.get_by_role("form", name="Write a message")).to_be_in_viewport(ratio=1)
    await message.fill("How many words are in")
    await message.press("Shift+Enter")  # a new line, not a send
    await message.press_sequentially("one two three?")
    await expect(message).to_have_value("How many words are in\none two three?")
    await message.press("Enter")

    transcript = page.get_by_role("log", name="Conversation")
    question = transcript.locator(".chat__msg--user .chat__text")
    await expect(question).to_contain_text("How many words are in")
    assert await question.inner_text() == "How many words are in\none two three?"
    tool = transcript.locator("details").filter(has_text="text_statistics (text_tools)")
    await expect(tool).to_be_visible()
    # Its icon is drawn, not an emoji that is an empty box without an emoji font.
    await expect(tool.locator("summary svg")).to_be_visible()
    assert "🔧" not in await tool.locator("summary").inner_text()
    await tool.locator("summary").click()
    await expect(tool).to_contain_text('"text": "one two three"')
    await expect(tool).to_contain_text(re.compile(r'"words":\s*3'))
    answer = transcript.locator(".chat__msg--assistant").last
    await expect(answer.locator("strong")).to_have_text("three")
    await expect(answer.get_by_role("listitem")).to_have_text(["one", "two", "three"])
    await expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()

    # The model got the stored key, the tool, and then the tool's result.
    assert set(fake.auth_headers) == {f"Bearer {FAKE_API_KEY}"}
    assert "text_statistics" in fake.tool_names(0)
    assert any('"words":3' in r.replace(" ", "") for r in fake.tool_results(1))

    # The conversation is listed under its first line and opens again from the hub's store.
    [conversation] = (await hub.api("GET", "/api/conversations"))["conversations"]
    await expect(page).to_have_url(re.compile(f"#/chat/{conversation['id']}$"))
    side = page.get_by_role("complementary", name="Conversations")
    await expect(side.get_by_role("link", name="How many words are in")).to_be_visible()
    await page.reload()
    await expect(page.get_by_role("heading", name="How many words are in")).to_be_visible()
    await expect(transcript.locator("details")).to_contain_text("text_statistics (text_tools)")
    await expect(transcript.locator(".chat__msg--assistant strong")).to_have_text("three")

    # Rename, then delete with a confirmation.
    await side.get_by_role("button", name="Rename How many words are in").click()
    rename = page.get_by_role("dialog", name="Rename the conversation")
    await rename.get_by_label("Title").fill("Word count")
    await rename.get_by_role("button", name="Save").click()
    await expect(side.get_by_role("link", name="Word count")).to_be_visible()
    await expect(page.get_by_role("heading", name="Word count")).to_be_visible()
    await expect(page.get_by_role("form", name="Write a message")).to_be_in_viewport(ratio=1)
    await side.get_by_role("button", name="Delete Word count").click()
    ask = page.get_by_role("dialog", name="Delete the conversation “Word count”?")
    await expect(ask).to_contain_text("Its messages are gone for good.")
    await ask.get_by_role("button", name="Delete").click()
    await expect(page).to_have_url(re.compile(r"#/chat$"))
    await expect(side.get_by_text("No conversations yet.")).to_be_visible()
    assert (await hub.api("GET", "/api/conversations"))["conversations"] == []
    assert errors == []


async def test_stop_cancels_a_slow_run(
    hub: RunningHub, page: Any, fake_openai: FakeModelServer
) -> None:
    errors = _console_errors(page)
    await _add_model(hub, fake_openai)
    fake_openai.fake.delay(60)
    await page.goto(hub.url + "/#/chat")
    message = page.get_by_role("textbox", name="Message")
    await message.fill("Take your time")
    await page.get_by_role("button", name="Send", exact=True).click()
    stop = page.get_by_role("button", name="Stop", exact=True)
    await expect(stop).to_be_visible()
    await expect(page.get_by_role("status").filter(has_text="working")).to_be_visible()
    async with asyncio.timeout(10):
        await fake_openai.fake.wait_for_requests(1)
    await stop.click()

    transcript = page.get_by_role("log", name="Conversation")
    await expect(transcript.get_by_text("Stopped.")).to_be_visible()
    await expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    async with asyncio.timeout(10):
        await fake_openai.fake.wait_for_disconnects(1)
    [conversation] = (await hub.api("GET", "/api/conversations"))["conversations"]
    stored = await hub.api("GET", f"/api/conversations/{conversation['id']}")
    assert (stored["items"][0]["kind"], stored["items"][0]["text"]) == ("user", "Take your time")
    assert errors == []


async def _open_picker(hub: RunningHub, page: Any, fake: FakeModelServer) -> Any:
    """Text Tools set up, an unregulated model, the chat page with its integration picker open."""
    await _text_tools(hub)
    await _add_model(hub, fake, tier="unregulated")
    await page.goto(hub.url + "/#/chat")
    await expect(page.get_by_label("Model", exact=True)).to_have_value("fake")
    await page.get_by_text("Integrations: all").click()
    return page.get_by_role("group", name="Integrations the assistant may use")


async def test_the_integration_picker_disables_what_the_model_tier_may_not_see(
    hub: RunningHub, page: Any, fake_openai: FakeModelServer
) -> None:
    errors = _console_errors(page)
    catalog = (await hub.api("GET", "/api/integrations"))["integrations"]
    if "openproject" not in {i["domain"] for i in catalog}:
        pytest.skip("no bundled integration needs a tier above unregulated (openproject missing)")
    # An OpenProject entry (required_tier: internal); its server is down, which the flow allows.
    flow = await hub.api("POST", "/api/config-flows", {"domain": "openproject"})
    user_input = {"base_url": f"http://127.0.0.1:{free_port()}", "api_key": "op-key"}
    step = await hub.api("POST", f"/api/config-flows/{flow['flow_id']}", {"user_input": user_input})
    if step["type"] != "create_entry":  # the unreachable server is named; added anyway
        anyway = {"user_input": {"next_step_id": "add_anyway"}}
        step = await hub.api("POST", f"/api/config-flows/{flow['flow_id']}", anyway)
    assert step["type"] == "create_entry", step

    picker = await _open_picker(hub, page, fake_openai)
    await expect(picker.get_by_role("checkbox", name=re.compile("^Text Tools"))).to_be_checked()
    offered = await hub.api("GET", "/api/agent/integrations?model=fake")
    gated = [i for i in offered["integrations"] if not i["available"]]
    assert [i["domain"] for i in gated] == ["openproject"]
    for integration in gated:
        box = picker.get_by_role("checkbox", name=re.compile(f"^{re.escape(integration['name'])}"))
        await expect(box).to_be_disabled()
        await expect(box).not_to_be_checked()
        assert integration["reason_code"] == "tier_too_low"
        await expect(box).to_have_accessible_description("Needs a model of tier Internal or above")
    assert errors == []


async def test_the_integration_picker_limits_the_tools_a_run_gets(
    hub: RunningHub, page: Any, fake_openai: FakeModelServer
) -> None:
    errors = _console_errors(page)
    picker = await _open_picker(hub, page, fake_openai)
    everything = picker.get_by_role("checkbox", name="All integrations")
    text_tools = picker.get_by_role("checkbox", name=re.compile("^Text Tools"))
    await expect(everything).to_be_checked()
    await expect(text_tools).to_be_checked()
    await expect(text_tools).to_be_disabled()  # "all" decides while it is ticked

    # Only what is ticked reaches the model.
    await everything.uncheck()
    await expect(text_tools).to_be_enabled()
    await text_tools.uncheck()
    await expect(page.get_by_text(re.compile(r"Integrations: 0 of \d+"))).to_be_visible()
    await page.get_by_role("textbox", name="Message").fill("Hello")
    await page.get_by_role("textbox", name="Message").press("Enter")
    await expect(page.get_by_role("log", name="Conversation")).to_contain_text("ok")
    assert "text_statistics" not in fake_openai.fake.tool_names(0)
    [conversation] = (await hub.api("GET", "/api/conversations"))["conversations"]
    assert "text_tools" not in conversation["integrations"]

    # Ticking "all" again stores null: every integration, including ones set up later.
    await everything.check()
    await expect(page.get_by_text("Integrations: all")).to_be_visible()
    for _ in range(50):
        stored = await hub.api("GET", f"/api/conversations/{conversation['id']}")
        if stored["integrations"] is None:
            break
        await asyncio.sleep(0.1)
    assert stored["integrations"] is None
    assert errors == []


async def test_a_dashboard_chat_view_sits_beside_its_cards(
    hub: RunningHub, page: Any, fake_openai: FakeModelServer
) -> None:
    errors = _console_errors(page)
    await _add_model(hub, fake_openai)
    fake_openai.fake.reply_text("Hello from the **dashboard**.")
    config = {
        "views": [
            {"type": "chat", "title": "Assistant"},
            {"title": "Overview", "cards": [{"type": "markdown", "content": "# Plants"}]},
        ],
        "arrangement": {"type": "split", "views": [0, 1]},
    }
    surface = await hub.api(
        "POST", "/api/surfaces", {"name": "Garden", "scope": "user", "config": config}
    )
    await page.goto(f"{hub.url}/#/dashboards/{surface['slug']}")
    chat = page.get_by_role("region", name="Assistant", exact=True)
    cards = page.get_by_role("tabpanel", name="Overview")
    await expect(chat).to_be_visible()
    await expect(cards.get_by_role("heading", name="Plants")).to_be_visible()
    chat_box, cards_box = await chat.bounding_box(), await cards.bounding_box()
    assert chat_box["x"] + chat_box["width"] <= cards_box["x"], "side by side, chat first"

    await chat.get_by_role("textbox", name="Message").fill("Water the plants?")
    await chat.get_by_role("textbox", name="Message").press("Enter")
    transcript = chat.get_by_role("log", name="Conversation")
    await expect(transcript.locator("strong")).to_have_text("dashboard")
    await expect(chat.get_by_role("button", name="Send", exact=True)).to_be_enabled()
    [conversation] = (await hub.api("GET", "/api/conversations"))["conversations"]
    assert conversation["surface"] == surface["slug"]

    # Back on the dashboard later, the view shows its latest conversation.
    await page.reload()
    await expect(transcript).to_contain_text("Water the plants?")
    await expect(transcript.locator("strong")).to_have_text("dashboard")
    assert errors == []


async def test_a_lost_connection_ends_the_stream_and_never_sends_twice(
    hub: RunningHub, page: Any, fake_openai: FakeModelServer
) -> None:
    await _add_model(hub, fake_openai)
    fake = fake_openai.fake
    fake.delay(2)
    fake.reply_text("Answered while the page was away.")
    sockets: list[Any] = []

    def through(socket: Any) -> None:
        socket.connect_to_server()
        sockets.append(socket)

    await page.route_web_socket(re.compile(r"/api/websocket$"), through)
    await page.goto(hub.url + "/#/chat")
    await page.reload()  # the page's websocket now runs through the route
    message = page.get_by_role("textbox", name="Message")
    await message.fill("Are you there?")
    await message.press("Enter")
    async with asyncio.timeout(10):
        await fake.wait_for_requests(1)
    await sockets[-1].close()

    # The stream ends with an error instead of spinning on; the run goes on in the hub, and its
    # stored turn replaces the transcript once it is done.
    transcript = page.get_by_role("log", name="Conversation")
    await expect(transcript.get_by_role("alert")).to_contain_text(
        "The connection to the hub was lost"
    )
    await expect(transcript).to_contain_text("Answered while the page was away.", timeout=15_000)
    await expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    assert len(sockets) >= 2, "the socket reconnected"
    assert len(fake.requests) == 1, "the message was not sent again after the reconnect"
    [conversation] = (await hub.api("GET", "/api/conversations"))["conversations"]
    stored = await hub.api("GET", f"/api/conversations/{conversation['id']}")
    assert [i["kind"] for i in stored["items"]] == ["user", "assistant"]


async def test_a_phone_switches_between_the_conversation_list_and_the_chat(
    hub: RunningHub, page: Any, fake_openai: FakeModelServer
) -> None:
    await _add_model(hub, fake_openai)
    me = await hub.api("GET", "/api/auth/current_user")
    first = await hub.api("POST", "/api/conversations", {"model": "fake"})
    await hub.api("PATCH", f"/api/conversations/{first['id']}", {"title": "Groceries"})
    second = await hub.api("POST", "/api/conversations", {"model": "fake"})
    await hub.api("PATCH", f"/api/conversations/{second['id']}", {"title": "Holidays"})
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(hub.url + "/#/chat")
    side = page.get_by_role("complementary", name="Conversations")
    toggle = page.get_by_role("button", name="Conversations")
    await expect(page.get_by_role("textbox", name="Message")).to_be_in_viewport()
    await expect(page.get_by_role("form", name="Write a message")).to_be_in_viewport(ratio=1)
    await expect(side).to_be_hidden()

    await toggle.click()
    await expect(side.get_by_role("link", name="Groceries")).to_be_visible()
    await expect(page.get_by_role("textbox", name="Message")).to_be_hidden()
    await side.get_by_role("link", name="Holidays").click()
    await expect(page).to_have_url(re.compile(f"#/chat/{second['id']}$"))
    await expect(page.get_by_role("heading", name="Holidays")).to_be_visible()
    await expect(page.get_by_role("textbox", name="Message")).to_be_visible()

    # The same in German.
    await hub.api("PATCH", f"/api/people/{me['id']}", {"language": "de"})
    await page.reload()
    await page.get_by_role("button", name="Unterhaltungen").click()
    liste = page.get_by_role("complementary", name="Unterhaltungen")
    await expect(liste.get_by_role("link", name="Groceries")).to_be_visible()
    await page.get_by_role("button", name="Zurück zum Chat").click()
    await expect(page.get_by_role("textbox", name="Nachricht")).to_be_visible()
