"""Config entries over HTTP: list, read, delete, enable and disable; never a secret in a response."""

from __future__ import annotations

from aiohttp import web

from hub.api.access import entry_for, principal_of
from hub.api.state import CONFIG_ENTRIES
from hub.integrations.entry import visible_entries


async def list_entries(request: web.Request) -> web.Response:
    """Entries the caller may see, optionally of one ``?domain=``."""
    entries = request.app[CONFIG_ENTRIES].entries(request.query.get("domain") or None)
    visible = visible_entries(entries, principal_of(request).person_id)
    return web.json_response({"entries": [entry.as_public() for entry in visible]})


async def get_entry(request: web.Request) -> web.Response:
    """One entry."""
    entry = entry_for(
        request.app, principal_of(request), request.match_info["entry_id"], manage=False
    )
    return web.json_response(entry.as_public())


async def delete_entry(request: web.Request) -> web.Response:
    """Unload and delete an entry; its secrets become unreadable for good."""
    entry_id = entry_for(
        request.app, principal_of(request), request.match_info["entry_id"], manage=True
    ).entry_id
    await request.app[CONFIG_ENTRIES].remove(entry_id)
    return web.json_response({"entry_id": entry_id, "removed": True})


async def disable_entry(request: web.Request) -> web.Response:
    """Unload an entry and keep it unloaded across restarts."""
    entry_id = entry_for(
        request.app, principal_of(request), request.match_info["entry_id"], manage=True
    ).entry_id
    entry = await request.app[CONFIG_ENTRIES].set_disabled(entry_id, True)
    return web.json_response(entry.as_public())


async def enable_entry(request: web.Request) -> web.Response:
    """Set a disabled entry up again."""
    entry_id = entry_for(
        request.app, principal_of(request), request.match_info["entry_id"], manage=True
    ).entry_id
    entry = await request.app[CONFIG_ENTRIES].set_disabled(entry_id, False)
    return web.json_response(entry.as_public())


def register(app: web.Application) -> None:
    """Add the config-entry routes."""
    app.router.add_get("/api/config-entries", list_entries)
    app.router.add_get("/api/config-entries/{entry_id}", get_entry)
    app.router.add_delete("/api/config-entries/{entry_id}", delete_entry)
    app.router.add_post("/api/config-entries/{entry_id}/disable", disable_entry)
    app.router.add_post("/api/config-entries/{entry_id}/enable", enable_entry)
