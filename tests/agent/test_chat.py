"""Chat runs over the real websocket, driven by pydantic-ai's function model calling real tools."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.agent.conftest import StartAgentHub
from tests.agent.support import AgentHub, call, say, scripted_model, tool_returns


def use(hub: AgentHub, brain: Any) -> None:
    hub.service.model_factory = lambda endpoint: scripted_model(brain)


def kinds(events: list[dict[str, Any]]) -> list[str]:
    merged: list[str] = []
    for event in events:
        if not (merged and merged[-1] == event["kind"] == "text"):
            merged.append(event["kind"])
    return merged


async def test_a_run_streams_text_tool_calls_and_results(hub: AgentHub) -> None:
    notes = await hub.add("notes")
    await hub.allow("note_add")

    def brain(messages: list[Any], info: Any) -> Any:
        returns = tool_returns(messages)
        if not returns:
            return call("note_add", text="buy milk")
        return say(f"Done: {returns[-1].content}. Anything else?")

    use(hub, brain)
    conversation = await hub.conversation()
    events = await hub.chat(conversation, "Remember to buy milk")
    assert kinds(events) == ["tool_call", "tool_result", "text", "done"]
    tool_call, result = events[0], events[1]
    assert tool_call["tool"] == "note_add"
    assert tool_call["args"] == {"text": "buy milk"}
    assert (tool_call["integration"], tool_call["entry_id"]) == ("notes", notes)
    assert result["call_id"] == tool_call["call_id"]
    assert result["error"] is False
    assert result["content"].startswith("noted")
    text = [e["delta"] for e in events if e["kind"] == "text"]
    assert len(text) > 1, "the answer arrives in pieces, as it is generated"
    assert "".join(text).startswith("Done: noted")
    assert events[-1]["status"] == "completed"

    status, stored = await hub.get(f"/api/conversations/{conversation}")
    assert status == 200
    assert stored["title"] == "Remember to buy milk"
    assert [item["kind"] for item in stored["items"]] == [
        "user",
        "tool_call",
        "tool_result",
        "assistant",
    ]
    assert stored["items"][-1]["text"] == "".join(text)
    assert stored["running"] is False


async def test_a_raising_tool_is_an_error_the_model_sees_and_the_run_goes_on(
    hub: AgentHub,
) -> None:
    await hub.add("notes")
    await hub.allow("note_fail")
    seen: list[str] = []

    def brain(messages: list[Any], info: Any) -> Any:
        returns = tool_returns(messages)
        if not returns:
            return call("note_fail", reason="the printer is on fire")
        seen.append(str(returns[-1].content))
        return say("That did not work.")

    use(hub, brain)
    events = await hub.chat(await hub.conversation(), "print it")
    result = next(e for e in events if e["kind"] == "tool_result")
    assert result["error"] is True
    assert "ValueError: cannot do that: the printer is on fire" in result["content"]
    assert "cannot do that" in seen[0]
    assert events[-1]["status"] == "completed"


async def test_the_next_message_continues_the_conversation(hub: AgentHub) -> None:
    prompts: list[list[str]] = []

    def brain(messages: list[Any], info: Any) -> Any:
        prompts.append(
            [
                part.content
                for message in messages
                for part in getattr(message, "parts", [])
                if getattr(part, "part_kind", "") in ("user-prompt", "text")
            ]
        )
        return say(f"answer {len(prompts)}")

    use(hub, brain)
    conversation = await hub.conversation()
    await hub.chat(conversation, "first question")
    await hub.chat(conversation, "second question")
    assert prompts[1] == ["first question", "answer 1", "second question"]


async def test_no_model_configured_says_so(start_agent_hub: StartAgentHub) -> None:
    hub = await start_agent_hub(models=())
    conversation = await hub.conversation()
    _, result = await hub.send("chat/send", conversation_id=conversation, text="hello?")
    assert result["success"] is False
    assert result["error"]["code"] == "no_model"
    assert "Settings" in result["error"]["message"]
    status, picker = await hub.get("/api/agent/integrations")
    assert (status, picker["model"], picker["integrations"]) == (200, None, [])


async def test_a_model_endpoint_that_is_down_is_an_error_and_the_chat_is_kept(
    hub: AgentHub,
) -> None:
    from pydantic_ai import models

    models.ALLOW_MODEL_REQUESTS = True  # the real OpenAI wiring, against a closed port
    conversation = await hub.conversation(model="local")
    events = await hub.chat(conversation, "are you there?")
    assert kinds(events) == ["error", "done"]
    assert events[0]["code"] == "model_unavailable"
    assert "'local'" in events[0]["message"]
    assert events[-1]["status"] == "failed"
    use(hub, lambda messages, info: say("back again"))
    events = await hub.chat(conversation, "and now?")
    assert events[-1]["status"] == "completed"
    _, stored = await hub.get(f"/api/conversations/{conversation}")
    assert [item["kind"] for item in stored["items"]] == ["user", "error", "user", "assistant"]


async def test_a_run_can_be_cancelled_and_its_turn_is_kept(hub: AgentHub) -> None:
    started = asyncio.Event()

    async def slow(messages: list[Any], info: Any) -> Any:
        started.set()
        await asyncio.sleep(60)
        return say("too late")

    from pydantic_ai.models.function import FunctionModel

    async def stream(messages: list[Any], info: Any) -> Any:
        yield "thinking"
        started.set()
        await asyncio.sleep(60)
        yield " never"

    hub.service.model_factory = lambda endpoint: FunctionModel(slow, stream_function=stream)
    conversation = await hub.conversation()
    msg_id, result = await hub.send("chat/send", conversation_id=conversation, text="go")
    assert result["success"]
    async with asyncio.timeout(10):
        await started.wait()
    _, busy = await hub.send("chat/send", conversation_id=conversation, text="again")
    assert busy["error"]["code"] == "run_in_progress"
    _, cancelled = await hub.send("chat/cancel", conversation_id=conversation)
    assert cancelled["result"] == {"cancelled": True}
    events = await hub.events(msg_id)
    assert events[-1]["status"] == "cancelled"
    _, stored = await hub.get(f"/api/conversations/{conversation}")
    assert [item["kind"] for item in stored["items"]] == ["user", "assistant"]
    assert stored["items"][1]["text"] == "thinking"


async def test_conversations_belong_to_their_person(hub: AgentHub) -> None:
    conversation = await hub.conversation(title="Private plans")
    guest = await hub.another_person("guest", "guest-password-1")
    resp = await hub.client.get(f"/api/conversations/{conversation}", headers=guest)
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "conversation_not_found"
    resp = await hub.client.get("/api/conversations", headers=guest)
    assert (await resp.json())["conversations"] == []
    status, mine = await hub.get("/api/conversations")
    assert status == 200
    assert [c["title"] for c in mine["conversations"]] == ["Private plans"]


async def test_conversation_settings_are_checked_and_changed(hub: AgentHub) -> None:
    status, answer = await hub.post("/api/conversations", {"model": "nope"})
    assert (status, answer["error"]["code"]) == (404, "model_not_found")
    status, answer = await hub.post("/api/conversations", {"colour": "red"})
    assert status == 400
    conversation = await hub.conversation()
    _, fresh = await hub.get(f"/api/conversations/{conversation}")
    assert fresh["title"] is None, "untitled: the UI names it in the person's language"
    resp = await hub.client.patch(
        f"/api/conversations/{conversation}",
        json={"title": "Groceries", "model": "hosted", "integrations": ["notes"]},
    )
    changed = await resp.json()
    assert resp.status == 200, changed
    assert (changed["title"], changed["model"], changed["integrations"]) == (
        "Groceries",
        "hosted",
        ["notes"],
    )
    resp = await hub.client.delete(f"/api/conversations/{conversation}")
    assert resp.status == 204
    status, _ = await hub.get(f"/api/conversations/{conversation}")
    assert status == 404


async def test_the_hub_tools_search_read_and_control_entities(hub: AgentHub) -> None:
    lamps = await hub.add("lamps")
    await hub.add("secret_lamps")  # internal tier: its entities stay away from a hosted model
    await hub.allow("control_entity")
    seen: dict[str, Any] = {}

    def brain(messages: list[Any], info: Any) -> Any:
        returns = tool_returns(messages)
        if not returns:
            return call("search_entities", query="kitchen")
        last = returns[-1]
        seen[last.tool_name] = last.content
        if last.tool_name == "search_entities":
            return call("read_entity", entity_id=last.content[0]["id"], history_hours=1)
        if last.tool_name == "read_entity":
            return call("control_entity", entity_id=last.content["id"], action="turn_on")
        return say("The kitchen light is on.")

    use(hub, brain)
    events = await hub.chat(await hub.conversation(model="hosted"), "turn on the kitchen light")
    assert events[-1]["status"] == "completed"
    found = seen["search_entities"]
    assert [(e["name"], e["domain"]) for e in found] == [("Kitchen ceiling", "lamps")]
    detail = seen["read_entity"]
    assert detail["state"] == "off"
    assert {a["name"] for a in detail["actions"]} == {"turn_on", "turn_off"}
    assert detail["attributes"] == {"room": "kitchen"}
    assert seen["control_entity"]["message"] == "Kitchen ceiling is on"
    _, listed = await hub.get("/api/entities", params={"entry_id": lamps})
    assert {e["name"]: e["state"] for e in listed["entities"]} == {
        "Kitchen ceiling": "on",
        "Reading lamp": "off",
    }


async def test_the_hub_tools_never_reach_entities_the_model_may_not_see(hub: AgentHub) -> None:
    await hub.add("secret_lamps")
    _, listed = await hub.get("/api/entities", params={"domain": "secret_lamps"})
    hidden = listed["entities"][0]["id"]
    await hub.allow("control_entity")
    results: list[Any] = []

    def brain(messages: list[Any], info: Any) -> Any:
        returns = tool_returns(messages)
        if not returns:
            return call("search_entities", query="kitchen")
        results.append(returns[-1].content)
        if len(returns) == 1:
            return call("control_entity", entity_id=hidden, action="turn_on")
        return say("done")

    use(hub, brain)
    events = await hub.chat(await hub.conversation(model="hosted"), "kitchen?")
    assert results[0] == []
    failed = [e for e in events if e["kind"] == "tool_result" and e["tool"] == "control_entity"]
    assert failed[0]["error"] is True
    assert f"no entity {hidden}" in failed[0]["content"]
    _, listed = await hub.get("/api/entities", params={"domain": "secret_lamps"})
    assert {e["state"] for e in listed["entities"]} == {"off"}


async def test_a_long_message_in_any_script_fits_the_websocket(hub: AgentHub) -> None:
    received: list[str] = []

    def brain(messages: list[Any], info: Any) -> Any:
        received.append(messages[-1].parts[-1].content)
        return say("that is a lot of emoji")

    use(hub, brain)
    text = "🏠" * 20_000  # 80 KB of UTF-8: the longest message a person may send
    events = await hub.chat(await hub.conversation(), text)
    assert events[-1]["status"] == "completed"
    assert received == [text]
