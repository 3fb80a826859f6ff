"""The fake OpenAI server, proven against pydantic-ai's real ``OpenAIChatModel`` over 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from openai import AsyncOpenAI
from pydantic_ai import (
    Agent,
    AgentRunResultEvent,
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    FunctionToolset,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelHTTPError,
    ModelServerError,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    UnexpectedModelBehavior,
)
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.providers.openai_compatible import OpenAICompatibleProvider
from pydantic_ai.settings import ModelSettings
from pytest_aiohttp import AiohttpServer

from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCall

KEY = "sk-fake-key"


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}"


def get_time(zone: str) -> str:
    """The time in a zone."""
    return f"12:00 in {zone}"


@pytest.fixture
def fake() -> FakeOpenAI:
    """A fake that wants the test key."""
    return FakeOpenAI(api_key=KEY)


@pytest.fixture
async def base_url(fake: FakeOpenAI, aiohttp_server: AiohttpServer) -> str:
    """The fake's ``/v1`` URL on 127.0.0.1."""
    server = await aiohttp_server(fake.app(), host="127.0.0.1")
    return str(server.make_url("/v1"))


@pytest.fixture
async def model(base_url: str) -> AsyncIterator[OpenAIChatModel]:
    """``OpenAIChatModel`` on the fake, without SDK retries; the provider closes its HTTP client."""
    async with OpenAIProvider(base_url=base_url, api_key=KEY) as provider:
        yield OpenAIChatModel(
            "fake-model", provider=provider, settings=ModelSettings(max_retries=0)
        )


async def stream_text(
    agent: Agent[None, str], prompt: str, pieces: list[str] | None = None
) -> tuple[list[str], str]:
    """The text pieces streamed by ``run_stream_events`` (also into ``pieces``) and the run's output."""
    pieces = [] if pieces is None else pieces
    output = None
    async with agent.run_stream_events(prompt) as events:
        async for event in events:
            if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                pieces.append(event.part.content)
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                pieces.append(event.delta.content_delta)
            elif isinstance(event, AgentRunResultEvent):
                output = event.result.output
    assert output is not None
    return pieces, output


