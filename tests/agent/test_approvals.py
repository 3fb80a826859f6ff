"""Approval per tool through real chat runs against the fake OpenAI server: each rule (always, ask,
never) for a read-only and an acting tool, a person's answer (once, always, deny) or none in time,
the decisions kept, rules per person and across a restart, and bad input refused with typed errors."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpServer

from hub.api.state import APPROVALS
from hub.config import AgentConfig
from tests.agent.conftest import StartAgentHub
from tests.agent.support import AgentHub
from tests.fakes.openai_server import FakeOpenAI

ERRANDS = Path(__file__).parent / "errands"
READ = "errand_list"
ACT = "errand_add"


@pytest.fixture
def fake(aiohttp_server: AiohttpServer) -> Iterator[FakeOpenAI]:
    # Asked for before the hub, so the hub (whose model client keeps a connection to the fake)
    # stops first and closes that connection itself.
    from pydantic_ai import models

    models.ALLOW_MODEL_REQUESTS = True
    yield FakeOpenAI()
    models.ALLOW_MODEL_REQUESTS = False


@pytest.fixture
def start(
    aiohttp_server: AiohttpServer,
    fake: FakeOpenAI,
    start_agent_hub: StartAgentHub,
    tmp_path: Path,
) -> StartAgentHub:
    """Start a hub with the errands integration set up and the fake as its default model."""

    async def started(**config: Any) -> AgentHub:
        target = tmp_path / "integrations" / "errands"
        if not target.exists():
            shutil.copytree(ERRANDS, target)
        hub = await start_agent_hub(**config)
        _, models = await hub.get("/api/models")
        if not any(m["name"] == "fake" for m in models["models"]):
            url = str((await aiohttp_server(fake.app())).make_url("/v1"))
            body = {"name": "fake", "base_url": url, "model": "fake-model", "tier": "internal"}
            status, answer = await hub.post("/api/models", {**body, "is_default": True})
            assert status == 201, answer
            await hub.add("errands")
        return hub

    return started


async def send(hub: AgentHub, text: str = "go") -> int:
    """Start a run in a new conversation; its message id."""
    msg_id, result = await hub.send(
        "chat/send", conversation_id=await hub.conversation(), text=text
    )
    assert result["success"], result
    return msg_id


async def until(hub: AgentHub, msg_id: int, kind: str) -> list[dict[str, Any]]:
    """The run's events up to and including the first of ``kind`` (or ``done``)."""
    ws = await hub.socket()
    found: list[dict[str, Any]] = []
    while True:
        message = await ws.receive_json(timeout=20)
        if message.get("id") == msg_id and message["type"] == "event":
            found.append(message["event"])
            if message["event"]["kind"] in (kind, "done"):
                return found


async def answer(hub: AgentHub, approval_id: str, reply: str, **kw: Any) -> tuple[int, Any]:
    return await hub.post(f"/api/approvals/{approval_id}", {"answer": reply}, **kw)


async def set_rule(hub: AgentHub, tool: str, rule: str | None, **kw: Any) -> tuple[int, Any]:
    resp = await hub.client.put(f"/api/approvals/rules/{tool}", json={"rule": rule}, **kw)
    return resp.status, await resp.json()


async def tools(hub: AgentHub, **kw: Any) -> dict[str, dict[str, Any]]:
    status, body = await hub.get("/api/approvals/tools", **kw)
    assert status == 200, body
    return {row["tool"]: row for row in body["tools"]}


async def calling(hub: AgentHub, fake: FakeOpenAI, tool: str, **args: Any) -> int:
    """The model calls ``tool`` once, then answers; the run's message id."""
    fake.reply_tool_call(tool, args)
    fake.reply_text("done")
    return await send(hub)


async def ran_without_asking(hub: AgentHub, fake: FakeOpenAI, tool: str, **args: Any) -> str:
    """Call ``tool``; it ran with no approval asked. What the model was told."""
    events = await until(hub, await calling(hub, fake, tool, **args), "done")
    assert events[-1]["status"] == "completed", events
    assert not [e for e in events if e["kind"].startswith("approval_")]
    return fake.tool_results(-1)[0]


