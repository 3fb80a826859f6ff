"""An integration that fails on purpose: ``behaviour.json`` beside it names a failure per hook.

Each hook reads the file when it is called, so a test chooses, e.g. ``{"action": "hang"}``, and
every other hook behaves. The failures are the ways integration code goes wrong in practice.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from hub.integrations.capabilities import WebSearchResult
from hub.integrations.entities import (
    EntityStateActionDescriptor,
    EntityStateActionResult,
    EntityStateRecord,
    EntityStateSyncResult,
    EntityStateTypeDescriptor,
)
from hub.integrations.integration import (
    ConfigEntryAuthFailed,
    ConfigEntryNotReady,
    Integration,
    SetupContext,
    WebhookPayloadError,
)
from hub.integrations.toolsets import deferred

BEHAVIOUR = Path(__file__).with_name("behaviour.json")
GADGET = EntityStateTypeDescriptor(
    key="gadget", name="Gadget", actions=(EntityStateActionDescriptor(name="poke", label="Poke"),)
)
WRONG = "not what the hook returns"


def gadget(state: str = "idle") -> EntityStateRecord:
    """The one entity this integration has."""
    return EntityStateRecord(entity_type="gadget", external_id="g1", name="Gadget", state=state)


def mode_of(hook: str) -> str:
    """What ``behaviour.json`` says ``hook`` should do now (``ok`` when it says nothing)."""
    modes = json.loads(BEHAVIOUR.read_text()) if BEHAVIOUR.exists() else {}
    return str(modes.get(hook, "ok"))


async def behave(hook: str, *, bad_input: type[Exception] = ValueError) -> bool:
    """Fail as ``behaviour.json`` says for ``hook``; ``True`` when the hook should return garbage."""
    mode = mode_of(hook)
    if mode == "auth":
        raise ConfigEntryAuthFailed("the service refused the key")
    if mode == "not_ready":
        raise ConfigEntryNotReady("the service is starting")
    if mode == "bad_input":
        raise bad_input("that value makes no sense")
    if mode == "timeout":  # its own HTTP client giving up, long before the hub's deadline
        raise TimeoutError("the service did not answer")
    if mode == "hang":
        await asyncio.Event().wait()
    if mode == "crash":
        raise RuntimeError("a bug in the integration")
    return bool(mode == "wrong_type")


class Provider:
    """A web search backend that misbehaves as ``provider_call`` says."""

    name = "misbehaving"

    async def search(self, query: str, max_results: int = 5) -> list[WebSearchResult]:
        if await behave("provider_call"):
            return WRONG  # type: ignore[return-value]  # the point: a broken contract
        return [WebSearchResult(title=query, url="https://example.org/")]


def build_tools() -> Any:
    """The entry's agent tool."""
    from pydantic_ai.toolsets import FunctionToolset

    async def fiddle(value: str) -> str:
        """Fiddle with a value."""
        await behave("tool")
        return f"fiddled {value}"

    return FunctionToolset([fiddle])


def build_more_tools() -> Any:
    """The entry's deferred toolset, built on the first run: fails as ``build`` says."""
    from pydantic_ai.toolsets import FunctionToolset

    mode = mode_of("build")
    if mode == "auth":
        raise ConfigEntryAuthFailed("the service refused the key")
    if mode == "not_ready":
        raise ConfigEntryNotReady("the service is starting")
    if mode == "crash":
        raise RuntimeError("a bug in the toolset build")
    if mode == "wrong_type":
        return WRONG

    async def twiddle(value: str) -> str:
        """Twiddle a value."""
        return f"twiddled {value}"

    return FunctionToolset([twiddle])


class Misbehaving(Integration):
    """Every hook the hub calls, each failing on demand."""

    async def async_setup_entry(self, ctx: SetupContext) -> list[Any]:
        if await behave("setup"):
            return WRONG  # type: ignore[return-value]
        ctx.runtime_data = {"setups": 1}
        more = deferred(build_more_tools, label="more tools")
        return [more] if mode_of("tools") == "deferred_only" else [build_tools(), more]

    def entity_types(self) -> dict[str, EntityStateTypeDescriptor]:
        return {"gadget": GADGET}

    async def async_sync_entities(self, ctx: SetupContext) -> EntityStateSyncResult | None:
        if await behave("sync"):
            return WRONG  # type: ignore[return-value]
        return EntityStateSyncResult(records=(gadget(),), full=False)

    async def async_call_action(
        self,
        ctx: SetupContext,
        *,
        entity_type: str,
        external_id: str,
        action: str,
        args: dict[str, Any],
        current: EntityStateRecord | None,
    ) -> EntityStateActionResult | None:
        if await behave("action"):
            return WRONG  # type: ignore[return-value]
        return EntityStateActionResult(records=(gadget("poked"),), message="Poked.")

    async def async_handle_webhook(
        self, ctx: SetupContext, payload: Any
    ) -> EntityStateSyncResult | None:
        if await behave("webhook", bad_input=WebhookPayloadError):
            return WRONG  # type: ignore[return-value]
        return EntityStateSyncResult(records=(gadget("pushed"),), full=False)

    def web_search_provider(self, ctx: SetupContext) -> Provider | None:
        mode = mode_of("provider")
        if mode == "auth":
            raise ConfigEntryAuthFailed("the service refused the key")
        if mode == "crash":
            raise RuntimeError("a bug in the provider factory")
        if mode == "wrong_type":
            return WRONG  # type: ignore[return-value]
        return Provider()


INTEGRATION = Misbehaving()