async def test_a_text_reply_comes_back_from_run(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    fake.reply_text("Hello there")
    result = await Agent(model, instructions="Be brief.").run("Hi")
    assert result.output == "Hello there"
    body = fake.requests[0]
    assert body["model"] == "fake-model"
    assert not body.get("stream")
    assert fake.messages(0)[-1] == {"role": "user", "content": "Hi"}
    assert result.usage.input_tokens > 0
    assert fake.pending == 0


async def test_text_deltas_stream_in_pieces(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    text = "The quick brown fox jumps over the lazy dog"
    fake.reply_text(text)
    pieces, output = await stream_text(Agent(model), "Go")
    assert output == text
    assert "".join(pieces) == text
    assert len(pieces) == len(text) // fake.chunk_size + 1
    assert fake.requests[0]["stream"] is True
    assert fake.requests[0]["stream_options"] == {"include_usage": True}


async def test_run_stream_text_deltas(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    fake.reply_text("one two three four")
    async with Agent(model).run_stream("Count") as result:
        deltas = [d async for d in result.stream_text(delta=True, debounce_by=None)]
    assert "".join(deltas) == "one two three four"
    assert len(deltas) > 1


async def test_a_tool_call_round_trip(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    fake.reply_tool_call("get_weather", {"city": "Oslo"}, id="call_w")
    fake.reply_with(lambda body: f"Heard: {body['messages'][-1]['content']}")
    agent = Agent(model, toolsets=[FunctionToolset([get_weather])])
    result = await agent.run("Weather in Oslo?")
    assert result.output == "Heard: Sunny in Oslo"
    assert fake.tool_names(0) == ["get_weather"]
    assistant, tool = fake.messages(1)[-2:]
    call = assistant["tool_calls"][0]
    assert (call["id"], call["function"]["name"]) == ("call_w", "get_weather")
    assert json.loads(call["function"]["arguments"]) == {"city": "Oslo"}
    assert tool == {"role": "tool", "tool_call_id": "call_w", "content": "Sunny in Oslo"}


async def test_streamed_parallel_tool_calls_then_the_default_reply(
    fake: FakeOpenAI, model: OpenAIChatModel
) -> None:
    fake.reply_tool_calls(("get_weather", {"city": "Oslo"}), ToolCall("get_time", {"zone": "CET"}))
    agent = Agent(model, toolsets=[FunctionToolset([get_weather, get_time])])
    calls: list[str] = []
    results: list[object] = []
    async with agent.run_stream_events("Weather and time?") as events:
        async for event in events:
            if isinstance(event, FunctionToolCallEvent):
                calls.append(event.part.tool_name)
                assert event.part.args_as_dict() in ({"city": "Oslo"}, {"zone": "CET"})
            elif isinstance(event, FunctionToolResultEvent):
                results.append(event.part.content)
    assert calls == ["get_weather", "get_time"]
    assert sorted(map(str, results)) == ["12:00 in CET", "Sunny in Oslo"]
    assert fake.tool_results(1) == ["Sunny in Oslo", "12:00 in CET"]
    assert events.result is not None
    assert events.result.output == "Tool result: 12:00 in CET"


async def test_an_async_reply_function_sees_the_request(
    fake: FakeOpenAI, model: OpenAIChatModel
) -> None:
    async def answer(body: dict[str, object]) -> Reply:
        await asyncio.sleep(0)
        return Reply(text=f"{len(fake.requests)} request(s), model {body['model']}")

    fake.reply_with(answer)
    assert (await Agent(model).run("Hi")).output == "1 request(s), model fake-model"
    assert (await Agent(model).run("Again")).output == "ok"


async def test_the_api_key_arrives_as_a_bearer_header(
    fake: FakeOpenAI, model: OpenAIChatModel, base_url: str
) -> None:
    await Agent(model).run("Hi")
    assert fake.auth_headers == [f"Bearer {KEY}"]
    async with AsyncOpenAI(base_url=base_url, api_key=KEY, max_retries=0) as client:
        assert [m.id async for m in client.models.list()] == ["fake-model"]


async def test_a_wrong_key_is_a_401(fake: FakeOpenAI, base_url: str) -> None:
    async with OpenAIProvider(base_url=base_url, api_key="sk-wrong") as provider:
        agent = Agent(OpenAIChatModel("fake-model", provider=provider))
        with pytest.raises(ModelAuthenticationError) as caught:
            await agent.run("Hi")
    assert isinstance(caught.value, ModelHTTPError)
    assert caught.value.status_code == 401
    assert caught.value.provider_error_code == "invalid_api_key"
    assert fake.auth_headers == ["Bearer sk-wrong"]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_500_is_a_model_http_error(
    fake: FakeOpenAI, model: OpenAIChatModel, stream: bool
) -> None:
    fake.fail_with(500)
    with pytest.raises(ModelServerError) as caught:
        await (stream_text(Agent(model), "Hi") if stream else Agent(model).run("Hi"))
    assert isinstance(caught.value, ModelHTTPError)
    assert caught.value.status_code == 500
    assert len(fake.requests) == 1


async def test_the_sdk_retries_a_500_unless_told_not_to(fake: FakeOpenAI, base_url: str) -> None:
    fake.fail_with(503, headers={"retry-after-ms": "1"})
    fake.reply_text("Second time lucky")
    async with OpenAIProvider(base_url=base_url, api_key=KEY) as provider:
        result = await Agent(OpenAIChatModel("fake-model", provider=provider)).run("Hi")
    assert result.output == "Second time lucky"
    assert len(fake.requests) == 2


@pytest.mark.parametrize("stream", [False, True])
async def test_a_non_json_body_is_a_model_api_error(
    fake: FakeOpenAI, model: OpenAIChatModel, stream: bool
) -> None:
    fake.reply_garbage()
    with pytest.raises(ModelAPIError, match="Failed to decode response as JSON") as caught:
        await (stream_text(Agent(model), "Hi") if stream else Agent(model).run("Hi"))
    assert not isinstance(caught.value, ModelHTTPError)


async def test_json_of_the_wrong_shape_is_unexpected_behaviour(
    fake: FakeOpenAI, model: OpenAIChatModel
) -> None:
    fake.reply_garbage({"object": "error"})
    with pytest.raises(UnexpectedModelBehavior, match="Invalid response"):
        await Agent(model).run("Hi")


async def test_a_plain_text_body_is_unexpected_behaviour(
    fake: FakeOpenAI, model: OpenAIChatModel
) -> None:
    fake.reply_garbage("Bad Gateway", content_type="text/plain")
    with pytest.raises(UnexpectedModelBehavior, match="expected JSON data"):
        await Agent(model).run("Hi")


async def test_streamed_chunks_of_the_wrong_shape_exhaust_the_output_retries(
    fake: FakeOpenAI, model: OpenAIChatModel
) -> None:
    fake.reply_garbage({"unexpected": True})
    fake.reply_garbage({"unexpected": True})
    with pytest.raises(UnexpectedModelBehavior, match="Exceeded maximum output retries"):
        await stream_text(Agent(model), "Hi")
    assert len(fake.requests) == 2


async def test_a_dropped_stream_is_a_connection_error(
    fake: FakeOpenAI, model: OpenAIChatModel
) -> None:
    fake.drop_mid_stream(Reply(text="Half of this arrives"), after_chunks=3)
    pieces: list[str] = []
    with pytest.raises(ModelConnectionError):
        await stream_text(Agent(model), "Hi", pieces)
    assert "".join(pieces) == "Half of "


async def test_a_dropped_plain_response_is_a_connection_error(
    fake: FakeOpenAI, model: OpenAIChatModel
) -> None:
    fake.drop_mid_stream()
    with pytest.raises(ModelConnectionError):
        await Agent(model).run("Hi")


async def test_a_slow_reply_can_be_cancelled(
    fake: FakeOpenAI, model: OpenAIChatModel, no_lingering_tasks: None
) -> None:
    fake.delay(30)
    run = asyncio.create_task(Agent(model).run("Hi"))
    async with asyncio.timeout(2):
        await fake.wait_for_requests(1)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    async with asyncio.timeout(2):
        await fake.wait_for_disconnects(1)


async def test_a_short_delay_still_answers(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    fake.delay(0.05)
    fake.reply_text("Eventually")
    _, output = await stream_text(Agent(model), "Hi")
    assert output == "Eventually"


async def test_a_client_of_our_own_and_the_compatible_provider(
    fake: FakeOpenAI, base_url: str
) -> None:
    fake.reply_text("via client")
    fake.reply_text("via compatible")
    async with AsyncOpenAI(base_url=base_url, api_key=KEY, max_retries=0) as client:
        model = OpenAIChatModel("fake-model", provider=OpenAIProvider(openai_client=client))
        assert (await Agent(model).run("Hi")).output == "via client"
    async with OpenAICompatibleProvider("hub", base_url=base_url, api_key=KEY) as provider:
        model = OpenAIChatModel("fake-model", provider=provider)
        assert (await Agent(model).run("Hi")).output == "via compatible"
    assert fake.auth_headers == [f"Bearer {KEY}"] * 2


async def test_a_fake_without_a_key_accepts_anyone(aiohttp_server: AiohttpServer) -> None:
    fake = FakeOpenAI(model="llama3")
    server = await aiohttp_server(fake.app(), host="127.0.0.1")
    async with OpenAIProvider(base_url=str(server.make_url("/v1"))) as provider:
        result = await Agent(OpenAIChatModel("llama3", provider=provider)).run("Hi")
    assert result.output == "ok"
    assert fake.auth_headers == ["Bearer api-key-not-set"]