# Defaults and the rules


async def test_a_read_only_tool_runs_and_an_acting_one_asks_by_default(
    start: StartAgentHub, fake: FakeOpenAI
) -> None:
    hub = await start()
    listed = await tools(hub)
    assert listed[READ] | {"integration": "errands"} == listed[READ]
    assert (listed[READ]["read_only"], listed[READ]["rule"], listed[READ]["explicit"]) == (
        True,
        "always",
        False,
    )
    assert (listed[ACT]["read_only"], listed[ACT]["rule"]) == (False, "ask")
    assert listed["search_entities"]["rule"] == "always"  # the hub's own reading tool
    assert listed["search_entities"]["integration"] is None
    assert listed["control_entity"]["rule"] == "ask"

    assert "Denied" not in await ran_without_asking(hub, fake, READ)

    msg_id = await calling(hub, fake, ACT, text="milk")
    first = await until(hub, msg_id, "approval_request")
    assert [e["kind"] for e in first] == ["tool_call", "approval_request"]
    asked = first[-1]
    assert asked["kind"] == "approval_request"
    assert (asked["tool"], asked["integration"], asked["read_only"]) == (ACT, "errands", False)
    assert asked["args"] == {"text": "milk"}
    assert asked["entry_title"]
    assert len(fake.requests) == 3  # the tool has not run: no second model request yet
    _, pending = await hub.get("/api/approvals/pending")
    assert [p["id"] for p in pending["pending"]] == [asked["approval_id"]]
    assert pending["pending"][0]["channel"] == "chat"

    status, body = await answer(hub, asked["approval_id"], "once")
    assert status == 200, body
    assert body["decision"]["answer"] == "once"
    events = await until(hub, msg_id, "done")
    assert [e["kind"] for e in events[:2]] == ["approval_decided", "tool_result"]
    decided = next(e for e in events if e["kind"] == "approval_decided")
    assert decided["call_id"] == asked["call_id"]
    assert decided["answer"] == "once"
    assert events[-1]["status"] == "completed"
    assert "added 'milk'" in fake.tool_results(-1)[0]
    _, pending = await hub.get("/api/approvals/pending")
    assert pending["pending"] == []


@pytest.mark.parametrize("tool", [READ, ACT])
async def test_always_runs_without_asking(
    start: StartAgentHub, fake: FakeOpenAI, tool: str
) -> None:
    hub = await start()
    status, row = await set_rule(hub, tool, "always")
    assert status == 200, row
    assert (row["tool"], row["rule"], row["explicit"]) == (tool, "always", True)
    told = await ran_without_asking(hub, fake, tool, **({"text": "eggs"} if tool == ACT else {}))
    assert "Denied" not in told


@pytest.mark.parametrize("tool", [READ, ACT])
async def test_never_keeps_the_tool_from_the_model(
    start: StartAgentHub, fake: FakeOpenAI, tool: str
) -> None:
    hub = await start()
    status, row = await set_rule(hub, tool, "never")
    assert status == 200, row
    assert row["rule"] == "never"
    fake.reply_text("done")
    events = await until(hub, await send(hub), "done")
    assert events[-1]["status"] == "completed"
    offered = fake.tool_names(-1)
    assert tool not in offered
    assert {READ, ACT} - {tool} <= set(offered)
    assert (await tools(hub))[tool]["rule"] == "never"  # still listed, so it can be allowed again
    status, row = await set_rule(hub, tool, None)
    assert (row["rule"], row["explicit"]) == (row["default"], False)


@pytest.mark.parametrize("tool", [READ, ACT])
@pytest.mark.parametrize("reply", ["once", "deny"])
async def test_ask_waits_for_the_persons_answer(
    start: StartAgentHub, fake: FakeOpenAI, tool: str, reply: str
) -> None:
    hub = await start()
    await set_rule(hub, tool, "ask")
    msg_id = await calling(hub, fake, tool, **({"text": "bread"} if tool == ACT else {}))
    asked = (await until(hub, msg_id, "approval_request"))[-1]
    assert asked["read_only"] is (tool == READ)
    await answer(hub, asked["approval_id"], reply)
    events = await until(hub, msg_id, "done")
    assert events[-1]["status"] == "completed"
    told = fake.tool_results(-1)[0]
    if reply == "once":
        assert "Denied" not in told
    else:
        assert "Denied by the person" in told
        _, listed = await hub.get("/api/approvals/decisions")
        assert listed["decisions"][0]["answer"] == "deny"
    result = next(e for e in events if e["kind"] == "tool_result")
    assert result["tool"] == tool


