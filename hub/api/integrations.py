"""``GET /api/integrations``: the catalog with manifests and status; admins change its settings.

Each integration also comes as a person sees it: its title and description in their language
(the ``title`` and ``description`` of its translation files), its icon's address when it ships an
``icon.svg``, what its entries do (``features``), and the entries of it the caller can see.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Final, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from hub.api.access import principal_of, require_admin
from hub.api.errors import request_language
from hub.api.request import read_json
from hub.api.state import CATALOG, CONFIG_ENTRIES, REGISTRY, TRANSLATIONS
from hub.auth.principal import Principal
from hub.integrations.entry import ConfigEntry, visible_entries
from hub.integrations.features import features
from hub.integrations.overview import overview

ICON_FILE: Final = "icon.svg"
ICON_MAX_BYTES: Final = 64 * 1024
ICON_HEADERS: Final = {
    "Content-Type": "image/svg+xml",
    # Shown only through <img>, where an SVG runs nothing; opened on its own it still may not.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "public, max-age=3600",
}


class CatalogChanges(BaseModel):
    """``PATCH /api/integrations/{domain}``."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    allowed_scopes: list[Literal["user", "global"]] | None = None


async def list_integrations(request: web.Request) -> web.Response:
    """Every integration the hub knows: loaded, failed (with the reason) and not found."""
    principal = principal_of(request)
    await request.app[REGISTRY].load()  # what start-up did not import, off the loop, once
    return web.json_response(catalog_view(request.app, principal, request_language(request)))


def catalog_view(app: web.Application, principal: Principal, language: str) -> dict[str, Any]:
    """The catalog as ``principal`` sees it in ``language``; REST and websocket answer with it."""
    app[CATALOG].complete(app[REGISTRY])
    answer = overview(app[REGISTRY], app[CATALOG].rows())
    visible = visible_entries(app[CONFIG_ENTRIES].entries(), principal.person_id)
    for item in answer["integrations"]:
        item.update(_for_person(app, item, language, visible))
    return answer


def _for_person(
    app: web.Application, item: dict[str, Any], language: str, visible: list[ConfigEntry]
) -> dict[str, Any]:
    domain = item["domain"]
    translations = app[TRANSLATIONS]
    localize = translations.localizer(domain, language)
    loaded = app[REGISTRY].get(domain)
    return {
        "name": translations.title(domain, language, item["name"]),
        "description": localize.get_own("description"),
        "icon": f"/integration-icons/{domain}.svg" if _icon_path(app, domain) else None,
        "features": features(loaded.integration).to_json() if loaded is not None else None,
        "entries": [
            {"entry_id": entry.entry_id, "title": entry.title, "scope": entry.scope}
            for entry in visible
            if entry.domain == domain
        ],
    }


async def change_integration(request: web.Request) -> web.Response:
    """Enable or disable an integration, or choose its allowed scopes (admins only)."""
    require_admin(principal_of(request))
    body = await read_json(request, CatalogChanges)
    row = await request.app[CATALOG].set_admin(
        request.match_info["domain"], enabled=body.enabled, allowed_scopes=body.allowed_scopes
    )
    return web.json_response(row.to_json())


async def icon(request: web.Request) -> web.Response:
    """An integration's ``icon.svg``: public like the UI's own files, never run as a page."""
    path = _icon_path(request.app, request.match_info["domain"])
    if path is None:
        raise web.HTTPNotFound()
    return web.Response(body=await asyncio.to_thread(path.read_bytes), headers=ICON_HEADERS)


def _icon_path(app: web.Application, domain: str) -> Path | None:
    loaded = app[REGISTRY].get(domain)
    if loaded is None:
        return None
    path = loaded.path / ICON_FILE
    try:
        return path if path.is_file() and path.stat().st_size <= ICON_MAX_BYTES else None
    except OSError:
        return None


def register(app: web.Application) -> None:
    """Add the integration routes."""
    app.router.add_get("/api/integrations", list_integrations)
    app.router.add_patch("/api/integrations/{domain}", change_integration)
    app.router.add_get("/integration-icons/{domain}.svg", icon)
