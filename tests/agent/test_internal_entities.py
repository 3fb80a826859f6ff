"""The agent's entity tools leave internal (config, diagnostic) entities out unless asked for them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.agent.conftest import StartAgentHub
from tests.agent.support import AgentHub, say, scripted_model
from tests.integrations.on_disk import install


def turn(step: int, tool: str, **args: Any) -> Any:
    """A model turn calling one tool, with an id of its own."""
    from pydantic_ai.messages import ModelResponse, ToolCallPart

    return ModelResponse(parts=[ToolCallPart(tool, args, tool_call_id=f"call-{step}")])


async def ids_by_name(hub: AgentHub) -> dict[str, int]:
    status, body = await hub.get("/api/entities", params={"domain": "gauges"})
    assert status == 200, body
    return {view["name"]: view["id"] for view in body["entities"]}


async def test_entity_tools_hide_internal_entities_unless_asked(
    tmp_path: Path, start_agent_hub: StartAgentHub
) -> None:
    install(tmp_path / "integrations", "gauges")
    hub = await start_agent_hub()
    await hub.add("gauges")
    await hub.allow("control_entity")
    ids = await ids_by_name(hub)
    firmware, target = ids["Boiler firmware"], ids["Boiler target temperature"]
    script: list[tuple[str, dict[str, Any]]] = [
        ("search_entities", {"query": "boiler"}),
        ("search_entities", {"query": "boiler", "include_internal": True}),
        ("read_entity", {"entity_id": firmware}),
        ("read_entity", {"entity_id": firmware, "include_internal": True}),
        ("control_entity", {"entity_id": target, "action": "reset"}),
        ("control_entity", {"entity_id": target, "action": "reset", "include_internal": True}),
    ]

    def brain(messages: list[Any], info: Any) -> Any:
        step = sum(1 for m in messages if getattr(m, "kind", "") == "response")
        if step < len(script):
            tool, args = script[step]
            return turn(step, tool, **args)
        return say("done")

    hub.service.model_factory = lambda endpoint: scripted_model(brain)
    events = await hub.chat(await hub.conversation(), "how is the boiler?")
    assert events[-1]["status"] == "completed"
    results = [e for e in events if e["kind"] == "tool_result"]
    assert [r["error"] for r in results] == [False, False, True, False, True, False]
    default, internal = results[0]["content"], results[1]["content"]
    assert "Boiler flow temperature" in default
    assert "Boiler firmware" not in default
    assert "Boiler target temperature" not in default
    assert "Boiler firmware" in internal
    assert "Boiler target temperature" in internal
    assert "internal (diagnostic)" in results[2]["content"]
    assert "2.1.0" in results[3]["content"]
    assert "internal (config)" in results[4]["content"]
    assert "reset to 55" in results[5]["content"]
    status, view = await hub.get(f"/api/entities/{target}")
    assert (status, view["state"]) == (200, 55)


async def test_capability_providers_tie_break_by_integration_name_not_domain(
    tmp_path: Path, start_agent_hub: StartAgentHub
) -> None:
    bundled = tmp_path / "integrations"
    # The domains sort one way, the names (what the specification orders by) the other.
    install(bundled, "named_search", domain="able_search", name="Zulu Search")
    install(bundled, "named_search", domain="zulu_search", name="Able Search")
    hub = await start_agent_hub()
    await hub.add("able_search")
    await hub.add("zulu_search")
    from hub.agent.assembler import RunScope
    from hub.integrations.manifest import Tier

    _, me = await hub.get("/api/auth/current_user")
    assembly = hub.service.assembler.assemble(RunScope(me["id"], Tier.INTERNAL))
    assert assembly.providers.sources["web_search"] == "zulu_search"
    assert assembly.providers.search is not None
    [hit] = await assembly.providers.search.search(query="q", max_results=1)
    assert hit.title == "zulu_search: q"