@pytest.mark.parametrize("tool", [READ, ACT])
async def test_nobody_answering_in_time_denies_the_call(
    start: StartAgentHub, fake: FakeOpenAI, tool: str
) -> None:
    hub = await start(agent=AgentConfig(approval_timeout_seconds=0.3))
    await set_rule(hub, tool, "ask")
    msg_id = await calling(hub, fake, tool, **({"text": "jam"} if tool == ACT else {}))
    events = await until(hub, msg_id, "done")
    decided = next(e for e in events if e["kind"] == "approval_decided")
    assert (decided["answer"], decided["decided_by"]) == ("timeout", None)
    assert events[-1]["status"] == "completed"
    assert "No answer within 0.3 s" in fake.tool_results(-1)[0]
    _, listed = await hub.get("/api/approvals/decisions")
    assert [(d["tool"], d["answer"]) for d in listed["decisions"]] == [(tool, "timeout")]
    status, body = await answer(hub, decided["approval_id"], "once")
    assert (status, body["error"]["code"]) == (409, "approval_already_decided")


async def test_answering_always_sets_the_rule(start: StartAgentHub, fake: FakeOpenAI) -> None:
    hub = await start()
    msg_id = await calling(hub, fake, ACT, text="tea")
    asked = (await until(hub, msg_id, "approval_request"))[-1]
    await answer(hub, asked["approval_id"], "always")
    assert (await until(hub, msg_id, "done"))[-1]["status"] == "completed"
    row = (await tools(hub))[ACT]
    assert (row["rule"], row["explicit"]) == ("always", True)
    assert "added 'coffee'" in await ran_without_asking(hub, fake, ACT, text="coffee")


async def test_a_tool_that_requires_approval_asks_even_when_always(
    start: StartAgentHub, fake: FakeOpenAI
) -> None:
    hub = await start()
    await set_rule(hub, "errand_pay", "always")
    msg_id = await calling(hub, fake, "errand_pay", amount=12.5)
    asked = (await until(hub, msg_id, "approval_request"))[-1]
    assert asked["tool"] == "errand_pay"
    await answer(hub, asked["approval_id"], "once")
    assert (await until(hub, msg_id, "done"))[-1]["status"] == "completed"
    assert fake.tool_results(-1)[0] == "paid 12.50"


# Decisions, people, restarts


async def test_decisions_are_listed_with_who_decided(
    start: StartAgentHub, fake: FakeOpenAI
) -> None:
    hub = await start()
    _, me = await hub.get("/api/auth/current_user")
    msg_id = await calling(hub, fake, ACT, text="soap")
    asked = (await until(hub, msg_id, "approval_request"))[-1]
    await answer(hub, asked["approval_id"], "once")
    events = await until(hub, msg_id, "done")
    assert next(e for e in events if e["kind"] == "approval_decided")["decided_by"] == me["id"]
    _, listed = await hub.get("/api/approvals/decisions", params={"limit": "5"})
    [decision] = listed["decisions"]
    assert (
        decision
        | {
            "id": asked["approval_id"],
            "tool": ACT,
            "integration": "errands",
            "args": {"text": "soap"},
            "answer": "once",
            "decided_by": me["id"],
            "channel": "chat",
        }
        == decision
    )
    # The reloaded conversation shows the request and the decision.
    conversations = (await hub.get("/api/conversations"))[1]["conversations"]
    _, stored = await hub.get(f"/api/conversations/{conversations[0]['id']}")
    kinds = [item["kind"] for item in stored["items"]]
    assert kinds.index("approval_request") < kinds.index("approval_decided")


