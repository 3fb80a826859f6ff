"""Skills in real chat runs against the fake OpenAI server: the run's instructions list the skills
a person has on; a skill's instructions reach the model only as the answer to ``use_skill``;
nothing on, no ``use_skill`` and no list; and a skill is offered only with the tools it needs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_aiohttp import AiohttpServer

from hub.agent.skill_tools import HEADING
from tests.agent.support import AgentHub
from tests.fakes.openai_server import FakeOpenAI
from tests.memory.skillful import REVIEW_INSTRUCTIONS
from tests.memory.skills_support import REVIEW, StartHub, patch, skills, start_hub

__all__ = ["start_hub"]  # the fixture, used by name

MARKER = "SECRET-RECIPE-42"
"""A word only the review skill's instructions carry."""


@pytest.fixture
def fake(aiohttp_server: AiohttpServer) -> Iterator[FakeOpenAI]:
    # Asked for before the hub, so the hub (whose model client keeps a connection to the fake)
    # stops first and closes that connection itself.
    from pydantic_ai import models

    before, models.ALLOW_MODEL_REQUESTS = models.ALLOW_MODEL_REQUESTS, True
    yield FakeOpenAI()
    models.ALLOW_MODEL_REQUESTS = before


@pytest.fixture
async def hub(start_hub: StartHub, fake: FakeOpenAI, aiohttp_server: AiohttpServer) -> AgentHub:
    """A hub with one skillful entry and the fake as its default (internal) model."""
    started = await start_hub()
    url = str((await aiohttp_server(fake.app())).make_url("/v1"))
    body = {"name": "fake", "base_url": url, "model": "fake-model", "tier": "internal"}
    status, answer = await started.post("/api/models", {**body, "is_default": True})
    assert status == 201, answer
    await started.add("skillful")
    return started


def system_text(fake: FakeOpenAI, index: int) -> str:
    """The instructions the model was given in one request."""
    return "\n".join(
        str(m.get("content")) for m in fake.messages(index) if m.get("role") == "system"
    )


async def run(hub: AgentHub, fake: FakeOpenAI, *replies: Any) -> list[dict[str, Any]]:
    """A new conversation's run, the fake answering with ``replies`` then text; its events."""
    for reply in replies:
        fake.reply_tool_call(*reply)
    fake.reply_text("done")
    events = await hub.chat(await hub.conversation(), "review the chores")
    assert events[-1]["status"] == "completed", events
    return events


async def test_without_a_skill_on_there_is_no_list_and_no_use_skill(
    hub: AgentHub, fake: FakeOpenAI
) -> None:
    await run(hub, fake)
    assert "chore_list" in fake.tool_names(0)
    assert "use_skill" not in fake.tool_names(0)
    assert HEADING not in system_text(fake, 0)
    assert "Chore review" not in json.dumps(fake.requests)


async def test_a_skill_reaches_the_model_only_through_use_skill(
    hub: AgentHub, fake: FakeOpenAI
) -> None:
    await patch(hub, REVIEW, {"enabled": True})
    review = (await skills(hub))[REVIEW]
    events = await run(hub, fake, ("use_skill", {"name": "chore review"}), ("chore_list", {}))

    first = fake.requests[0]
    assert "use_skill" in fake.tool_names(0)
    assert f"{HEADING}\n{review['listing_text']}" in system_text(fake, 0)
    assert MARKER not in json.dumps(first)  # the list carries the name, never the text
    assert fake.tool_results(1) == [review["context_text"]]
    assert review["context_text"] == f"# Skill: Chore review\n\n{REVIEW_INSTRUCTIONS}"
    assert fake.tool_results(2)[-1] == '["dishes","laundry"]'
    # Read-only: loading a skill never waits for an approval.
    assert not [e for e in events if e["kind"].startswith("approval_")]
    called = [e for e in events if e["kind"] == "tool_call"]
    assert [(e["tool"], e["integration"]) for e in called] == [
        ("use_skill", None),
        ("chore_list", "skillful"),
    ]


async def test_a_skill_is_offered_only_with_the_tools_it_needs(
    hub: AgentHub, fake: FakeOpenAI
) -> None:
    await patch(hub, REVIEW, {"enabled": True})
    await patch(hub, "skillful-launch", {"enabled": True})  # needs launch_rocket: nobody has it
    status, own = await hub.post(
        "/api/skills",
        {"name": "Tidy", "description": "Tidy up.", "instructions": "Start with the desk."},
    )
    assert status == 201, own
    await run(hub, fake)
    instructions = system_text(fake, 0)
    assert "- Chore review:" in instructions
    assert own["listing_text"] in instructions
    assert "Rocket launch" not in instructions

    fake.reply_tool_call("use_skill", {"name": "Rocket launch"})
    fake.reply_text("done")
    events = await hub.chat(await hub.conversation(), "launch")
    assert events[-1]["status"] == "completed", events
    [told] = fake.tool_results(-1)
    assert "no skill 'Rocket launch'" in told
    assert "Call launch_rocket" not in json.dumps(fake.requests)


async def test_one_persons_skills_stay_out_of_anothers_runs(
    hub: AgentHub, fake: FakeOpenAI
) -> None:
    bob = await hub.another_person("bob", "bob-password-1")
    status, own = await hub.post(
        "/api/skills",
        {"name": "Bob's way", "description": "Bob's own.", "instructions": "BOB-ONLY"},
        headers=bob,
    )
    assert status == 201, own
    await patch(hub, REVIEW, {"enabled": True}, headers=bob)
    await run(hub, fake)  # the owner's run: nothing of Bob's is on for them
    assert "use_skill" not in fake.tool_names(0)
    assert "Bob" not in json.dumps(fake.requests)
