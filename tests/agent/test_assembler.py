"""Toolset assembly through the real app: applicable entries, the tier gate, the untrusted gate,
capability providers (first configured wins), selection, and one broken integration isolated."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from hub.agent.assembler import Assembly, RunScope
from hub.agent.fetch import FetchRefused
from hub.agent.policy import HIGH_PRIVILEGE_TOOLS
from hub.integrations.manifest import Tier
from tests.agent.support import AgentHub, say, scripted_model

MEMORY_ACTING = {"remember", "relate", "forget"}
HUB_TOOLS = {"search_entities", "read_entity", "control_entity", "recall"} | MEMORY_ACTING
NOTES_TOOLS = {"note_add", "note_list", "note_fail", "send_email"}


async def person(hub: AgentHub) -> str:
    status, me = await hub.get("/api/auth/current_user")
    assert status == 200
    return str(me["id"])


async def assemble(hub: AgentHub, tier: Tier = Tier.INTERNAL, **scope: Any) -> Assembly:
    return hub.service.assembler.assemble(RunScope(await person(hub), tier, **scope))


async def assemble_for_chat(hub: AgentHub) -> Assembly:
    """What a chat run of the signed-in person assembles (their preferences included)."""
    chat = hub.service
    me = await person(hub)
    conversation = await chat.conversations.get(await hub.conversation(), me)
    return chat.assembler.assemble(chat.scope(me, chat.models.resolve(None), conversation))


async def offered_to_model(hub: AgentHub, conversation: dict[str, Any] | None = None) -> set[str]:
    """The tool names a real run puts in front of the model."""
    seen: list[set[str]] = []

    def brain(messages: list[Any], info: Any) -> Any:
        seen.append({tool.name for tool in info.function_tools})
        return say("done")

    hub.service.model_factory = lambda endpoint: scripted_model(brain)
    conversation_id = await hub.conversation(**(conversation or {}))
    events = await hub.chat(conversation_id, "what can you do?")
    assert events[-1] == {"kind": "done", "status": "completed", "run_id": events[-1]["run_id"]}
    return seen[0]


async def test_each_tool_is_attributed_to_its_integration_and_entry(hub: AgentHub) -> None:
    notes = await hub.add("notes")
    vault = await hub.add("vault")
    assembly = await assemble(hub)
    assert {
        name: s.entry_id for name, s in assembly.attribution.items() if s.domain == "notes"
    } == dict.fromkeys(NOTES_TOOLS, notes)
    assert assembly.attribution["vault_read"].entry_id == vault
    assert assembly.attribution["vault_read"].domain == "vault"
    for name in HUB_TOOLS | {"web_fetch"}:
        assert assembly.attribution[name].domain is None, name
    assert assembly.providers.sources == {"web_fetch": "hub"}
    assert await offered_to_model(hub) == NOTES_TOOLS | HUB_TOOLS | {"vault_read", "web_fetch"}


@pytest.mark.parametrize("required", ["unregulated", "regulated", "internal"])
@pytest.mark.parametrize("tier", list(Tier))
async def test_the_tier_gate_matrix(hub: AgentHub, tier: Tier, required: str) -> None:
    vault = await hub.add("vault")
    search = await hub.add("alpha_search")
    for entry_id in (vault, search):
        status, answer = await hub.post(
            f"/api/config-entries/{entry_id}/required-tier", {"required_tier": required}
        )
        assert status == 200, answer
        assert answer["required_tier"] == required
    assembly = await assemble(hub, tier)
    cleared = tier >= Tier[required.upper()]
    assert ("vault_read" in assembly.attribution) is cleared
    # Capability providers pass the same gate as tools.
    assert ("web_search" in assembly.attribution) is cleared
    refused = {s.domain for s in assembly.skipped}
    assert refused == (set() if cleared else {"vault", "alpha_search"})


async def test_the_manifest_tier_holds_without_an_override_and_fails_closed(hub: AgentHub) -> None:
    vault = await hub.add("vault")  # required_tier: internal in its manifest
    assert "vault_read" not in (await assemble(hub, Tier.REGULATED)).attribution
    assert "vault_read" in (await assemble(hub, Tier.INTERNAL)).attribution
    # A damaged override on disk never un-gates: it counts as the highest tier.
    await hub.service.assembler._entries.set_settings(vault, required_tier="secret-ish")
    assert "vault_read" not in (await assemble(hub, Tier.REGULATED)).attribution
    status, answer = await hub.post(
        f"/api/config-entries/{vault}/required-tier", {"required_tier": "public"}
    )
    assert status == 400
    assert "required_tier" in answer["error"]["message"]


async def test_the_run_model_decides_the_tier(hub: AgentHub) -> None:
    await hub.add("vault")
    assert "vault_read" in await offered_to_model(hub, {"model": "local"})
    assert "vault_read" not in await offered_to_model(hub, {"model": "hosted"})


async def test_an_untrusted_toolset_removes_exactly_the_high_privilege_tools(
    hub: AgentHub,
) -> None:
    await hub.add("notes")
    await hub.add("analyst")  # contributes sub-agents, so delegate_to is offered
    before = await offered_to_model(hub)
    assert {"send_email", "web_fetch", "control_entity", "delegate_to"} <= before
    await hub.add("proxy")
    after = await offered_to_model(hub)
    assert (
        before - after
        == {
            "send_email",
            "web_fetch",
            "control_entity",
            "delegate_to",
        }
        | MEMORY_ACTING
    )
    assert after - before == {"proxy_query"}
    assert not after & HIGH_PRIVILEGE_TOOLS
    assembly = await assemble(hub)
    assert assembly.untrusted
    assert "send_email" not in assembly.attribution


async def test_an_untrusted_provider_engages_the_gate_too(hub: AgentHub) -> None:
    await hub.add("notes")
    await hub.add("aardvark_search")  # untrusted, and first by name: it fills web_search
    assembly = await assemble(hub)
    assert assembly.providers.sources["web_search"] == "aardvark_search"
    assert assembly.untrusted
    offered = await offered_to_model(hub)
    assert "web_search" in offered, "its own generic tool stays"
    assert not offered & {"send_email", "web_fetch", "control_entity"}


async def test_capability_providers_first_configured_wins(hub: AgentHub) -> None:
    await hub.add("beta_search")
    await hub.add("alpha_search")
    await hub.add("sky")
    assembly = await assemble(hub)
    # Both global: by integration name, whatever the order they were added in.
    assert assembly.providers.sources == {
        "web_search": "alpha_search",
        "weather": "sky",
        "web_fetch": "hub",
    }
    assert assembly.providers.search is not None
    [hit] = await assembly.providers.search.search(query="q", max_results=3)
    assert hit.title == "alpha_search: q"
    # The person's own entry comes before every global one.
    await hub.add("beta_search", scope="user")
    assert (await assemble(hub)).providers.sources["web_search"] == "beta_search"
    assert {"web_search", "weather", "web_fetch"} <= await offered_to_model(hub)


async def test_capabilities_are_ambient_to_the_integration_selection(hub: AgentHub) -> None:
    await hub.add("notes")
    await hub.add("vault")
    await hub.add("alpha_search")
    offered = await offered_to_model(hub, {"integrations": ["notes"]})
    assert "vault_read" not in offered
    assert NOTES_TOOLS | HUB_TOOLS | {"web_search", "web_fetch"} <= offered
    assert await offered_to_model(hub, {"integrations": []}) == HUB_TOOLS | {
        "web_search",
        "web_fetch",
    }


async def test_a_broken_integration_is_skipped_and_the_run_goes_on(
    hub: AgentHub, caplog: pytest.LogCaptureFixture
) -> None:
    await hub.add("notes")
    broken = await hub.add("broken")
    assembly = await assemble(hub)
    assert [(s.domain, s.entry_id) for s in assembly.skipped] == [("broken", broken)]
    assert "RuntimeError" in assembly.skipped[0].reason
    assert "this toolset is broken" in caplog.text
    assert await offered_to_model(hub) >= NOTES_TOOLS


async def test_disabled_integrations_and_entries_contribute_nothing(hub: AgentHub) -> None:
    notes = await hub.add("notes")
    await hub.add("vault")
    resp = await hub.client.patch("/api/integrations/vault", json={"enabled": False})
    assert resp.status == 200, await resp.text()
    status, _ = await hub.post(f"/api/config-entries/{notes}/disable")
    assert status == 200
    assert set((await assemble(hub)).attribution) == HUB_TOOLS | {"web_fetch"}


async def test_another_persons_entries_are_not_applicable(hub: AgentHub) -> None:
    await hub.add("notes", scope="user")
    await hub.add("vault")
    assembler = hub.service.assembler
    assert [c.entry.domain for c in assembler.candidates(await person(hub), Tier.INTERNAL)] == [
        "notes",
        "vault",
    ]
    assert [c.entry.domain for c in assembler.candidates("someone-else", Tier.INTERNAL)] == [
        "vault"
    ]


async def test_a_second_entry_of_an_integration_gets_its_own_tool_names(hub: AgentHub) -> None:
    first = await hub.add("notes")
    second = await hub.add("notes")
    attribution = (await assemble(hub)).attribution
    assert attribution["note_add"].entry_id == first
    prefixed = {name for name, s in attribution.items() if s.entry_id == second}
    assert len(prefixed) == len(NOTES_TOOLS)
    assert all(name.endswith(tuple(NOTES_TOOLS)) and name not in NOTES_TOOLS for name in prefixed)
    assert prefixed <= await offered_to_model(hub)


async def test_the_picker_lists_integrations_with_their_tools_or_why_not(hub: AgentHub) -> None:
    notes = await hub.add("notes")
    await hub.add("vault")
    await hub.add("alpha_search")  # a pure capability provider: not in the picker
    status, picker = await hub.get("/api/agent/integrations", params={"model": "hosted"})
    assert status == 200
    assert (picker["model"], picker["tier"]) == ("hosted", "unregulated")
    by_domain = {item["domain"]: item for item in picker["integrations"]}
    assert set(by_domain) == {"notes", "vault"}
    vault = by_domain["vault"]
    assert (vault["available"], vault["required_tier"], vault["tools"]) == (False, "internal", [])
    assert "internal" in vault["reason"]
    assert vault["reason_code"] == "tier_too_low"
    tools = {tool["name"]: tool for tool in by_domain["notes"]["tools"]}
    assert set(tools) == NOTES_TOOLS
    assert tools["note_add"] == {
        "name": "note_add",
        "description": "Remember a note.",
        "entry_id": notes,
    }
    _, picker = await hub.get("/api/agent/integrations", params={"model": "local"})
    assert {i["domain"]: i["available"] for i in picker["integrations"]}["vault"] is True


async def test_a_person_may_let_web_fetch_reach_their_lan(
    hub: AgentHub, aiohttp_server: AiohttpServer
) -> None:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<h1>Router</h1><p>All good.</p>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    url = str((await aiohttp_server(app)).make_url("/"))
    status, prefs = await hub.get("/api/agent/preferences")
    assert (status, prefs) == (200, {"allow_local_fetch": False})
    fetch = (await assemble_for_chat(hub)).providers.fetch
    assert fetch is not None
    with pytest.raises(FetchRefused, match="local network"):
        await fetch.fetch(url=url)
    resp = await hub.client.patch("/api/agent/preferences", json={"allow_local_fetch": True})
    assert (await resp.json()) == {"allow_local_fetch": True}
    fetch = (await assemble_for_chat(hub)).providers.fetch
    assert fetch is not None
    assert "All good." in await fetch.fetch(url=url)
    resp = await hub.client.patch("/api/agent/preferences", json={"allow_local_fetch": "yes!"})
    assert resp.status == 400


async def test_every_tool_of_a_run_can_be_called_by_the_test_model(hub: AgentHub) -> None:
    """pydantic-ai's TestModel calls each tool once with generated arguments; a raising one included."""
    from pydantic_ai.models.test import TestModel

    await hub.add("notes")
    await hub.allow("note_add", "note_list", "note_fail")
    model = TestModel(call_tools=["note_add", "note_list", "note_fail"])
    hub.service.model_factory = lambda endpoint: model
    events = await hub.chat(await hub.conversation(), "try everything")
    results = {e["tool"]: e["error"] for e in events if e["kind"] == "tool_result"}
    assert results == {"note_add": False, "note_list": False, "note_fail": True}
    assert events[-1]["status"] == "completed"
