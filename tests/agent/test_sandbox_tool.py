"""``run_in_sandbox`` through real agent runs against the fake OpenAI server: offered when an admin
turned the built-in sandbox on, gone when off, under the untrusted gate or below its tier, and an
integration's compute provider preferred over the built-in one."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpServer

from hub.config import SandboxConfig
from tests.agent.conftest import StartAgentHub
from tests.agent.support import AgentHub
from tests.fakes.openai_server import FakeOpenAI

TOOL = "run_in_sandbox"
REMOTE = Path(__file__).parent / "remote_compute"
ON = SandboxConfig(provider="bubblewrap")
needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (Debian: apt-get install bubblewrap)",
)


@pytest.fixture
def fake(aiohttp_server: AiohttpServer) -> Iterator[FakeOpenAI]:
    # Tests ask for the fake (and its server) before the hub, so the hub, whose model client
    # keeps a connection to the fake open, is stopped first and closes that connection itself.
    from pydantic_ai import models

    models.ALLOW_MODEL_REQUESTS = True
    yield FakeOpenAI()
    models.ALLOW_MODEL_REQUESTS = False


async def with_model(
    hub: AgentHub, fake: FakeOpenAI, server: AiohttpServer, tier: str = "internal"
) -> AgentHub:
    url = str((await server(fake.app())).make_url("/v1"))
    body = {"name": "fake", "base_url": url, "model": "fake-model", "tier": tier}
    status, answer = await hub.post("/api/models", {**body, "is_default": True})
    assert status == 201, answer
    return hub


async def offered(hub: AgentHub, fake: FakeOpenAI) -> list[str]:
    """The tools a real run put in front of the model."""
    fake.reply_text("done")
    events = await hub.chat(await hub.conversation(), "what can you do?")
    assert events[-1]["status"] == "completed", events
    return fake.tool_names()


async def sandbox_call(hub: AgentHub, fake: FakeOpenAI, **args: Any) -> dict[str, Any]:
    """Have the model call the tool once (allowed without asking); what the tool answered."""
    await hub.allow(TOOL)
    fake.reply_tool_call(TOOL, args)
    fake.reply_text("done")
    events = await hub.chat(await hub.conversation(), "run it")
    assert events[-1]["status"] == "completed", events
    result = next(e for e in events if e["kind"] == "tool_result")
    return {"content": result["content"], "events": events}


@needs_bwrap
async def test_the_model_runs_a_program_when_the_admin_turned_the_sandbox_on(
    aiohttp_server: AiohttpServer, fake: FakeOpenAI, start_agent_hub: StartAgentHub
) -> None:
    hub = await with_model(await start_agent_hub(sandbox=ON), fake, aiohttp_server)
    answer = await sandbox_call(hub, fake, command="echo hello from the sandbox; exit 4")
    call = next(e for e in answer["events"] if e["kind"] == "tool_call")
    assert call["tool"] == TOOL
    assert TOOL in fake.tool_names(0)
    told = json.loads(fake.tool_results(1)[0])
    assert told["exit_code"] == 4
    assert told["stdout"] == "hello from the sandbox\n"
    assert told["provider_id"] == "bubblewrap"


@needs_bwrap
async def test_a_limit_the_program_hits_is_told_to_the_model(
    aiohttp_server: AiohttpServer, fake: FakeOpenAI, start_agent_hub: StartAgentHub
) -> None:
    config = SandboxConfig(provider="bubblewrap", output_kib=1)
    hub = await with_model(await start_agent_hub(sandbox=config), fake, aiohttp_server)
    await sandbox_call(hub, fake, command="yes")
    told = json.loads(fake.tool_results(1)[0])
    assert told["killed"] == "output"
    assert told["exit_code"] is None
    assert "output limit" in told["note"]
    assert len(told["stdout"]) == 1024


@needs_bwrap
async def test_bad_arguments_are_a_failed_tool_call_and_the_run_goes_on(
    aiohttp_server: AiohttpServer, fake: FakeOpenAI, start_agent_hub: StartAgentHub
) -> None:
    hub = await with_model(await start_agent_hub(sandbox=ON), fake, aiohttp_server)
    await sandbox_call(hub, fake, command="echo a", script="echo b")
    told = fake.tool_results(1)[0]
    assert "either a command or a script" in told


async def test_the_tool_is_absent_while_the_sandbox_is_off(
    aiohttp_server: AiohttpServer, fake: FakeOpenAI, hub: AgentHub
) -> None:
    await with_model(hub, fake, aiohttp_server)
    assert TOOL not in await offered(hub, fake)


async def test_the_untrusted_gate_removes_the_tool(
    aiohttp_server: AiohttpServer, fake: FakeOpenAI, start_agent_hub: StartAgentHub
) -> None:
    hub = await with_model(await start_agent_hub(sandbox=ON), fake, aiohttp_server)
    assert TOOL in await offered(hub, fake)
    await hub.add("proxy")  # trust_tier: untrusted
    tools = await offered(hub, fake)
    assert "proxy_query" in tools
    assert TOOL not in tools


async def test_the_tier_gate_keeps_the_builtin_from_a_model_below_its_tier(
    aiohttp_server: AiohttpServer, fake: FakeOpenAI, start_agent_hub: StartAgentHub
) -> None:
    config = SandboxConfig(provider="bubblewrap", required_tier="internal")
    hub = await start_agent_hub(sandbox=config)
    await with_model(hub, fake, aiohttp_server, tier="unregulated")
    assert TOOL not in await offered(hub, fake)


async def test_an_integrations_compute_provider_is_preferred_over_the_builtin(
    aiohttp_server: AiohttpServer, fake: FakeOpenAI, start_agent_hub: StartAgentHub, tmp_path: Path
) -> None:
    shutil.copytree(REMOTE, tmp_path / "integrations" / "remote_compute")
    hub = await with_model(await start_agent_hub(sandbox=ON), fake, aiohttp_server)
    await hub.add("remote_compute")
    await sandbox_call(hub, fake, command="uname -a")
    told = json.loads(fake.tool_results(1)[0])
    assert told["stdout"] == "remote ran: uname -a\n"
    assert told["provider_id"] == "remote"


async def test_an_integrations_provider_gives_the_tool_with_the_builtin_off(
    aiohttp_server: AiohttpServer, fake: FakeOpenAI, start_agent_hub: StartAgentHub, tmp_path: Path
) -> None:
    shutil.copytree(REMOTE, tmp_path / "integrations" / "remote_compute")
    hub = await with_model(await start_agent_hub(), fake, aiohttp_server)
    assert TOOL not in await offered(hub, fake)
    await hub.add("remote_compute")
    assert TOOL in await offered(hub, fake)
