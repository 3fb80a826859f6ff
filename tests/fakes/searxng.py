"""A fake SearXNG on 127.0.0.1 speaking its search API: ``GET|POST /search?q=…&format=json``.

Serve ``fake.app()`` with pytest-aiohttp's ``aiohttp_server``; the instance URL is the server's
root. As in SearXNG, a format missing from ``formats`` (settings.yml's ``search: formats``) is
answered 403, a missing query 400, and the JSON answer has SearXNG's keys (``query``,
``number_of_results``, ``results`` with ``url``, ``title``, ``content``, ``engine``, ``score``…,
``answers``, ``suggestions``, ``unresponsive_engines``). ``limited`` makes it answer 429 as its
limiter does. Documents are matched by any word of the query in their title or content.

Run it on its own to try the integration without a SearXNG:
``python -m tests.fakes.searxng --port 8888`` (``--no-json`` to see the flow's 403 advice).
"""

from __future__ import annotations

import argparse
import html
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlparse

from aiohttp import web

JsonDict = dict[str, Any]

FORBIDDEN_PAGE: Final = (
    "<!doctype html><title>403 Forbidden</title><h1>Forbidden</h1>"
    "<p>You don't have the permission to access the requested resource.</p>"
)
TOO_MANY_PAGE: Final = (
    "<!doctype html><title>429 Too Many Requests</title><h1>Too Many Requests</h1>"
)


@dataclass(frozen=True)
class Document:
    """A page the fake's engines know."""

    title: str
    url: str
    content: str


DOCUMENTS: Final = (
    Document(
        "Raspberry Pi 5 review",
        "https://example.org/pi5-review",
        "The Raspberry Pi 5 doubles the speed of its predecessor.",
    ),
    Document(
        "Home Assistant on a Raspberry Pi",
        "https://example.org/ha-on-pi",
        "Install Home Assistant on a Raspberry Pi in ten minutes.",
    ),
    Document(
        "Sourdough bread basics",
        "https://example.net/sourdough",
        "Flour, water, salt and patience: a first sourdough loaf.",
    ),
)


class FakeSearxng:
    """The in-memory instance and what was asked of it."""

    def __init__(self, documents: tuple[Document, ...] = DOCUMENTS) -> None:
        self.documents = list(documents)
        self.formats: list[str] = ["html", "json"]
        """settings.yml's ``search: formats``; SearXNG's own default is ``[html]``."""
        self.limited = False
        self.queries: list[str] = []

    def app(self) -> web.Application:
        """The aiohttp application to serve."""
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_route("GET", "/search", self._search)
        app.router.add_route("POST", "/search", self._search)
        return app

    def matches(self, query: str) -> list[Document]:
        """The documents holding any word of ``query``, most words first."""
        words = [word for word in query.casefold().split() if word]
        counted = [
            (sum(word in f"{doc.title} {doc.content}".casefold() for word in words), doc)
            for doc in self.documents
        ]
        ranked = sorted((item for item in counted if item[0] > 0), key=lambda item: -item[0])
        return [doc for _, doc in ranked]

    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>SearXNG</title>", content_type="text/html")

    async def _search(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.post()).items()})
        if self.limited:
            return web.Response(status=429, text=TOO_MANY_PAGE, content_type="text/html")
        output = params.get("format", "html")
        if output not in self.formats:
            return web.Response(status=403, text=FORBIDDEN_PAGE, content_type="text/html")
        query = params.get("q", "").strip()
        if not query:
            if output == "json":
                return web.json_response({"error": "No query"}, status=400)
            return await self._index(request)
        self.queries.append(query)
        found = self.matches(query)
        if output == "json":
            return web.json_response(self._answer(query, found))
        items = "".join(
            f'<article><a href="{html.escape(d.url)}">{html.escape(d.title)}</a></article>'
            for d in found
        )
        return web.Response(text=f"<!doctype html>{items}", content_type="text/html")

    @staticmethod
    def _answer(query: str, found: list[Document]) -> JsonDict:
        results = [
            {
                "url": doc.url,
                "title": doc.title,
                "content": doc.content,
                "engine": "duckduckgo",
                "parsed_url": list(urlparse(doc.url)),
                "template": "default.html",
                "engines": ["duckduckgo", "brave"],
                "positions": [rank, rank + 1],
                "publishedDate": None,
                "thumbnail": "",
                "score": round(2.0 / rank, 4),
                "category": "general",
            }
            for rank, doc in enumerate(found, start=1)
        ]
        return {
            "query": query,
            "number_of_results": 0,
            "results": results,
            "answers": [],
            "corrections": [],
            "infoboxes": [],
            "suggestions": [],
            "unresponsive_engines": [],
        }


def main() -> None:
    """Serve the fake on 127.0.0.1 until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--no-json", action="store_true", help="answer format=json with 403")
    args = parser.parse_args()
    fake = FakeSearxng()
    if args.no_json:
        fake.formats = ["html"]
    web.run_app(fake.app(), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
