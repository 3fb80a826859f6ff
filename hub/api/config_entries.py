"""Config entries over HTTP: list, read, delete, enable and disable; never a secret in a response."""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from hub.api.access import entry_for, principal_of
from hub.api.errors import request_language
from hub.api.request import read_json
from hub.api.state import CONFIG_ENTRIES, TRANSLATIONS
from hub.api.tool_review import pending_count
from hub.auth.principal import Principal
from hub.core.errors import BadRequestError
from hub.integrations.entry import ConfigEntry, may_manage, visible_entries
from hub.integrations.translations import FALLBACK_LANGUAGE, Translations, fill

MAX_TITLE: Final = 100
"""Characters an entry's title may have: it heads a card and names the entry everywhere."""


def public_entry(entry: ConfigEntry, translations: Translations, language: str) -> dict[str, Any]:
    """``entry.as_public()`` in ``language``: its health detail, and its title while it is still the
    integration's own English name (an entry set up without a form, never renamed)."""
    public = entry.as_public()
    english = translations.localizer(entry.domain, FALLBACK_LANGUAGE).get_own("title")
    if english is not None and entry.title == english:
        public["title"] = translations.title(entry.domain, language, entry.title)
    health = entry.health
    if health is not None and health.key is not None:
        template = translations.localizer(entry.domain, language).get(health.key)
        if template is not None:
            public["health"] = {**public["health"], "detail": fill(template, health.params)}
    return public


def entry_view(
    app: web.Application, principal: Principal, entry: ConfigEntry, language: str
) -> dict[str, Any]:
    """``public_entry`` and what ``principal`` may do with it (``can_manage``, the one rule the
    routes below enforce); REST and websocket answer with it."""
    public = public_entry(entry, app[TRANSLATIONS], language)
    public["can_manage"] = may_manage(entry, principal.person_id, is_admin=principal.is_admin)
    pending = pending_count(app[CONFIG_ENTRIES], entry.entry_id)
    if pending:
        public["tool_review"] = pending  # tools withheld until a person reviews their change
    return public


def _public(request: web.Request, entry: ConfigEntry) -> dict[str, Any]:
    return entry_view(request.app, principal_of(request), entry, request_language(request))


class EntryChanges(BaseModel):
    """``PATCH /api/config-entries/{entry_id}``."""

    model_config = ConfigDict(extra="forbid")

    title: str


async def change_entry(request: web.Request) -> web.Response:
    """Rename an entry (trimmed, 1 to ``MAX_TITLE`` characters); it is not set up again."""
    body = await read_json(request, EntryChanges)
    entry = entry_for(
        request.app, principal_of(request), request.match_info["entry_id"], manage=True
    )
    title = body.title.strip()
    if not title:
        raise BadRequestError("title: must not be empty", key="errors.entry_title_empty")
    if len(title) > MAX_TITLE:
        raise BadRequestError(
            f"title: at most {MAX_TITLE} characters",
            key="errors.entry_title_too_long",
            limit=MAX_TITLE,
        )
    updated = await request.app[CONFIG_ENTRIES].update(entry.entry_id, title=title, reload=False)
    return web.json_response(_public(request, updated))


async def list_entries(request: web.Request) -> web.Response:
    """Entries the caller may see, optionally of one ``?domain=``."""
    entries = request.app[CONFIG_ENTRIES].entries(request.query.get("domain") or None)
    visible = visible_entries(entries, principal_of(request).person_id)
    return web.json_response({"entries": [_public(request, entry) for entry in visible]})


async def get_entry(request: web.Request) -> web.Response:
    """One entry."""
    entry = entry_for(
        request.app, principal_of(request), request.match_info["entry_id"], manage=False
    )
    return web.json_response(_public(request, entry))


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
    return web.json_response(_public(request, entry))


async def enable_entry(request: web.Request) -> web.Response:
    """Set a disabled entry up again."""
    entry_id = entry_for(
        request.app, principal_of(request), request.match_info["entry_id"], manage=True
    ).entry_id
    entry = await request.app[CONFIG_ENTRIES].set_disabled(entry_id, False)
    return web.json_response(_public(request, entry))


def register(app: web.Application) -> None:
    """Add the config-entry routes."""
    app.router.add_get("/api/config-entries", list_entries)
    app.router.add_get("/api/config-entries/{entry_id}", get_entry)
    app.router.add_patch("/api/config-entries/{entry_id}", change_entry)
    app.router.add_delete("/api/config-entries/{entry_id}", delete_entry)
    app.router.add_post("/api/config-entries/{entry_id}/disable", disable_entry)
    app.router.add_post("/api/config-entries/{entry_id}/enable", enable_entry)
