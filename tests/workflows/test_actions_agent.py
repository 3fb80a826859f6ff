"""The agent step through real chat runs against the fake OpenAI server: the prompt rendered and
answered in a new conversation of the owner's, a tool call that needs approval waiting for the
owner's answer, and a run that fails or cannot start failing the step with the chat's error code."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpServer

from tests.agent.conftest import start_agent_hub  # noqa: F401  # the fixture, for this module
from tests.fakes.openai_server import FakeOpenAI
from tests.workflows.actions_hub import Bench, StartHub, bench, eventually, workflow

pytestmark = pytest.mark.usefixtures("no_lingering_tasks")

ERRANDS = Path(__file__).parents[1] / "agent" / "errands"


@pytest.fixture
def fake(aiohttp_server: AiohttpServer) -> Iterator[FakeOpenAI]:
    # Asked for before the hub, so the hub (whose model client keeps a connection to the fake)
    # stops first and closes that connection itself.
    from pydantic_ai import models

    before, models.ALLOW_MODEL_REQUESTS = models.ALLOW_MODEL_REQUESTS, True
    yield FakeOpenAI()
    models.ALLOW_MODEL_REQUESTS = before


@pytest.fixture
async def hub(
    aiohttp_server: AiohttpServer,
    fake: FakeOpenAI,
    start_agent_hub: StartHub,  # noqa: F811
    tmp_path: Path,
) -> Bench:
    """A hub whose default model is the fake, with the errands tools set up."""
    shutil.copytree(ERRANDS, tmp_path / "integrations" / "errands")
    started = await bench(start_agent_hub, tmp_path, models=())
    url = str((await aiohttp_server(fake.app())).make_url("/v1"))
    body = {"name": "fake", "base_url": url, "model": "fake-model", "tier": "internal"}
    status, answer = await started.hub.post("/api/models", {**body, "is_default": True})
    assert status == 201, answer
    await started.hub.add("errands")
    return started


def ask(prompt: str, **fields: Any) -> dict[str, Any]:
    return {"type": "agent", "prompt": prompt, **fields}


async def conversation(bench: Bench, conversation_id: str) -> dict[str, Any]:
    status, body = await bench.hub.get(f"/api/conversations/{conversation_id}")
    assert status == 200, body
    return dict(body)


async def test_the_agent_answers_the_rendered_prompt_in_a_new_conversation_of_the_owner(
    hub: Bench, fake: FakeOpenAI
) -> None:
    fake.reply_text("The porch light is off.")
    flow = workflow(hub.owner, ask("Is the {{ trigger.data.where }} light on?"), name="Night check")
    run, failed = await hub.perform(flow, {"data": {"where": "porch"}})
    assert failed is None, failed
    step = run.steps[0]
    assert step["input"] == {"prompt": "Is the porch light on?", "model": None}
    result = step["result"]
    assert result["status"] == "completed"
    assert result["text"] == "The porch light is off."
    assert fake.messages(0)[-1]["content"] == "Is the porch light on?"
    shown = await conversation(hub, result["conversation_id"])
    assert shown["title"] == "Night check"
    assert run.context["steps"] == [result]


async def test_a_tool_call_waits_for_the_owners_approval(hub: Bench, fake: FakeOpenAI) -> None:
    fake.reply_tool_call("errand_add", {"text": "buy bulbs"})
    fake.reply_text("Added it.")
    flow = workflow(hub.owner, ask("Remember to buy bulbs"))
    performing = asyncio.create_task(hub.perform(flow))

    async def pending() -> list[dict[str, Any]]:
        status, body = await hub.hub.get("/api/approvals/pending")
        assert status == 200, body
        return list(body["pending"])

    [approval] = await eventually(pending)
    assert approval["tool"] == "errand_add"
    assert approval["args"] == {"text": "buy bulbs"}
    assert not performing.done()  # the step waits for the answer
    status, body = await hub.hub.post(f"/api/approvals/{approval['id']}", {"answer": "once"})
    assert status == 200, body
    run, failed = await asyncio.wait_for(performing, 20)
    assert failed is None, failed
    assert run.steps[0]["result"]["text"] == "Added it."
    assert "added 'buy bulbs'" in fake.tool_results(1)[0]


async def test_a_denied_tool_call_still_completes_the_step(hub: Bench, fake: FakeOpenAI) -> None:
    fake.reply_tool_call("errand_add", {"text": "buy a boat"})
    fake.reply_text("I was not allowed to.")
    performing = asyncio.create_task(hub.perform(workflow(hub.owner, ask("Buy a boat"))))

    async def pending() -> list[dict[str, Any]]:
        _, body = await hub.hub.get("/api/approvals/pending")
        return list(body["pending"])

    [approval] = await eventually(pending)
    status, body = await hub.hub.post(f"/api/approvals/{approval['id']}", {"answer": "deny"})
    assert status == 200, body
    run, failed = await asyncio.wait_for(performing, 20)
    assert failed is None, failed
    assert run.steps[0]["result"]["text"] == "I was not allowed to."
    assert "Denied" in fake.tool_results(1)[0]


async def test_a_model_that_fails_fails_the_step_with_the_chats_error(
    hub: Bench, fake: FakeOpenAI
) -> None:
    fake.fail_with(500, times=5)
    run, failed = await hub.perform(workflow(hub.owner, ask("Hello")))
    assert failed is not None
    assert failed.path == "actions[0]"
    assert failed.code == "model_unavailable", failed
    assert "answered HTTP 500" in failed.message
    step = run.steps[0]
    assert step["status"] == "failed"
    assert step["result"]["status"] == "failed"
    assert step["error"]["code"] == failed.code


async def test_a_model_that_is_gone_fails_the_step(hub: Bench) -> None:
    _, failed = await hub.perform(workflow(hub.owner, ask("Hello", model="removed")))
    assert failed is not None
    assert failed.code == "model_not_found"
    _, listed = await hub.hub.get("/api/conversations")
    assert listed["conversations"] == []


async def test_a_run_cancelled_during_the_agent_step_cancels_the_chat(
    hub: Bench, fake: FakeOpenAI
) -> None:
    fake.reply_tool_call("errand_add", {"text": "wait"})
    performing = asyncio.create_task(hub.perform(workflow(hub.owner, ask("Wait for me"))))

    async def pending() -> list[dict[str, Any]]:
        _, body = await hub.hub.get("/api/approvals/pending")
        return list(body["pending"])

    await eventually(pending)
    performing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await performing

    async def stored() -> list[dict[str, Any]]:
        _, listed = await hub.hub.get("/api/conversations")
        [shown] = listed["conversations"]
        answer = await conversation(hub, shown["id"])
        return [] if answer["running"] else list(answer["items"])

    # The chat run stopped and stored its turn: the person sees what was asked.
    items = await eventually(stored)
    assert items[0] == {**items[0], "kind": "user", "text": "Wait for me"}
