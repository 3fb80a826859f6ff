"""Diagnostics over HTTP: an entry's (for whoever may manage it) and the hub's (admins), as downloads."""

from __future__ import annotations

import json
import re
from typing import Any, Final

from aiohttp import web

from hub.api.access import entry_for, principal_of, require_admin
from hub.ops.diagnostics import Diagnostics

DIAGNOSTICS: Final = web.AppKey("diagnostics", Diagnostics)
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_.-]+")


def _download(report: dict[str, Any], name: str) -> web.Response:
    """The report as a JSON file the browser saves rather than shows."""
    body = json.dumps(report, indent=2, ensure_ascii=False, default=str)
    filename = _UNSAFE.sub("_", name)[:120] + ".json"
    return web.Response(
        body=body.encode("utf-8", "surrogatepass"),
        content_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


async def entry_diagnostics(request: web.Request) -> web.Response:
    """One entry's diagnostics, for whoever may manage the entry."""
    entry = entry_for(
        request.app, principal_of(request), request.match_info["entry_id"], manage=True
    )
    report = await request.app[DIAGNOSTICS].entry(entry)
    return _download(report, f"diagnostics-{entry.domain}-{entry.entry_id}")


async def hub_diagnostics(request: web.Request) -> web.Response:
    """The hub's diagnostics, for admins."""
    require_admin(principal_of(request))
    return _download(await request.app[DIAGNOSTICS].hub(), "diagnostics-hub")


def register(app: web.Application) -> None:
    """Add the diagnostics routes."""
    app.router.add_get("/api/config-entries/{entry_id}/diagnostics", entry_diagnostics)
    app.router.add_get("/api/diagnostics", hub_diagnostics)
