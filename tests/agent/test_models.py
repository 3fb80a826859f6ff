"""Model endpoints: the settings API, keys encrypted at rest, and the OpenAI-compatible wiring
proved end to end against a fake chat-completions server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_aiohttp import AiohttpServer

from tests.agent.conftest import StartAgentHub
from tests.agent.support import AgentHub
from tests.fakes.openai_server import FakeOpenAI

API_KEY = "sk-test-0123456789abcdef"  # a test value the scans look for


@pytest.fixture
def allow_requests() -> Iterator[None]:
    from pydantic_ai import models

    models.ALLOW_MODEL_REQUESTS = True
    yield
    models.ALLOW_MODEL_REQUESTS = False


async def fake_server(aiohttp_server: AiohttpServer, fake: FakeOpenAI) -> str:
    server = await aiohttp_server(fake.app())
    return str(server.make_url("/v1"))


async def add_model(hub: AgentHub, **body: Any) -> dict[str, Any]:
    status, answer = await hub.post("/api/models", body)
    assert status == 201, answer
    return dict(answer)


def stored_files(hub: AgentHub) -> str:
    return "".join(
        path.read_text(errors="replace")
        for path in (hub.config_dir / ".storage").iterdir()
        if path.is_file()
    )


async def test_models_are_added_listed_changed_and_removed(hub: AgentHub) -> None:
    added = await add_model(
        hub,
        name="cloud",
        base_url="https://models.example/v1",
        model="big-1",
        tier="regulated",
        api_key=API_KEY,
        is_default=True,
    )
    assert added == {
        "name": "cloud",
        "base_url": "https://models.example/v1",
        "model": "big-1",
        "tier": "regulated",
        "is_default": True,
        "source": "ui",
        "has_api_key": True,
        "api_key_env": None,
        "read_only": False,
    }
    assert API_KEY not in stored_files(hub)
    _, listed = await hub.get("/api/models")
    assert listed["default"] == "cloud"
    assert [m["name"] for m in listed["models"]] == ["local", "hosted", "cloud"]
    assert API_KEY not in str(listed)

    resp = await hub.client.patch("/api/models/cloud", json={"api_key": ""})
    assert (await resp.json())["has_api_key"] is False
    resp = await hub.client.patch("/api/models/local", json={"base_url": "http://x.example"})
    assert (resp.status, (await resp.json())["error"]["code"]) == (400, "model_read_only")
    resp = await hub.client.patch("/api/models/local", json={"is_default": True})
    assert (await resp.json())["is_default"] is True
    resp = await hub.client.delete("/api/models/cloud")
    assert resp.status == 204
    _status, listed = await hub.get("/api/models")
    assert (listed["default"], len(listed["models"])) == ("local", 2)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"name": "x", "base_url": "ftp://a", "model": "m"}, "base_url"),
        ({"name": "x", "base_url": "http://a.example", "model": "m", "tier": "secret"}, "tier"),
        ({"name": "../etc", "base_url": "http://a.example", "model": "m"}, "name"),
        ({"name": "x", "base_url": "http://a.example", "model": "m", "api_key_env": "1X"}, "env"),
        ({"name": "x", "base_url": "http://a.example"}, "model"),
    ],
)
async def test_a_bad_model_is_refused_with_the_field_named(
    hub: AgentHub, body: dict[str, Any], problem: str
) -> None:
    status, answer = await hub.post("/api/models", body)
    assert status == 400, answer
    assert problem in answer["error"]["message"]
    assert len((await hub.get("/api/models"))[1]["models"]) == 2


async def test_a_duplicate_name_conflicts(hub: AgentHub) -> None:
    status, answer = await hub.post(
        "/api/models", {"name": "local", "base_url": "http://a.example", "model": "m"}
    )
    assert (status, answer["error"]["code"]) == (409, "model_exists")


async def test_models_survive_a_restart(start_agent_hub: StartAgentHub) -> None:
    hub = await start_agent_hub()
    await add_model(hub, name="mine", base_url="http://a.example/v1", model="m", is_default=True)
    await hub.client.close()
    hub = await start_agent_hub()
    _, listed = await hub.get("/api/models")
    assert listed["default"] == "mine"


async def test_the_openai_wiring_streams_text_and_tool_calls_end_to_end(
    hub: AgentHub, aiohttp_server: AiohttpServer, allow_requests: None
) -> None:
    fake = FakeOpenAI(api_key=API_KEY)
    await hub.add("notes")
    await add_model(
        hub,
        name="fake",
        base_url=await fake_server(aiohttp_server, fake),
        model="fake-model",
        tier="internal",
        api_key=API_KEY,
        is_default=True,
    )
    await hub.allow("note_add")
    fake.reply_tool_call("note_add", {"text": "eggs"})
    fake.reply_text("I added eggs to your notes.")
    conversation = await hub.conversation()
    events = await hub.chat(conversation, "add eggs")
    assert fake.auth_headers[0] == f"Bearer {API_KEY}"
    assert fake.requests[0]["stream"] is True
    assert fake.requests[0]["model"] == "fake-model"
    assert "note_add" in fake.tool_names(0)
    call = next(e for e in events if e["kind"] == "tool_call")
    assert (call["tool"], call["args"], call["integration"]) == (
        "note_add",
        {"text": "eggs"},
        "notes",
    )
    result = next(e for e in events if e["kind"] == "tool_result")
    assert result["content"].startswith("noted")
    assert "".join(e["delta"] for e in events if e["kind"] == "text") == (
        "I added eggs to your notes."
    )
    assert events[-1]["status"] == "completed"
    assert any(m.get("role") == "tool" for m in fake.messages(1)), "the result went back"


async def test_a_run_keeps_its_token_counts_without_loading_the_price_list(
    hub: AgentHub, aiohttp_server: AiohttpServer, allow_requests: None
) -> None:
    from genai_prices.data_snapshot import get_snapshot

    fake = FakeOpenAI()
    base_url = await fake_server(aiohttp_server, fake)
    await add_model(hub, name="fake", base_url=base_url, model="gpt-4o", is_default=True)
    fake.reply_text("hello")
    conversation = await hub.conversation()
    assert (await hub.chat(conversation, "hi"))[-1]["status"] == "completed"
    # The hub's one-provider table, not genai-prices' list of every provider's prices.
    assert [provider.id for provider in get_snapshot().providers] == ["openai"]
    [stored] = await hub.service.conversations.history(conversation, 1)
    response = next(m for m in json.loads(stored) if m["kind"] == "response")
    assert response["usage"]["input_tokens"] > 0
    assert response["usage"]["output_tokens"] > 0


async def test_the_key_of_a_configuration_model_comes_from_its_environment_variable(
    start_agent_hub: StartAgentHub, aiohttp_server: AiohttpServer, allow_requests: None
) -> None:
    from hub.config import ModelConfig

    fake = FakeOpenAI(api_key="env-key-42")
    url = await fake_server(aiohttp_server, fake)
    model = ModelConfig(name="env", base_url=url, model="fake-model", api_key_env="HUB_TEST_KEY")
    hub = await start_agent_hub(models=(model,), env={"HUB_TEST_KEY": "env-key-42"})
    _, listed = await hub.get("/api/models")
    assert listed["models"][0]["api_key_env"] == "HUB_TEST_KEY"
    fake.reply_text("hi")
    events = await hub.chat(await hub.conversation(), "hello")
    assert events[-1]["status"] == "completed"
    assert fake.auth_headers == ["Bearer env-key-42"]


@pytest.mark.parametrize(
    ("script", "code"),
    [
        (lambda fake: fake.fail_with(status=500), "model_unavailable"),
        (lambda fake: fake.reply_garbage(), "model_unavailable"),
        (lambda fake: fake.fail_with(status=404), "model_error"),
        (lambda fake: fake.drop_mid_stream(), "model_unavailable"),
    ],
)
async def test_a_failing_endpoint_is_a_clear_error_and_the_conversation_is_kept(
    hub: AgentHub,
    aiohttp_server: AiohttpServer,
    allow_requests: None,
    script: Any,
    code: str,
) -> None:
    fake = FakeOpenAI()
    await add_model(
        hub,
        name="fake",
        base_url=await fake_server(aiohttp_server, fake),
        model="fake-model",
        is_default=True,
    )
    conversation = await hub.conversation()
    fake.reply_text("first answer")
    assert (await hub.chat(conversation, "one"))[-1]["status"] == "completed"
    script(fake)
    events = await hub.chat(conversation, "two")
    error = next(e for e in events if e["kind"] == "error")
    assert error["code"] == code, error
    assert "'fake'" in error["message"]
    assert events[-1]["status"] == "failed"
    _, stored = await hub.get(f"/api/conversations/{conversation}")
    assert [item["kind"] for item in stored["items"]][:3] == ["user", "assistant", "user"]
    assert stored["items"][-1]["kind"] == "error"


async def test_only_an_admin_changes_models(hub: AgentHub) -> None:
    kid = await hub.another_person("kid", "kid-password-12")
    body = {"name": "x", "base_url": "http://a.example", "model": "m"}
    resp = await hub.client.post("/api/models", json=body, headers=kid)
    assert resp.status == 403
    resp = await hub.client.patch("/api/models/local", json={"is_default": False}, headers=kid)
    assert resp.status == 403
    resp = await hub.client.delete("/api/models/local", headers=kid)
    assert resp.status == 403
    resp = await hub.client.get("/api/models", headers=kid)
    assert resp.status == 200, "everyone may see which models there are"