async def test_a_persons_rules_and_approvals_are_their_own(
    start: StartAgentHub, fake: FakeOpenAI
) -> None:
    hub = await start()
    bob = await hub.another_person("bob", "bob-password-1")
    status, _ = await set_rule(hub, ACT, "never", headers=bob)
    assert status == 200
    assert (await tools(hub, headers=bob))[ACT]["rule"] == "never"
    assert (await tools(hub))[ACT]["rule"] == "ask"

    msg_id = await calling(hub, fake, ACT, text="oats")
    asked = (await until(hub, msg_id, "approval_request"))[-1]
    assert ACT in fake.tool_names(-1)
    _, theirs = await hub.get("/api/approvals/pending", headers=bob)
    assert theirs["pending"] == []
    status, body = await answer(hub, asked["approval_id"], "once", headers=bob)
    assert (status, body["error"]["code"]) == (404, "approval_not_found")
    status, body = await hub.get("/api/approvals/decisions", params={"all": "1"}, headers=bob)
    assert status == 403
    await answer(hub, asked["approval_id"], "deny")
    assert (await until(hub, msg_id, "done"))[-1]["status"] == "completed"
    _, everyone = await hub.get("/api/approvals/decisions", params={"all": "1"})
    assert [d["answer"] for d in everyone["decisions"]] == ["deny"]
    _, bobs = await hub.get("/api/approvals/decisions", headers=bob)
    assert bobs["decisions"] == []


async def test_rules_survive_a_restart(start: StartAgentHub, fake: FakeOpenAI) -> None:
    hub = await start()
    await set_rule(hub, ACT, "always")
    await set_rule(hub, READ, "never")
    await hub.client.close()
    hub = await start()
    listed = await tools(hub)
    assert (listed[ACT]["rule"], listed[READ]["rule"]) == ("always", "never")


# The gates together, the run's clock, cancelling


async def test_the_untrusted_gate_still_applies_with_the_approval_gate(
    start: StartAgentHub, fake: FakeOpenAI
) -> None:
    hub = await start()
    await set_rule(hub, "control_entity", "always")
    await hub.add("proxy")  # trust_tier: untrusted
    msg_id = await calling(hub, fake, "proxy_query", query="hi")
    asked = (await until(hub, msg_id, "approval_request"))[-1]
    assert (asked["tool"], asked["integration"]) == ("proxy_query", "proxy")
    offered = fake.tool_names(-1)
    assert "control_entity" not in offered  # "always" does not bring it back
    assert {READ, ACT} <= set(offered)
    await answer(hub, asked["approval_id"], "once")
    assert (await until(hub, msg_id, "done"))[-1]["status"] == "completed"
    assert fake.tool_results(-1)[0] == "outside says: hi"


async def test_waiting_for_a_person_does_not_count_against_the_run_timeout(
    start: StartAgentHub, fake: FakeOpenAI
) -> None:
    hub = await start(agent=AgentConfig(run_timeout_seconds=0.5))
    msg_id = await calling(hub, fake, ACT, text="rice")
    asked = (await until(hub, msg_id, "approval_request"))[-1]
    await asyncio.sleep(1)  # longer than the whole run may take, spent waiting for the person
    await answer(hub, asked["approval_id"], "once")
    assert (await until(hub, msg_id, "done"))[-1]["status"] == "completed"


async def test_cancelling_the_run_withdraws_its_approval(
    start: StartAgentHub, fake: FakeOpenAI
) -> None:
    hub = await start()
    conversation = await hub.conversation()
    fake.reply_tool_call(ACT, {"text": "salt"})
    msg_id, _ = await hub.send("chat/send", conversation_id=conversation, text="go")
    asked = (await until(hub, msg_id, "approval_request"))[-1]
    ws = await hub.socket()  # sent as is: ``hub.send`` would skip the run's events meanwhile
    await ws.send_json({"id": 1000, "type": "chat/cancel", "conversation_id": conversation})
    assert (await until(hub, msg_id, "done"))[-1]["status"] == "cancelled"
    _, pending = await hub.get("/api/approvals/pending")
    assert pending["pending"] == []
    status, body = await answer(hub, asked["approval_id"], "once")
    assert (status, body["error"]["code"]) == (404, "approval_not_found")


