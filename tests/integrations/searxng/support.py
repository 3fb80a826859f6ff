"""A real hub with the bundled integrations and a model served by the fake OpenAI server.

Shared by the SearXNG and Tavily tests: start the hub, add entries through their flows, and run
the agent once, with the fake model calling a generic tool and reading what it answered.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient, AiohttpServer

from hub.api.state import CHAT
from hub.app import create_app
from hub.config import HubConfig, ModelConfig
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.bundled.conftest import BundledHub
from tests.fakes.openai_server import FakeOpenAI


class SearchHub(BundledHub):
    """A started hub whose one model is the fake OpenAI server's."""

    def __init__(self, client: TestClient[web.Request, web.Application], model: FakeOpenAI) -> None:
        super().__init__(client)
        self.model = model

    async def add(self, domain: str, user_input: dict[str, Any], *, scope: str) -> str:
        """An entry made through the domain's flow, the caller's own or the household's."""
        form = await self.start_flow(domain, scope=scope)
        done = await self.submit(form["flow_id"], user_input)
        assert done["type"] == "create_entry", done
        return str(done["entry_id"])

    async def run_tool(self, tool: str, **arguments: Any) -> tuple[list[dict[str, Any]], str]:
        """One chat run in which the model calls ``tool``; the run's events and what it returned."""
        asked = len(self.model.requests)
        self.model.reply_tool_call(tool, arguments)
        self.model.reply_text("done")
        _, me = await self.get("/api/auth/current_user")
        status, conversation = await self.post("/api/conversations", {})
        assert status == 201, conversation
        chat = await self.app[CHAT].get()
        finished = asyncio.Event()
        events: list[dict[str, Any]] = []

        def emit(event: dict[str, Any]) -> None:
            events.append(event)
            if event["kind"] == "done":
                finished.set()

        await chat.start(me["id"], conversation["id"], f"please use {tool}", emit)
        async with asyncio.timeout(30):
            await finished.wait()
        assert tool in self.model.tool_names(asked), "the run offered the tool"
        [answer] = self.model.tool_results(-1)
        return events, answer


StartSearchHub = Callable[[], Awaitable[SearchHub]]


@pytest.fixture
def allow_model_requests() -> Iterator[None]:
    """Model requests reach only the fake server on 127.0.0.1."""
    from pydantic_ai import models

    before, models.ALLOW_MODEL_REQUESTS = models.ALLOW_MODEL_REQUESTS, True
    yield
    models.ALLOW_MODEL_REQUESTS = before


@pytest.fixture
def start_search_hub(
    tmp_path: Path,
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    allow_model_requests: None,
) -> StartSearchHub:
    """Start a hub with the bundled integrations and the fake model as its only model."""

    async def start() -> SearchHub:
        fake = FakeOpenAI()
        server = await aiohttp_server(fake.app())
        model = ModelConfig(
            name="local", base_url=str(server.make_url("/v1")), model="m", tier="internal"
        )
        app = create_app(tmp_path / "config", HubConfig(models=(model,)), env={})
        client = await aiohttp_client(app)
        await sign_in(client, OWNER, OWNER_PASSWORD)
        return SearchHub(client, fake)

    return start


async def serve(app: web.Application, aiohttp_server: AiohttpServer) -> str:
    """Serve a fake on 127.0.0.1; its root URL without the trailing slash."""
    server = await aiohttp_server(app)
    return str(server.make_url("/")).rstrip("/")


def parsed(answer: str) -> Any:
    """A tool's JSON answer as the model received it."""
    return json.loads(answer)
