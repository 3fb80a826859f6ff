"""The SearXNG and Tavily fakes start on their own, so a person can try the integrations without either."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from tests.fakes.tavily import API_KEY
from tests.support.fake_process import fake_process


@asynccontextmanager
async def running(module: str, *args: str) -> AsyncIterator[str]:
    """``python -m tests.fakes.<module> --port P`` until it answers; its address."""
    async with fake_process(module, *args) as port:
        yield f"http://127.0.0.1:{port}"


async def get_json(url: str, **kw: Any) -> tuple[int, Any]:
    """One request; the status and the JSON answer (``None`` when it is not JSON)."""
    async with aiohttp.ClientSession() as session, session.request(url=url, **kw) as response:
        try:
            body = await response.json(content_type=None)
        except ValueError:  # an HTML page
            body = None
        return response.status, body


async def test_the_searxng_fake_answers_searches_and_can_refuse_json() -> None:
    async with running("searxng") as url:
        status, answer = await get_json(
            f"{url}/search", method="GET", params={"q": "sourdough", "format": "json"}
        )
        assert status == 200
        assert [hit["url"] for hit in answer["results"]] == ["https://example.net/sourdough"]
    async with running("searxng", "--no-json") as url:
        status, answer = await get_json(
            f"{url}/search", method="GET", params={"q": "x", "format": "json"}
        )
        assert (status, answer) == (403, None), "as SearXNG with JSON turned off"


async def test_the_tavily_fake_answers_searches_with_its_key() -> None:
    async with running("tavily") as url:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        status, answer = await get_json(
            f"{url}/search", method="POST", json={"query": "kombucha"}, headers=headers
        )
        assert status == 200
        assert answer["results"][0]["url"] == "https://example.com/tavily/kombucha"
        status, refused = await get_json(f"{url}/search", method="POST", json={"query": "x"})
        assert status == 401
        assert refused == {"detail": {"error": "Unauthorized: missing or invalid API key."}}
