"""SearXNG: a self-hosted metasearch engine backing the agent's generic ``web_search`` tool."""

from __future__ import annotations

from typing import Any, Final

from hub.integrations.capabilities import WebSearchResult
from hub.integrations.integration import Integration, SetupContext

from .client import SearxngClient, SearxngError
from .config_flow import SearxngConfigFlow

SEARCH_TIMEOUT: Final = 20.0


class SearxngSearchProvider:
    """Searches one SearXNG instance; a failure is a sentence the agent can act on."""

    def __init__(self, client: SearxngClient) -> None:
        self._client = client

    @property
    def name(self) -> str:
        """``searxng``."""
        return "searxng"

    async def search(self, query: str, max_results: int) -> list[WebSearchResult]:
        """The instance's best ``max_results`` hits; ``content`` becomes the snippet."""
        if not query.strip():
            raise ValueError("the search query is empty")
        try:
            hits = await self._client.search(query, limit=max_results)
        except SearxngError as err:
            # ValueError reaches the agent as the tool's answer, with this sentence.
            raise ValueError(str(err)) from None
        return [
            WebSearchResult(title=hit.title, url=hit.url, snippet=hit.content, score=hit.score)
            for hit in hits
        ]


class SearxngIntegration(Integration):
    """A pure capability provider: no tools of its own, a ``web_search`` provider per entry."""

    config_flow_cls = SearxngConfigFlow

    async def async_setup_entry(self, ctx: SetupContext) -> list[Any]:
        """Nothing to connect: each search makes its own request."""
        return []

    def web_search_provider(self, ctx: SetupContext) -> SearxngSearchProvider | None:
        """The entry's instance, when it has an address."""
        url = ctx.data.get("base_url")
        if not isinstance(url, str) or not url:
            return None
        return SearxngSearchProvider(SearxngClient(url, timeout=SEARCH_TIMEOUT))


INTEGRATION = SearxngIntegration()
