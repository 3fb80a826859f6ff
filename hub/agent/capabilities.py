"""Capability providers for a run (web search, web fetch, weather) and the generic tools they back.

First configured wins: the applicable entries are walked in precedence order (the person's own,
then global ones, then by integration name) and each slot keeps the first provider offered. The
slots are ambient: they ignore the chat's integration selection, but never the tier gate. When no
integration fills ``web_fetch``, the hub's own local reader does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from hub.agent.approvals import READ_ONLY
from hub.agent.fetch import LocalFetchReader
from hub.core.errors import IntegrationError
from hub.integrations.capabilities import (
    PROVIDER_HOOKS,
    PROVIDER_PROTOCOLS,
    WEATHER,
    WEB_FETCH,
    WEB_SEARCH,
    Capability,
    WeatherProvider,
    WebFetchProvider,
    WebSearchProvider,
)
from hub.integrations.entry import ConfigEntry
from hub.integrations.integration import Integration
from hub.integrations.runtime import EntryRuntime, provider_hook

_LOGGER = logging.getLogger(__name__)

WEB_SLOTS: Final[tuple[Capability, ...]] = (WEB_SEARCH, WEB_FETCH, WEATHER)
MAX_SEARCH_RESULTS: Final = 10


@dataclass(slots=True)
class Providers:
    """The providers backing a run's generic tools, and where each came from."""

    search: WebSearchProvider | None = None
    fetch: WebFetchProvider | None = None
    weather: WeatherProvider | None = None
    sources: dict[str, str] = field(default_factory=dict)
    """Capability → the domain that provides it (``hub`` for the built-in reader)."""
    runtimes: dict[str, EntryRuntime] = field(default_factory=dict)
    """Capability → the runtime of the entry that provides it; every call goes through it."""

    async def call(self, cap: Capability, method: str, **kwargs: Any) -> Any:
        """Call the slot's provider through its entry's runtime (the hub's own reader directly)."""
        provider = _slot(self, cap)
        runtime = self.runtimes.get(cap)
        if runtime is None:
            return await getattr(provider, method)(**kwargs)
        return await runtime.call(
            provider_hook(method, object),
            timeout=runtime_deadline(runtime),
            target=getattr(provider, method),
            label=f"{cap} provider",
            **kwargs,
        )

    def filled(self) -> set[str]:
        """The capability keys with a provider."""
        slots = {WEB_SEARCH: self.search, WEB_FETCH: self.fetch, WEATHER: self.weather}
        return {key for key, provider in slots.items() if provider is not None}


def overrides(integration: Integration, hook: str) -> bool:
    """Whether an integration implements a provider hook (the default offers nothing)."""
    return getattr(type(integration), hook, None) is not getattr(Integration, hook)


def precedence(own: bool, integration_name: str, domain: str) -> tuple[bool, str, str, str]:
    """Where an entry stands when providers are picked: the person's own first, then by integration
    name (the manifest's ``name``, as the specification says), the domain settling equal names."""
    return (not own, integration_name.casefold(), integration_name, domain)


def resolve_providers(
    candidates: Iterable[tuple[ConfigEntry, Integration]],
    runtime_of: Callable[[str], EntryRuntime | None],
    *,
    allow_local_fetch: bool,
) -> Providers:
    """Fill each slot with the first provider offered; the local reader fills an empty fetch slot.

    ``candidates`` come already ordered and already past the tier gate.
    """
    found = Providers()
    for entry, integration in candidates:
        wanted = [
            cap
            for cap in WEB_SLOTS
            if _slot(found, cap) is None and overrides(integration, PROVIDER_HOOKS[cap])
        ]
        if not wanted:
            continue
        runtime = runtime_of(entry.entry_id)
        if runtime is None:  # not set up: it offers nothing
            continue
        for cap in wanted:
            provider = _offer(runtime, cap)
            if provider is not None:
                setattr(found, _ATTR[cap], provider)
                found.sources[cap] = entry.domain
                found.runtimes[cap] = runtime
        if all(_slot(found, cap) is not None for cap in WEB_SLOTS):
            break
    if found.fetch is None:
        found.fetch = LocalFetchReader(allow_private=allow_local_fetch)
        found.sources[WEB_FETCH] = "hub"
    return found


def capability_toolset() -> Any:
    """The generic ``web_search`` / ``web_fetch`` / ``weather`` tools, backed by ``ctx.deps``.

    Built once; each run keeps only the tools whose slot is filled (see ``for_slots``).
    """
    from pydantic_ai.toolsets import FunctionToolset

    from hub.agent.deps import context_tool

    async def web_search(ctx: Any, query: str, max_results: int = 5) -> list[dict[str, Any]]:
        """Search the web; each hit has a title, url, snippet and sometimes the page content.

        Args:
            query: What to search for.
            max_results: How many hits, 1 to 10.
        """
        count = max(1, min(max_results, MAX_SEARCH_RESULTS))
        hits = await ctx.deps.providers.call(WEB_SEARCH, "search", query=query, max_results=count)
        return [hit.model_dump(mode="json", exclude_none=True) for hit in hits[:count]]

    async def web_fetch(ctx: Any, url: str) -> str:
        """Fetch a web page (http or https) and return its readable text.

        Args:
            url: The page's full address.
        """
        return str(await ctx.deps.providers.call(WEB_FETCH, "fetch", url=url))

    async def weather(ctx: Any, latitude: float, longitude: float, hours: int = 24) -> Any:
        """The weather forecast for a place.

        Args:
            latitude: Degrees north, -90 to 90.
            longitude: Degrees east, -180 to 180.
            hours: How far ahead, 1 to 168.
        """
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise ValueError("latitude must be within ±90 and longitude within ±180")
        hours = max(1, min(hours, 168))
        return await ctx.deps.providers.call(
            WEATHER, "weather", latitude=latitude, longitude=longitude, hours=hours
        )

    # All read-only, web_fetch included: it only GETs a page the model names. What it could leak
    # is the untrusted gate's concern (it drops web_fetch once untrusted output is in the run), and
    # the SSRF guard keeps it off the LAN; asking before every page read would make it useless.
    tools = [context_tool(f) for f in (web_search, web_fetch, weather)]
    return FunctionToolset(tools, id="capabilities", metadata={READ_ONLY: True})


def for_slots(toolset: Any, filled: set[str]) -> Any:
    """The generic tools of the filled slots only."""
    return toolset.filtered(lambda ctx, tool_def: tool_def.name in filled)


_ATTR: Final[dict[Capability, str]] = {WEB_SEARCH: "search", WEB_FETCH: "fetch", WEATHER: "weather"}


def _slot(found: Providers, cap: Capability) -> Any:
    return getattr(found, _ATTR[cap])


def _offer(runtime: EntryRuntime, cap: Capability) -> Any:
    hook = provider_hook(PROVIDER_HOOKS[cap], PROVIDER_PROTOCOLS[cap])
    try:
        return runtime.call_sync(hook)
    except IntegrationError:  # one broken provider never stops a run; the runtime logged it
        return None


def runtime_deadline(runtime: EntryRuntime) -> float:
    """How long a provider's call may take."""
    return runtime.deadlines.provider
