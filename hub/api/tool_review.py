"""Tool changes to review over HTTP: an entry's withheld tools, old and new, and accepting them.

Any entry whose integration pins its tools (``Integration.tool_pins``) has a review: ``GET`` shows
each tool whose definition is not the pinned one, ``POST`` pins the ones a person accepts (stored
with the entry before they are offered again). An entry without pins has nothing to review.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.api.access import entry_for, principal_of
from hub.api.request import read_json
from hub.api.state import CONFIG_ENTRIES
from hub.core.errors import IntegrationError
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.runtime import Hook
from hub.integrations.tool_review import PINS_KEY, ToolPins

TOOL_PINS: Final = Hook("tool_pins", (ToolPins,))


class AcceptChanges(BaseModel):
    """``POST /api/config-entries/{entry_id}/tool-review``."""

    model_config = ConfigDict(extra="forbid")

    accept: list[str] = Field(min_length=1, max_length=1000)


def entry_pins(entries: ConfigEntries, entry_id: str) -> ToolPins | None:
    """The entry's pins while it is set up, if its integration keeps any."""
    runtime = entries.runtime(entry_id)
    if runtime is None or not runtime.loaded:
        return None
    try:
        pins = runtime.call_sync(TOOL_PINS)
    except IntegrationError:  # the runtime logged it; nothing to review then
        return None
    return pins if isinstance(pins, ToolPins) else None


def pending_count(entries: ConfigEntries, entry_id: str) -> int:
    """How many tool changes of the entry wait for review."""
    pins = entry_pins(entries, entry_id)
    return len(pins.changes) if pins is not None else 0


def _review(entry_id: str, pins: ToolPins | None) -> dict[str, Any]:
    changes = pins.changes if pins is not None else []
    return {"entry_id": entry_id, "changes": [change.to_json() for change in changes]}


async def get_review(request: web.Request) -> web.Response:
    """The entry's tool changes, old and new definitions side by side."""
    entry = entry_for(
        request.app, principal_of(request), request.match_info["entry_id"], manage=False
    )
    pins = entry_pins(request.app[CONFIG_ENTRIES], entry.entry_id)
    return web.json_response(_review(entry.entry_id, pins))


async def accept_changes(request: web.Request) -> web.Response:
    """Pin the accepted tools' new definitions; what is left to review."""
    principal = principal_of(request)
    entry = entry_for(request.app, principal, request.match_info["entry_id"], manage=True)
    body = await read_json(request, AcceptChanges)
    entries = request.app[CONFIG_ENTRIES]
    pins = entry_pins(entries, entry.entry_id)
    pending = {change.name for change in pins.changes} if pins is not None else set()
    names = [name for name in body.accept if name in pending]
    if pins is not None and names:
        data = {**entry.data, PINS_KEY: pins.accepted(names)}
        # On disk first: refused, the tools stay withheld as they were.
        await entries.update(entry.entry_id, data=data, reload=False)
        pins.accept(names)
    return web.json_response(_review(entry.entry_id, pins))


def register(app: web.Application) -> None:
    """Add the tool-review routes."""
    app.router.add_get("/api/config-entries/{entry_id}/tool-review", get_review)
    app.router.add_post("/api/config-entries/{entry_id}/tool-review", accept_changes)
