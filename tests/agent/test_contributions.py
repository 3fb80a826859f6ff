"""Surfaces and sub-agents projected with their entries, and ``delegate_to`` running a sub-agent."""

from __future__ import annotations

import json
from typing import Any

from tests.agent.conftest import StartAgentHub
from tests.agent.support import AgentHub, call, say, scripted_model, tool_returns


async def slugs(hub: AgentHub, what: str) -> dict[str, dict[str, Any]]:
    status, answer = await hub.get(f"/api/{what}")
    assert status == 200, answer
    return {item["slug"]: item for item in answer[what]}


async def test_a_global_entry_projects_its_surfaces_and_agents(
    start_agent_hub: StartAgentHub,
) -> None:
    hub = await start_agent_hub()
    entry = await hub.add("analyst")
    surfaces = await slugs(hub, "surfaces")
    desk = surfaces["analyst-desk"]
    assert (desk["source_domain"], desk["read_only"], desk["owner"], desk["kind"]) == (
        "analyst",
        True,
        None,
        "chat",
    )
    agents = await slugs(hub, "agents")
    assert set(agents) == {"analyst-analyst", "analyst-researcher", "analyst-trader"}
    assert agents["analyst-trader"]["requires_surface"] == "analyst-desk"
    assert all(a["enabled"] and a["source_domain"] == "analyst" for a in agents.values())

    # Only enabled is editable; the choice survives a restart and the re-projection at setup.
    resp = await hub.client.patch("/api/agents/analyst-researcher", json={"enabled": False})
    assert resp.status == 200, await resp.text()
    resp = await hub.client.patch("/api/agents/analyst-researcher", json={"name": "Mine"})
    assert resp.status == 400
    stored = json.loads((hub.config_dir / ".storage" / "core.agents").read_text())
    assert {a["slug"] for a in stored["data"]["agents"]} == set(agents)
    await hub.client.close()
    hub = await start_agent_hub()
    assert (await slugs(hub, "agents"))["analyst-researcher"]["enabled"] is False

    resp = await hub.client.delete(f"/api/config-entries/{entry}")
    assert resp.status == 200
    assert await slugs(hub, "agents") == {}
    assert "analyst-desk" not in await slugs(hub, "surfaces")


async def test_user_contributions_follow_the_last_entry_of_their_scope(hub: AgentHub) -> None:
    _, me = await hub.get("/api/auth/current_user")
    first = await hub.add("analyst", scope="user")
    second = await hub.add("analyst", scope="user")
    shared = await hub.add("analyst")
    own = f"analyst-desk-{me['id']}"
    assert {own, "analyst-desk"} <= set(await slugs(hub, "surfaces"))
    assert (await slugs(hub, "agents"))[f"analyst-analyst-{me['id']}"]["owner"] == me["id"]
    await hub.client.delete(f"/api/config-entries/{first}")
    assert own in await slugs(hub, "surfaces"), "the second user entry still holds it"
    await hub.client.delete(f"/api/config-entries/{second}")
    assert own not in await slugs(hub, "surfaces")
    assert f"analyst-analyst-{me['id']}" not in await slugs(hub, "agents")
    assert "analyst-analyst" in await slugs(hub, "agents")
    await hub.client.delete(f"/api/config-entries/{shared}")
    assert await slugs(hub, "agents") == {}


async def test_delegate_to_runs_the_sub_agent_with_its_instructions_and_overlay(
    hub: AgentHub,
) -> None:
    await hub.add("notes")
    await hub.add("vault")
    await hub.add("analyst")
    sub_tools: list[set[str]] = []
    offered: list[str] = []

    def brain(messages: list[Any], info: Any) -> Any:
        if info.instructions == "You are the analyst.":
            sub_tools.append({tool.name for tool in info.function_tools})
            return say("There are no notes about that.")
        returns = tool_returns(messages)
        if not returns:
            delegate = next(t for t in info.function_tools if t.name == "delegate_to")
            offered.append(delegate.description or "")
            return call("delegate_to", agent="analyst-analyst", task="Summarise my notes")
        return say(f"The analyst says: {returns[-1].content}")

    hub.service.model_factory = lambda endpoint: scripted_model(brain)
    events = await hub.chat(await hub.conversation(), "ask the analyst")
    result = next(e for e in events if e["kind"] == "tool_result")
    assert result["tool"] == "delegate_to"
    assert result["content"] == "There are no notes about that."
    assert events[-1]["status"] == "completed"
    # The overlay: only the notes integration (less note_fail) and the hub's own tools.
    assert sub_tools == [
        {
            "note_add",
            "note_list",
            "send_email",
            "search_entities",
            "read_entity",
            "control_entity",
            "web_fetch",
            "remember",
            "recall",
            "relate",
            "forget",
        }
    ]
    # required_tools (web_search) is not available and the chat is in no surface: neither offered.
    assert "analyst-analyst" in offered[0]
    assert "analyst-researcher" not in offered[0]
    assert "analyst-trader" not in offered[0]


async def test_agents_are_offered_only_where_their_requirements_hold(hub: AgentHub) -> None:
    await hub.add("analyst")
    await hub.add("alpha_search")
    descriptions: list[str] = []

    def brain(messages: list[Any], info: Any) -> Any:
        tool = next(t for t in info.function_tools if t.name == "delegate_to")
        descriptions.append(tool.description or "")
        return say("ok")

    hub.service.model_factory = lambda endpoint: scripted_model(brain)
    await hub.chat(await hub.conversation(), "who is there?")
    await hub.chat(await hub.conversation(surface="analyst-desk"), "and here?")
    outside, inside = descriptions
    assert "analyst-researcher" in outside, "web_search is available now"
    assert "analyst-trader" not in outside
    assert "analyst-trader" in inside
    resp = await hub.client.patch("/api/agents/analyst-trader", json={"enabled": False})
    assert resp.status == 200
    await hub.chat(await hub.conversation(surface="analyst-desk"), "again?")
    assert "analyst-trader" not in descriptions[-1]
