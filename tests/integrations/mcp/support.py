"""The MCP tests' peers and a hub to add them to: the SDK-built HTTP fake as its own process,
``mcp-server-time`` and the environment reporter over stdio, and chat runs that approve calls."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

import aiohttp

from hub.api.state import CHAT
from tests.integrations.searxng.support import SearchHub
from tests.support.fake_process import fake_process

TOKEN: Final = "mcp-fake-token-5d1e0c9a"
BIN: Final = Path(sys.executable).parent
TIME_SERVER: Final = BIN / "mcp-server-time"
ENV_SERVER: Final = Path(__file__).parents[2] / "support" / "mcp_env_server.py"


@asynccontextmanager
async def fake_mcp(*args: str) -> AsyncIterator[str]:
    """``python -m tests.fakes.mcp_http --port P`` until it answers; its ``/mcp`` address."""
    async with fake_process("mcp_http", *args, start_timeout=60) as port:
        yield f"http://127.0.0.1:{port}/mcp"


async def switch(url: str, what: str) -> None:
    """Make the fake misbehave (``hang``, ``garbage``, ``rug``) or behave (``ok``)."""
    control = url.removesuffix("/mcp") + f"/control/{what}"
    async with aiohttp.ClientSession() as session, session.post(control) as response:
        assert response.status == 200, await response.text()


async def add_http(hub: SearchHub, url: str, **extra: Any) -> dict[str, Any]:
    """Submit the MCP flow for an HTTP server; the flow's answer."""
    form = await hub.start_flow("mcp", scope="global")
    return await hub.submit(form["flow_id"], {"transport": "http", "url": url, **extra})


async def add_stdio(hub: SearchHub, command: str, **start: Any) -> dict[str, Any]:
    """Submit the MCP flow for a stdio server; the flow's answer."""
    form = await hub.start_flow("mcp", **({"scope": "global"} | start))
    return await hub.submit(form["flow_id"], {"transport": "stdio", "command": command})


async def run(
    hub: SearchHub, *calls: tuple[str, dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """One chat run in which the model makes ``calls`` (approved once each when asked), then
    answers; the run's events and the tools offered in its first model request."""
    asked = len(hub.model.requests)
    for tool, arguments in calls:
        hub.model.reply_tool_call(tool, arguments)
    hub.model.reply_text("done")
    _, me = await hub.get("/api/auth/current_user")
    status, conversation = await hub.post("/api/conversations", {})
    assert status == 201, conversation
    chat = await hub.app[CHAT].get()
    finished = asyncio.Event()
    events: list[dict[str, Any]] = []
    answering: set[asyncio.Task[Any]] = set()

    def emit(event: dict[str, Any]) -> None:
        events.append(event)
        if event["kind"] == "approval_request":  # a person approves this one call
            path = f"/api/approvals/{event['approval_id']}"
            task = asyncio.create_task(hub.post(path, {"answer": "once"}))
            answering.add(task)
            task.add_done_callback(answering.discard)
        if event["kind"] == "done":
            finished.set()

    await chat.start(me["id"], conversation["id"], "please use the tools", emit)
    async with asyncio.timeout(90):
        await finished.wait()
    return events, hub.model.tool_names(asked)


async def entry(hub: SearchHub, entry_id: str) -> dict[str, Any]:
    """The entry as the entries page reads it."""
    status, body = await hub.get(f"/api/config-entries/{entry_id}")
    assert status == 200, body
    return dict(body)


async def sync(hub: SearchHub, entry_id: str) -> dict[str, Any]:
    """Check the server now (health, then the tool count); the entry afterwards."""
    status, body = await hub.post(f"/api/config-entries/{entry_id}/sync")
    assert status == 200, body
    return await entry(hub, entry_id)