# Bad input


async def test_bad_answers_are_typed_errors(start: StartAgentHub, fake: FakeOpenAI) -> None:
    hub = await start()
    status, body = await answer(hub, "0123456789abcdef", "once")
    assert (status, body["error"]["code"]) == (404, "approval_not_found")
    msg_id = await calling(hub, fake, ACT, text="flour")
    asked = (await until(hub, msg_id, "approval_request"))[-1]
    status, body = await answer(hub, asked["approval_id"], "maybe")
    assert status == 400, body
    status, body = await hub.post(f"/api/approvals/{asked['approval_id']}", ["once"])
    assert status == 400, body
    assert (await answer(hub, asked["approval_id"], "deny"))[0] == 200
    status, body = await answer(hub, asked["approval_id"], "once")
    assert (status, body["error"]["code"]) == (409, "approval_already_decided")
    assert (await until(hub, msg_id, "done"))[-1]["status"] == "completed"
    status, body = await set_rule(hub, ACT, "sometimes")
    assert status == 400, body
    resp = await hub.client.put(f"/api/approvals/rules/{ACT}", json={})
    assert resp.status == 400
    status, body = await hub.get("/api/approvals/decisions", params={"limit": "0"})
    assert status == 400, body


# The bus, and callers that cannot pause


async def subscribed(hub: AgentHub, headers: dict[str, str]) -> Any:
    """A websocket of the person whose ``headers`` these are, subscribed to ``approval.*``."""
    ws = await hub.client.ws_connect("/api/websocket")
    assert (await ws.receive_json(timeout=5))["type"] == "auth_required"
    token = headers["Authorization"].removeprefix("Bearer ")
    await ws.send_json({"type": "auth", "access_token": token})
    assert (await ws.receive_json(timeout=5))["type"] == "auth_ok"
    await ws.send_json({"id": 1, "type": "subscribe_events", "event_type": "approval.*"})
    assert (await ws.receive_json(timeout=5))["success"] is True
    return ws


async def next_event(ws: Any) -> dict[str, Any]:
    while True:
        message = await ws.receive_json(timeout=20)
        if message["type"] == "event" and message["id"] == 1:
            return dict(message["event"])


async def test_approval_events_reach_only_their_person(
    start: StartAgentHub, fake: FakeOpenAI
) -> None:
    hub = await start()
    bob = await hub.another_person("bob", "bob-password-1")
    owner_ws = await subscribed(hub, {"Authorization": f"Bearer {hub.token}"})
    bob_ws = await subscribed(hub, bob)

    msg_id = await calling(hub, fake, ACT, text="pears")
    asked = (await until(hub, msg_id, "approval_request"))[-1]
    event = await next_event(owner_ws)
    assert event["event_type"] == "approval.requested"
    assert event["data"]["approval"]["id"] == asked["approval_id"]
    await answer(hub, asked["approval_id"], "deny")
    event = await next_event(owner_ws)
    assert (event["event_type"], event["data"]["approval"]["answer"]) == (
        "approval.decided",
        "deny",
    )
    await until(hub, msg_id, "done")

    # Bob's own request is the first approval event his socket sees: the owner's never reached it.
    pending = await mcp_request(hub, bob, {"text": "plums"})
    event = await next_event(bob_ws)
    assert (event["event_type"], event["data"]["approval"]["id"]) == (
        "approval.requested",
        pending.id,
    )
    await owner_ws.close()
    await bob_ws.close()


async def mcp_request(hub: AgentHub, headers: dict[str, str], args: dict[str, Any]) -> Any:
    """A pending approval as the hub's MCP server asks for one (it cannot pause a run)."""
    _, person = await hub.get("/api/auth/current_user", headers=headers)
    return await hub.app[APPROVALS].request(
        person["id"],
        tool=ACT,
        args=args,
        source_domain="errands",
        entry_id=None,
        entry_title=None,
        read_only=False,
        channel="mcp",
        conversation_id=None,
    )


