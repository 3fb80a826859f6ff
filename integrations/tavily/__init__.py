"""Tavily: a hosted search API for agents, backing the generic ``web_search`` and ``web_fetch`` tools."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlsplit

from hub.integrations.capabilities import WebSearchResult
from hub.integrations.integration import ConfigEntryAuthFailed, Integration, SetupContext

from .client import INVALID_KEY, TavilyClient, TavilyError
from .config_flow import TavilyConfigFlow, api_url

REQUEST_TIMEOUT: Final = 20.0
MAX_PAGE_CHARS: Final = 50_000
"""As the hub's own reader: a page longer than this is cut, and the agent is told so."""


class _Provider:
    """Calls Tavily with one entry's key; a refusal is a sentence the agent can act on."""

    def __init__(self, client: TavilyClient) -> None:
        self._client = client

    @property
    def name(self) -> str:
        """``tavily``."""
        return "tavily"


class TavilySearchProvider(_Provider):
    """``web_search`` through ``POST /search``."""

    async def search(self, query: str, max_results: int) -> list[WebSearchResult]:
        """Tavily's best ``max_results`` hits, its summary of each as the snippet."""
        if not query.strip():
            raise ValueError("the search query is empty")
        try:
            hits = await self._client.search(query, limit=max_results)
        except TavilyError as err:
            raise _told(err) from None
        return [
            WebSearchResult(title=hit.title, url=hit.url, snippet=hit.content, score=hit.score)
            for hit in hits
        ]


class TavilyFetchProvider(_Provider):
    """``web_fetch`` through ``POST /extract``."""

    async def fetch(self, url: str) -> str:
        """The page's text as Markdown, cut at ``MAX_PAGE_CHARS``."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{url[:200]!r} is not an http or https address")
        try:
            page = await self._client.extract(url.strip())
        except TavilyError as err:
            raise _told(err) from None
        if page.text is None:
            raise ValueError(f"Tavily could not read {url[:200]}: {page.error}")
        if len(page.text) > MAX_PAGE_CHARS:
            return page.text[:MAX_PAGE_CHARS] + f"\n\n[cut at {MAX_PAGE_CHARS} characters]"
        return page.text


class TavilyIntegration(Integration):
    """A pure capability provider: no tools of its own; search and fetch providers per entry."""

    config_flow_cls = TavilyConfigFlow

    async def async_setup_entry(self, ctx: SetupContext) -> list[Any]:
        """Nothing to connect (each request makes its own); a missing key asks for one."""
        if not ctx.secrets.get("api_key"):
            raise ConfigEntryAuthFailed("no API key is stored for this entry")
        return []

    def web_search_provider(self, ctx: SetupContext) -> TavilySearchProvider | None:
        """The specification's example: a provider when a key is set."""
        client = _client(ctx)
        return TavilySearchProvider(client) if client else None

    def web_fetch_provider(self, ctx: SetupContext) -> TavilyFetchProvider | None:
        """The same key reads pages through ``/extract``."""
        client = _client(ctx)
        return TavilyFetchProvider(client) if client else None


def _client(ctx: SetupContext) -> TavilyClient | None:
    key = ctx.secrets.get("api_key")
    if not key:
        return None
    return TavilyClient(key, base_url=api_url(dict(ctx.data)), timeout=REQUEST_TIMEOUT)


def _told(err: TavilyError) -> Exception:
    # A refused key asks the person for a new one (the entry's reauth); the rest the agent reads.
    if err.kind == INVALID_KEY:
        return ConfigEntryAuthFailed("Tavily refused the API key")
    return ValueError(str(err))


INTEGRATION = TavilyIntegration()
