"""``GET /api/integrations``: the catalog with manifests and status; admins change its settings."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from hub.api.access import principal_of, require_admin
from hub.api.request import read_json
from hub.api.state import CATALOG, REGISTRY
from hub.integrations.overview import overview


class CatalogChanges(BaseModel):
    """``PATCH /api/integrations/{domain}``."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    allowed_scopes: list[Literal["user", "global"]] | None = None


async def list_integrations(request: web.Request) -> web.Response:
    """Every integration the hub knows: loaded, failed (with the reason) and not found."""
    app = request.app
    return web.json_response(overview(app[REGISTRY], app[CATALOG].rows()))


async def change_integration(request: web.Request) -> web.Response:
    """Enable or disable an integration, or choose its allowed scopes (admins only)."""
    require_admin(principal_of(request))
    body = await read_json(request, CatalogChanges)
    row = await request.app[CATALOG].set_admin(
        request.match_info["domain"], enabled=body.enabled, allowed_scopes=body.allowed_scopes
    )
    return web.json_response(row.to_json())


def register(app: web.Application) -> None:
    """Add the integration routes."""
    app.router.add_get("/api/integrations", list_integrations)
    app.router.add_patch("/api/integrations/{domain}", change_integration)
