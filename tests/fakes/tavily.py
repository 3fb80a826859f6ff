"""A fake Tavily on 127.0.0.1 speaking its REST API: ``POST /search`` and ``POST /extract``.

Serve ``fake.app()`` with pytest-aiohttp's ``aiohttp_server``; the API address is the server's
root. As Tavily does, every request needs ``Authorization: Bearer <key>`` (401 otherwise), errors
are ``{"detail": {"error": "..."}}``, and ``refuse_with`` makes every request fail with one of the
documented statuses: 429 (rate limited), 432 (plan limit), 433 (pay-as-you-go limit). A search
matches documents by any word of the query; an extract reads ``pages`` (an unknown address is a
``failed_results`` entry, as for a page Tavily could not read).

Run it on its own to try the integration without a Tavily account:
``python -m tests.fakes.tavily --port 8889`` (the key is printed; tick "another API address").
"""

from __future__ import annotations

import argparse
import time
import uuid
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

JsonDict = dict[str, Any]

API_KEY: Final = "tvly-dev-fake9c41d07e2b85"
MESSAGES: Final = {
    400: "Bad request.",
    401: "Unauthorized: missing or invalid API key.",
    429: "Your request has been blocked due to excessive requests. Please reduce the rate of"
    " requests.",
    432: "This request exceeds your plan's set usage limit. Please upgrade your plan or contact"
    " support@tavily.com",
    433: "This request exceeds the pay-as-you-go limit. You can increase your limit on the Tavily"
    " dashboard.",
}


@dataclass(frozen=True)
class Document:
    """A page the fake's index knows."""

    title: str
    url: str
    content: str


DOCUMENTS: Final = (
    Document(
        "Tavily's view of the Raspberry Pi 5",
        "https://example.com/tavily/pi5",
        "A summary written for agents: the Pi 5 runs a home hub comfortably.",
    ),
    Document(
        "Kombucha at home",
        "https://example.com/tavily/kombucha",
        "Brewing kombucha takes a SCOBY, sweet tea and a week.",
    ),
)
PAGES: Final = {
    "https://example.com/article": "# An article\n\nRead through Tavily's extract endpoint.",
}


class FakeTavily:
    """The in-memory service and what was asked of it."""

    def __init__(self, key: str = API_KEY) -> None:
        self.key = key
        self.documents = list(DOCUMENTS)
        self.pages = dict(PAGES)
        self.refuse_with: int | None = None
        self.requests: list[tuple[str, JsonDict]] = []
        self.credits_used = 0

    def app(self) -> web.Application:
        """The aiohttp application to serve."""
        app = web.Application()
        app.router.add_post("/search", self._search)
        app.router.add_post("/extract", self._extract)
        return app

    async def _search(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        body, refused = await self._admit(request)
        if refused is not None:
            return refused
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            return error(400, "Query is missing.")
        limit = body.get("max_results", 5)
        if not isinstance(limit, int) or not 0 <= limit <= 20:
            return error(400, "max_results must be between 0 and 20.")
        words = query.casefold().split()
        found = [
            d
            for d in self.documents
            if any(w in f"{d.title} {d.content}".casefold() for w in words)
        ]
        self.credits_used += 1
        results = [
            {
                "title": doc.title,
                "url": doc.url,
                "content": doc.content,
                "score": round(0.9 - rank * 0.1, 4),
                "raw_content": None,
            }
            for rank, doc in enumerate(found[:limit])
        ]
        return web.json_response(
            {
                "query": query,
                "follow_up_questions": None,
                "answer": None,
                "images": [],
                "results": results,
                "response_time": f"{time.monotonic() - started:.2f}",
                "request_id": str(uuid.uuid4()),
            }
        )

    async def _extract(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        body, refused = await self._admit(request)
        if refused is not None:
            return refused
        urls = body.get("urls")
        if isinstance(urls, str):
            urls = [urls]
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            return error(400, "urls must be a URL or a list of URLs.")
        results = [
            {"url": url, "raw_content": self.pages[url], "images": []}
            for url in urls
            if url in self.pages
        ]
        failed = [
            {"url": url, "error": "Failed to fetch url"} for url in urls if url not in self.pages
        ]
        self.credits_used += (len(results) + 4) // 5
        return web.json_response(
            {
                "results": results,
                "failed_results": failed,
                "response_time": round(time.monotonic() - started, 2),
                "request_id": str(uuid.uuid4()),
            }
        )

    async def _admit(self, request: web.Request) -> tuple[JsonDict, web.Response | None]:
        try:
            body = await request.json()
        except ValueError:
            return {}, error(400, "The request body is not valid JSON.")
        if not isinstance(body, dict):
            return {}, error(400, "The request body must be a JSON object.")
        self.requests.append((request.path, {k: v for k, v in body.items() if k != "api_key"}))
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        # Tavily still takes the older "api_key" in the body, too.
        given = token if scheme == "Bearer" else body.get("api_key")
        if given != self.key:
            return body, error(401, MESSAGES[401])
        if self.refuse_with is not None:
            return body, error(self.refuse_with, MESSAGES.get(self.refuse_with, "Error."))
        return body, None


def error(status: int, message: str) -> web.Response:
    """Tavily's error body."""
    return web.json_response({"detail": {"error": message}}, status=status)


def main() -> None:
    """Serve the fake on 127.0.0.1 until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8889)
    parser.add_argument("--key", default=API_KEY, help="the API key it accepts")
    args = parser.parse_args()
    print(f"fake Tavily at http://127.0.0.1:{args.port}, API key {args.key}", flush=True)
    web.run_app(FakeTavily(args.key).app(), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
