"""The specification's end-to-end ``myservice`` example, ported by the porting rule alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from hub.integrations.integration import SetupContext
from hub.integrations.loader import discover
from tests.integrations.helpers import make_integration

# A verbatim copy, so the suite passes without ../shared; tests/spec/README.md says where it came from.
SPEC = Path(__file__).resolve().parents[1] / "spec" / "000_end_to_end_example.txt"
ORIGINAL = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "000_687a8e233c768bba.txt"


def port(text: str) -> str:
    """The porting rule, and nothing else."""
    return text.replace("personal_agent.integrations", "hub.integrations").replace(
        "PersonalAgentIntegration", "Integration"
    )


def spec_block(after: str, until: str) -> str:
    """An example file of the specification's end-to-end section, exactly as written there."""
    text = SPEC.read_text().split("End-to-end example", 1)[1]
    start = text.index(after) + len(after)
    end = text.index(until, start)
    return text[start:end].strip("\n") + "\n"


@pytest.fixture
def myservice(tmp_path: Path) -> Path:
    files = {
        "config_flow.py": spec_block("config_flow.py:\n", "tools.py:\n"),
        "tools.py": spec_block("tools.py:\n", "__init__.py:\n"),
        "__init__.py": spec_block("__init__.py:\n", "Drop the folder"),
    }
    manifest = spec_block("manifest.yaml:\n", "config_flow.py:\n")
    return make_integration(
        tmp_path,
        "myservice",
        manifest=manifest,
        init=None,
        files={name: port(text) for name, text in files.items()},
    )


async def test_myservice_loads_and_its_tool_calls_the_service(
    myservice: Path, aiohttp_server: AiohttpServer
) -> None:
    seen: list[tuple[str, str | None]] = []

    async def search(request: web.Request) -> web.Response:
        seen.append((request.query["q"], request.headers.get("Authorization")))
        return web.json_response({"results": [{"title": "Hub", "url": "https://hub.example"}]})

    app = web.Application()
    app.router.add_get("/api/search", search)
    server = await aiohttp_server(app)

    result = discover(myservice.parent)
    assert [item.domain for item in result.loaded] == ["myservice"], result.skipped
    item = result.loaded[0]
    assert item.manifest.iot_class == "cloud_polling"
    assert item.integration.config_flow_cls is not None
    assert item.integration.config_flow_cls.__name__ == "MyServiceConfigFlow"

    ctx = SetupContext(
        entry_id="entry-1",
        domain="myservice",
        scope="user",
        owner_sub="alice",
        data={"base_url": str(server.make_url("/"))},
        secrets={"api_key": "sk-test-123"},
    )
    toolsets = await item.integration.async_setup_entry(ctx)
    assert len(toolsets) == 1

    from pydantic_ai import Agent, models
    from pydantic_ai.models.test import TestModel

    models.ALLOW_MODEL_REQUESTS = False
    agent: Agent[None, str] = Agent(TestModel(), toolsets=toolsets)
    run = await agent.run("find the hub")
    assert seen == [("a", "Bearer sk-test-123")]
    tool_returns: list[Any] = [
        part.content
        for message in run.all_messages()
        for part in getattr(message, "parts", [])
        if part.part_kind == "tool-return"
    ]
    assert tool_returns[0][0].title == "Hub"


@pytest.mark.skipif(not ORIGINAL.exists(), reason="the specification is not beside this clone")
def test_the_copied_example_still_matches_the_specification() -> None:
    section = ORIGINAL.read_text().split("End-to-end example", 1)[1]
    copy = SPEC.read_text().split("End-to-end example", 1)[1]
    assert section.startswith(copy.rstrip("\n"))
