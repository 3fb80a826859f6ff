"""Both clients give up on a server that accepts the request and never answers, and say so."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from integrations.searxng.client import TIMEOUT as SEARXNG_TIMEOUT
from integrations.searxng.client import SearxngClient, SearxngError
from integrations.tavily.client import TIMEOUT as TAVILY_TIMEOUT
from integrations.tavily.client import TavilyClient, TavilyError
from tests.integrations.searxng.support import serve


@pytest.fixture
async def silent_url(aiohttp_server: AiohttpServer) -> AsyncIterator[str]:
    """A server whose every answer waits until the client has gone."""
    gone = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await gone.wait()
        return web.Response()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hang)
    url = await serve(app, aiohttp_server)
    yield url
    gone.set()


async def test_a_search_that_gets_no_answer_is_a_timeout(silent_url: str) -> None:
    with pytest.raises(SearxngError) as caught:
        await SearxngClient(silent_url, timeout=0.2).search("anything", limit=3)
    assert caught.value.kind == SEARXNG_TIMEOUT
    assert str(caught.value).endswith("did not answer within 0.2 s")


async def test_tavily_that_gets_no_answer_is_a_timeout_without_the_key(silent_url: str) -> None:
    key = "tvly-never-shown-4711"
    with pytest.raises(TavilyError) as caught:
        await TavilyClient(key, base_url=silent_url, timeout=0.2).extract("https://example.com/")
    assert caught.value.kind == TAVILY_TIMEOUT
    assert key not in str(caught.value) + repr(TavilyClient(key))
