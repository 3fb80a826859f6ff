"""The agent drafts and never sends: ``draft_reply`` and ``draft_message`` make drafts that wait."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from pytest_aiohttp import AiohttpServer

from hub.agent.capabilities import Providers
from hub.agent.comms_tools import comms_toolset
from hub.agent.deps import RunDeps
from hub.api.state import CHAT
from hub.comms.message import MessageNotFoundError
from hub.config import ModelConfig
from hub.integrations.entry import EntryNotFoundError
from tests.comms.drafting import PostHub, StartPostHub, start_post_hub
from tests.fakes.openai_server import FakeOpenAI

__all__ = ["start_post_hub"]  # the fixture, used by name


@pytest.fixture
def allow_requests() -> Iterator[None]:
    """Model requests reach only the fake server on 127.0.0.1."""
    from pydantic_ai import models

    before, models.ALLOW_MODEL_REQUESTS = models.ALLOW_MODEL_REQUESTS, True
    yield
    models.ALLOW_MODEL_REQUESTS = before


def run_context(entry_ids: set[str]) -> Any:
    """What a tool reads of pydantic-ai's run context: the run's deps."""
    return SimpleNamespace(deps=RunDeps(frozenset(entry_ids), Providers()))


async def call(hub: PostHub, tool: str, entry_ids: set[str], **args: Any) -> Any:
    toolset = comms_toolset(hub.comms.drafts)
    return await toolset.tools[tool].function(run_context(entry_ids), **args)


async def test_the_tools_make_drafts_that_wait_and_see_only_the_runs_entries(
    start_post_hub: StartPostHub,
) -> None:
    hub = await start_post_hub()
    entry_id = await hub.add_post(scope="user")
    message = await hub.deliver(entry_id, "m1", subject="Tea?", body="Friday?")

    answer = await call(hub, "draft_reply", {entry_id}, message_id=message["id"], body="Yes!")
    assert answer["status"] == "awaiting_approval"
    assert "waits for the person's approval" in answer["message"]
    status, draft = await hub.client.get(f"/api/drafts/{answer['draft_id']}")
    assert (status, draft["author"], draft["state"]) == (200, "agent", "draft")
    assert (draft["to"], draft["subject"], draft["in_reply_to"]) == (
        "ada@example.org",
        "Re: Tea?",
        message["id"],
    )

    answer = await call(
        hub,
        "draft_message",
        {entry_id},
        channel_entry_id=entry_id,
        to="bob@example.org",
        subject="Friday",
        body="Tea with Ada on Friday.",
    )
    status, draft = await hub.client.get(f"/api/drafts/{answer['draft_id']}")
    assert (draft["author"], draft["to"], draft["in_reply_to"]) == (
        "agent",
        "bob@example.org",
        None,
    )

    # A run that may not use the entry (another person's, or a tier its model is not cleared
    # for) finds neither the message nor the channel.
    with pytest.raises(MessageNotFoundError):
        await call(hub, "draft_reply", set(), message_id=message["id"], body="Yes!")
    with pytest.raises(EntryNotFoundError):
        await call(
            hub, "draft_message", set(), channel_entry_id=entry_id, to="x@y.z", subject="", body="x"
        )
    assert hub.channel.calls == 0


@pytest.mark.usefixtures("allow_requests")
async def test_an_agent_run_drafts_a_reply_and_nothing_is_sent(
    start_post_hub: StartPostHub, aiohttp_server: AiohttpServer
) -> None:
    fake = FakeOpenAI()
    server = await aiohttp_server(fake.app())
    model = ModelConfig(
        name="local", base_url=str(server.make_url("/v1")), model="m", tier="internal"
    )
    hub = await start_post_hub(models=(model,))
    entry_id = await hub.add_post(scope="user")
    message = await hub.deliver(entry_id, "m1", subject="Tea?", body="Friday?")
    await hub.message("m1", triaged=True)  # triage's own model request is done first
    asked = len(fake.requests)
    fake.reply_tool_call("draft_reply", {"message_id": message["id"], "body": "Friday works."})
    fake.reply_text("I drafted a reply; approve it in the inbox.")

    status, me = await hub.client.get("/api/auth/current_user")
    status, conversation = await hub.client.post("/api/conversations", {})
    assert status == 201, conversation
    chat = await hub.app[CHAT].get()
    done = asyncio.Event()
    events: list[dict[str, Any]] = []

    def emit(event: dict[str, Any]) -> None:
        events.append(event)
        if event["kind"] == "done":
            done.set()

    await chat.start(me["id"], conversation["id"], "Say yes to Ada", emit)
    async with asyncio.timeout(20):
        await done.wait()

    assert "draft_reply" in fake.tool_names(asked)
    results = [e for e in events if e["kind"] == "tool_result"]
    assert results, events
    status, drafts = await hub.client.get(f"/api/drafts?entry_id={entry_id}")
    agent_drafts = [d for d in drafts["drafts"] if d["author"] == "agent"]
    assert [d["body"] for d in agent_drafts] == ["Friday works."]
    assert hub.channel.calls == 0
