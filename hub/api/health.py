"""``GET /api/health``: unauthenticated liveness for HEALTHCHECKs, proxies and the start-up benchmark."""

from __future__ import annotations

import time

from aiohttp import web

from hub import __version__
from hub.api.state import DATABASE, STARTED_AT, STOPPING, STORAGE
from hub.core.disk import worst


async def health(request: web.Request) -> web.Response:
    """Answer status, version, uptime and whether writes reach the disk; 503 while shutting down."""
    # A full or read-only disk still answers 200: the hub serves reads, and a restart (what a
    # failing health check leads to) would not free space; ``storage`` says what is wrong.
    app = request.app
    stopping = app[STOPPING].is_set()
    body = {
        "status": "stopping" if stopping else "ok",
        "version": __version__,
        "uptime_seconds": round(time.monotonic() - app[STARTED_AT], 3),
        "storage": worst(app[STORAGE].health.state, app[DATABASE].health.state),
    }
    return web.json_response(body, status=503 if stopping else 200)
