"""A web search provider whose hits name the domain it was installed as (see ``install``)."""

from __future__ import annotations

from hub.integrations.capabilities import WebSearchResult
from hub.integrations.integration import Integration, SetupContext


class Provider:
    """Answers every query with one hit from its own domain."""

    def __init__(self, domain: str) -> None:
        self.name = domain

    async def search(self, query: str, max_results: int = 5) -> list[WebSearchResult]:
        return [WebSearchResult(title=f"{self.name}: {query}", url=f"https://{self.name}.example")]


class NamedSearch(Integration):
    """Offers a provider for ``web_search``."""

    def web_search_provider(self, ctx: SetupContext) -> Provider:
        return Provider(ctx.domain)


INTEGRATION = NamedSearch()
