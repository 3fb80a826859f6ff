"""``GET /api/health``: unauthenticated liveness for HEALTHCHECKs, proxies and the start-up benchmark."""

from __future__ import annotations

import time

from aiohttp import web

from hub import __version__
from hub.api.state import STARTED_AT, STOPPING


async def health(request: web.Request) -> web.Response:
    """Answer status, version and uptime; 503 while shutting down."""
    app = request.app
    stopping = app[STOPPING].is_set()
    body = {
        "status": "stopping" if stopping else "ok",
        "version": __version__,
        "uptime_seconds": round(time.monotonic() - app[STARTED_AT], 3),
    }
    return web.json_response(body, status=503 if stopping else 200)
