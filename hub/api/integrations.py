"""``GET /api/integrations``: the catalog with each integration's manifest and status."""

from __future__ import annotations

from aiohttp import web

from hub.api.state import CATALOG, REGISTRY
from hub.integrations.overview import overview


async def list_integrations(request: web.Request) -> web.Response:
    """Every integration the hub knows: loaded, failed (with the reason) and not found."""
    app = request.app
    return web.json_response(overview(app[REGISTRY], app[CATALOG].rows()))


def register(app: web.Application) -> None:
    """Add the integration routes."""
    app.router.add_get("/api/integrations", list_integrations)
