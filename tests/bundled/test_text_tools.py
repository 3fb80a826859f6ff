"""The bundled Text Tools integration: loaded from the real integrations folder, tools used for real."""

from __future__ import annotations

import hashlib
import importlib
from types import ModuleType
from typing import Any

import pytest

from hub.config import SOURCE_ROOT
from hub.integrations.integration import SetupContext
from hub.integrations.loader import LoadedIntegration, discover
from hub.integrations.toolsets import resolve_toolset


@pytest.fixture(scope="module")
def text_tools() -> LoadedIntegration:
    result = discover(SOURCE_ROOT / "integrations")
    loaded = {item.domain: item for item in result.loaded}
    assert "text_tools" in loaded, result.skipped
    return loaded["text_tools"]


@pytest.fixture(scope="module")
def tools(text_tools: LoadedIntegration) -> ModuleType:
    return importlib.import_module("_hub_integrations.text_tools.tools")


def test_manifest_has_no_config_flow(text_tools: LoadedIntegration) -> None:
    assert text_tools.manifest.config_flow is False
    assert text_tools.manifest.iot_class == "local_in_process"
    assert text_tools.integration.config_flow_cls is None


def test_statistics(tools: Any) -> None:
    text = "The lamp is bright. The lamp is small!\n\nIt runs on a Pi? Yes."
    stats = tools.text_statistics(text)
    assert stats.words == 14
    assert stats.sentences == 4
    assert stats.paragraphs == 2
    assert stats.lines == 3
    assert stats.characters == len(text)
    assert stats.most_common_words[0] == ("lamp", 2), "short words like 'the' are not listed"
    assert tools.text_statistics("").words == 0


def test_diff(tools: Any) -> None:
    diff = tools.text_diff("milk\neggs\nbread\n", "milk\nbutter\nbread\ncheese\n")
    assert diff.lines_added == 2
    assert diff.lines_removed == 1
    assert "+butter" in diff.unified_diff
    assert "-eggs" in diff.unified_diff
    assert 0 < diff.similarity < 1
    assert diff.identical is False
    same = tools.text_diff("a\nb", "a\nb")
    assert same.identical is True
    assert same.similarity == 1.0
    assert same.unified_diff == ""


def test_extract_references(tools: Any) -> None:
    found = tools.text_extract_references(
        "See https://example.com/docs?x=1, and (https://hub.local/a). Mail Bob@Example.org or "
        "bob@example.org; https://example.com/docs?x=1 again."
    )
    assert found.urls == ["https://example.com/docs?x=1", "https://hub.local/a"]
    assert found.emails == ["bob@example.org"]
    assert found.truncated is False


def test_slugify_and_case(tools: Any) -> None:
    assert tools.text_slugify("Crème Brûlée: the Recipe!").slug == "creme-brulee-the-recipe"
    assert tools.text_slugify("Hello World", separator="_").slug == "hello_world"
    assert tools.text_slugify("alpha beta gamma", max_length=11).slug == "alpha-beta"
    assert tools.text_change_case("living room lamp", "camel").text == "livingRoomLamp"
    assert tools.text_change_case("livingRoomLamp", "snake").text == "living_room_lamp"
    assert tools.text_change_case("HTTPServer ready", "kebab").text == "http-server-ready"
    assert tools.text_change_case("hello. how are you?", "sentence").text == "Hello. How are you?"
    assert tools.text_change_case("o'neil's lamp", "title").text == "O'neil's Lamp"


def test_hash(tools: Any) -> None:
    digest = tools.text_hash("hub")
    assert digest.hex == hashlib.sha256(b"hub").hexdigest()
    assert digest.length_bytes == 3
    assert tools.text_hash("hub", "md5").hex == hashlib.md5(b"hub").hexdigest()


async def test_the_agent_sees_and_calls_the_tools(text_tools: LoadedIntegration) -> None:
    from pydantic_ai import Agent, models
    from pydantic_ai.models.test import TestModel

    models.ALLOW_MODEL_REQUESTS = False
    ctx = SetupContext(entry_id="e1", domain="text_tools")
    toolsets = [resolve_toolset(t) for t in await text_tools.integration.async_setup_entry(ctx)]
    model = TestModel()
    agent: Agent[None, str] = Agent(model, toolsets=toolsets)
    run = await agent.run("count the words")
    assert model.last_model_request_parameters is not None
    names = {tool.name for tool in model.last_model_request_parameters.function_tools}
    assert names == {
        "text_statistics",
        "text_diff",
        "text_extract_references",
        "text_slugify",
        "text_change_case",
        "text_hash",
    }
    returns = [
        part
        for message in run.all_messages()
        for part in getattr(message, "parts", [])
        if part.part_kind == "tool-return"
    ]
    assert {part.tool_name for part in returns} == names, "every tool ran without an error"