async def test_an_mcp_approval_answered_once_grants_exactly_one_equal_call(
    start: StartAgentHub,
) -> None:
    hub = await start()
    bob = await hub.another_person("bob", "bob-password-1")
    _, me = await hub.get("/api/auth/current_user", headers=bob)
    approvals = hub.app[APPROVALS]
    pending = await mcp_request(hub, bob, {"text": "figs", "n": 2})
    _, listed = await hub.get("/api/approvals/pending", headers=bob)
    assert [(p["id"], p["channel"]) for p in listed["pending"]] == [(pending.id, "mcp")]
    assert not approvals.take_grant(me["id"], ACT, {"text": "figs", "n": 2})  # not answered yet
    status, body = await answer(hub, pending.id, "once", headers=bob)
    assert status == 200, body
    assert not approvals.take_grant(me["id"], ACT, {"text": "figs", "n": 3})
    assert not approvals.take_grant(me["id"], "errand_list", {"text": "figs", "n": 2})
    _, owner = await hub.get("/api/auth/current_user")
    assert not approvals.take_grant(owner["id"], ACT, {"n": 2, "text": "figs"})
    assert approvals.take_grant(me["id"], ACT, {"n": 2, "text": "figs"})
    assert not approvals.take_grant(me["id"], ACT, {"n": 2, "text": "figs"})  # used up
    _, decided = await hub.get("/api/approvals/decisions", headers=bob)
    assert [(d["channel"], d["decided_by"]) for d in decided["decisions"]] == [("mcp", me["id"])]


async def test_an_mcp_approval_nobody_answers_expires_as_a_timeout(start: StartAgentHub) -> None:
    hub = await start(agent=AgentConfig(approval_timeout_seconds=0.2))
    owner = {"Authorization": f"Bearer {hub.token}"}
    pending = await mcp_request(hub, owner, {"text": "kale"})
    await asyncio.sleep(0.3)  # past its expiry; nothing waits on it
    _, listed = await hub.get("/api/approvals/pending")
    assert listed["pending"] == []
    _, decided = await hub.get("/api/approvals/decisions")
    assert [(d["id"], d["answer"]) for d in decided["decisions"]] == [(pending.id, "timeout")]
    status, body = await answer(hub, pending.id, "once")
    assert (status, body["error"]["code"]) == (409, "approval_already_decided")


async def test_removing_a_person_drops_their_rules_pending_approvals_and_decisions(
    start: StartAgentHub,
) -> None:
    hub = await start()
    bob = await hub.another_person("bob", "bob-password-1")
    _, me = await hub.get("/api/auth/current_user", headers=bob)
    await set_rule(hub, ACT, "always", headers=bob)
    decided = await mcp_request(hub, bob, {"text": "nuts"})
    await answer(hub, decided.id, "deny", headers=bob)
    waiting = await mcp_request(hub, bob, {"text": "rye"})
    resp = await hub.client.delete(f"/api/people/{me['id']}")
    assert resp.status in (200, 204), await resp.text()
    approvals = hub.app[APPROVALS]
    assert approvals.explicit(me["id"]) == {}
    assert await approvals.pending(me["id"]) == []
    assert await approvals.decisions(me["id"]) == []
    status, body = await answer(hub, waiting.id, "once")
    assert (status, body["error"]["code"]) == (404, "approval_not_found")


async def test_a_sub_agents_acting_call_asks_the_same_person(
    start: StartAgentHub, fake: FakeOpenAI
) -> None:
    hub = await start()
    await hub.add("notes")
    await hub.add("analyst")
    fake.reply_tool_call("delegate_to", {"agent": "analyst-analyst", "task": "note the milk"})
    fake.reply_tool_call("note_add", {"text": "milk"})  # the sub-agent's turn
    fake.reply_text("noted")  # the sub-agent's answer
    fake.reply_text("The analyst noted it.")
    msg_id = await send(hub)
    asked = (await until(hub, msg_id, "approval_request"))[-1]
    assert (asked["tool"], asked["integration"]) == ("note_add", "notes")
    await answer(hub, asked["approval_id"], "once")
    events = await until(hub, msg_id, "done")
    assert events[-1]["status"] == "completed"
    result = next(e for e in events if e["kind"] == "tool_result" and e["tool"] == "delegate_to")
    assert result["content"] == "noted"
