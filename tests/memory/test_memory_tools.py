"""The agent's memory tools through real chat runs against the fake OpenAI server: a fact
remembered in one chat recalled in the next, relations with what follows from them, an unknown
predicate told to the model, forgetting, the tier ceiling, the untrusted gate, approvals, and one
person's memory never reaching another's runs."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from hub.api.state import CHAT, MEMORY
from hub.app import create_app
from hub.config import HubConfig, IntegrationsConfig
from hub.integrations.manifest import Tier
from tests.agent.support import AgentHub, write_integrations
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.fakes.openai_server import FakeOpenAI

ACTING = ("remember", "relate", "forget")
Start = Callable[..., Awaitable[AgentHub]]


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
    fake: FakeOpenAI,
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
) -> Start:
    """A hub with the agent tests' integrations and the fake as two models: ``fake`` (internal,
    the default) and ``fake-hosted`` (unregulated)."""

    async def started(*, allow: bool = True) -> AgentHub:
        bundled = write_integrations(tmp_path / "integrations")
        config = HubConfig(integrations=IntegrationsConfig(bundled_dir=bundled))
        app = create_app(tmp_path / "config", config, env={})
        client = await aiohttp_client(app)
        token = await sign_in(client, OWNER, OWNER_PASSWORD)
        hub = AgentHub(client, token, tmp_path / "config", await app[CHAT].get())
        url = str((await aiohttp_server(fake.app())).make_url("/v1"))
        for name, tier, default in (
            ("fake", "internal", True),
            ("fake-hosted", "unregulated", False),
        ):
            body = {"name": name, "base_url": url, "model": "fake-model", "tier": tier}
            status, answer = await hub.post("/api/models", {**body, "is_default": default})
            assert status == 201, answer
        if allow:  # the acting tools run without asking, for tests of other things
            await hub.allow(*ACTING)
        return hub

    return started


async def person_id(hub: AgentHub, headers: dict[str, str] | None = None) -> str:
    status, me = await hub.get("/api/auth/current_user", headers=headers)
    assert status == 200, me
    return str(me["id"])


async def told(
    hub: AgentHub, fake: FakeOpenAI, *calls: tuple[str, dict[str, Any]], model: str | None = None
) -> list[str]:
    """In a new conversation the model makes ``calls`` (all in one turn), then answers; what the
    tools told it, in order."""
    fake.reply_tool_calls(*calls)
    fake.reply_text("done")
    body = {} if model is None else {"model": model}
    events = await hub.chat(await hub.conversation(**body), "go")
    assert events[-1]["status"] == "completed", events
    results = fake.tool_results(-1)
    assert len(results) == len(calls), results
    return results


async def offered(hub: AgentHub, fake: FakeOpenAI) -> list[str]:
    fake.reply_text("done")
    events = await hub.chat(await hub.conversation(), "what can you do?")
    assert events[-1]["status"] == "completed", events
    return fake.tool_names(-1)


def fact_id(answer: str) -> int:
    found = re.search(r"fact (\d+)", answer)
    assert found, answer
    return int(found.group(1))


async def test_a_fact_remembered_in_one_chat_is_recalled_in_the_next(
    start: Start, fake: FakeOpenAI
) -> None:
    hub = await start()
    [answer] = await told(
        hub,
        fake,
        ("remember", {"subject": "Anna", "fact": "Anna is allergic to peanuts", "kind": "person"}),
    )
    assert answer.startswith("Remembered fact"), answer
    remembered = fact_id(answer)

    [recalled] = await told(hub, fake, ("recall", {"query": "Anna"}))
    assert "person" in recalled
    assert "Anna" in recalled
    assert f"fact {remembered}: Anna is allergic to peanuts" in recalled
    # Words of the fact find it too, not only the subject's name.
    [by_words] = await told(hub, fake, ("recall", {"query": "peanuts"}))
    assert "Anna is allergic to peanuts" in by_words

    # The fact records the chat it came from.
    memory = hub.app[MEMORY]
    me = await person_id(hub)
    [node] = await memory.search(me, "Anna")
    detail = await memory.node(me, node["id"])
    [fact] = detail["facts"]
    assert fact["source"] == "chat"
    conversations = (await hub.get("/api/conversations"))[1]["conversations"]
    assert fact["source_ref"] in {c["id"] for c in conversations}


async def test_remember_asks_the_person_first_and_recall_does_not(
    start: Start, fake: FakeOpenAI
) -> None:
    hub = await start(allow=False)
    fake.reply_tool_call("remember", {"subject": "Garage", "fact": "The garage door sticks"})
    fake.reply_text("done")
    msg_id, result = await hub.send(
        "chat/send", conversation_id=await hub.conversation(), text="note that"
    )
    assert result["success"], result
    ws = await hub.socket()
    events: list[dict[str, Any]] = []
    while not events or events[-1]["kind"] not in ("approval_request", "done"):
        message = await ws.receive_json(timeout=20)
        if message.get("id") == msg_id and message["type"] == "event":
            events.append(message["event"])
    asked = events[-1]
    assert asked["kind"] == "approval_request", events
    assert asked["tool"] == "remember"
    assert asked["read_only"] is False
    status, listed = await hub.get("/api/approvals/tools")
    assert status == 200, listed
    rules = {row["tool"]: (row["read_only"], row["rule"]) for row in listed["tools"]}
    assert rules["recall"] == (True, "always")
    for tool in ACTING:
        assert rules[tool] == (False, "ask"), tool
    status, body = await hub.post(f"/api/approvals/{asked['approval_id']}", {"answer": "once"})
    assert status == 200, body
    rest = await hub.events(msg_id)
    assert rest[-1]["status"] == "completed", rest
    assert fake.tool_results(-1)[0].startswith("Remembered fact")

    [recalled] = await told(hub, fake, ("recall", {"query": "garage"}))  # no approval asked
    assert "The garage door sticks" in recalled


async def test_related_subjects_and_what_follows_from_them_are_recalled(
    start: Start, fake: FakeOpenAI
) -> None:
    hub = await start()
    answers = await told(
        hub,
        fake,
        ("relate", {"subject": "Toolbox", "predicate": "located_in", "object": "Garage"}),
        ("relate", {"subject": "Garage", "predicate": "located_in", "object": "House"}),
        ("relate", {"subject": "Anna", "predicate": "knows", "object": "Ben"}),
    )
    assert all(a.startswith("Recorded relation") for a in answers), answers

    [toolbox] = await told(hub, fake, ("recall", {"query": "Toolbox"}))
    assert "Toolbox located_in Garage" in toolbox
    assert "Toolbox located_in House (inferred)" in toolbox  # transitive
    assert "Toolbox located_in Garage (inferred)" not in toolbox
    [ben] = await told(hub, fake, ("recall", {"query": "Ben"}))
    assert "Ben knows Anna" in ben  # symmetric: read from Ben's side too


async def test_an_unknown_predicate_is_told_to_the_model_with_the_valid_ones(
    start: Start, fake: FakeOpenAI
) -> None:
    hub = await start()
    [answer] = await told(
        hub, fake, ("relate", {"subject": "Anna", "predicate": "adores", "object": "Ben"})
    )
    assert "Unknown predicate 'adores'" in answer
    for valid in ("part_of", "located_in", "knows", "member_of", "owns"):
        assert valid in answer
    [kind] = await told(
        hub, fake, ("remember", {"subject": "Anna", "fact": "Anna sings", "kind": "gadget"})
    )
    assert "Unknown kind 'gadget'" in kind
    assert "person" in kind
    # Nothing was recorded: not the relation, not the fact, not their subjects.
    [recalled] = await told(hub, fake, ("recall", {"query": "Anna"}))
    assert recalled == "Nothing is remembered about 'Anna'."


async def test_a_forgotten_fact_is_not_recalled(start: Start, fake: FakeOpenAI) -> None:
    hub = await start()
    answers = await told(
        hub,
        fake,
        ("remember", {"subject": "Boiler", "fact": "The boiler was serviced in May"}),
        ("remember", {"subject": "Boiler", "fact": "The boiler is in the cellar"}),
    )
    serviced = fact_id(answers[0])
    [answer] = await told(hub, fake, ("forget", {"fact_id": serviced}))
    assert answer == f"Forgot fact {serviced}."
    [recalled] = await told(hub, fake, ("recall", {"query": "Boiler"}))
    assert "The boiler is in the cellar" in recalled
    assert "serviced" not in recalled
    # Forgetting it again is a failed call the model sees, and the run goes on.
    [again] = await told(hub, fake, ("forget", {"fact_id": serviced}))
    assert "not found" in again.lower() or "no fact" in again.lower(), again


async def test_a_memory_above_the_runs_model_tier_is_not_recalled(
    start: Start, fake: FakeOpenAI
) -> None:
    hub = await start()
    memory = hub.app[MEMORY]
    me = await person_id(hub)
    node = await memory.create_node(me, "device", "Front door lock")
    await memory.add_fact(me, node["id"], "The front door lock is grey")
    # As a fact derived from an entity of an internal-tier entry carries.
    await memory.add_fact(
        me,
        node["id"],
        "The front door code is 4711",
        source="entity",
        required_tier=int(Tier.INTERNAL),
    )
    [hosted] = await told(hub, fake, ("recall", {"query": "front door"}), model="fake-hosted")
    assert "The front door lock is grey" in hosted
    assert "4711" not in hosted
    [hosted_words] = await told(hub, fake, ("recall", {"query": "code 4711"}), model="fake-hosted")
    assert "The front door code" not in hosted_words
    [internal] = await told(hub, fake, ("recall", {"query": "front door"}), model="fake")
    assert "The front door code is 4711" in internal


async def test_untrusted_output_keeps_the_acting_memory_tools_out_of_the_run(
    start: Start, fake: FakeOpenAI
) -> None:
    hub = await start()
    assert {"recall", *ACTING} <= set(await offered(hub, fake))
    await hub.add("proxy")  # trust_tier: untrusted
    tools = set(await offered(hub, fake))
    assert "proxy_query" in tools
    assert "recall" in tools
    assert not tools & set(ACTING)


async def test_another_persons_memory_is_never_recalled(start: Start, fake: FakeOpenAI) -> None:
    hub = await start()
    bob_headers = await hub.another_person("bob", "bob-password-1")
    bob_id = await person_id(hub, bob_headers)
    memory = hub.app[MEMORY]
    bobs = await memory.create_node(bob_id, "person", "Carla")
    await memory.add_fact(bob_id, bobs["id"], "Carla's birthday is in June")

    [answer] = await told(
        hub, fake, ("remember", {"subject": "Carla", "fact": "Carla plays chess"})
    )
    assert answer.startswith("Remembered fact"), answer
    [mine] = await told(hub, fake, ("recall", {"query": "Carla"}))
    assert "Carla plays chess" in mine
    assert "Carla's birthday" not in mine
    [by_words] = await told(hub, fake, ("recall", {"query": "birthday June"}))
    assert "Carla's birthday" not in by_words

    # Bob's own runs see his fact and not the owner's.
    token = bob_headers["Authorization"].removeprefix("Bearer ")
    bob = AgentHub(hub.client, token, hub.config_dir, hub.service)
    resp = await hub.client.post("/api/conversations", json={}, headers=bob_headers)
    assert resp.status == 201, await resp.text()
    conversation = (await resp.json())["id"]
    fake.reply_tool_call("recall", {"query": "Carla"})
    fake.reply_text("done")
    events = await bob.chat(conversation, "what about Carla?")
    assert events[-1]["status"] == "completed", events
    [his] = fake.tool_results(-1)
    assert "Carla's birthday is in June" in his
    assert "chess" not in his
