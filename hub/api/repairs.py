"""Repairs over HTTP: what needs the caller's attention, and dismissing what is safe to ignore."""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from hub.api.access import entry_for, principal_of
from hub.api.errors import request_language
from hub.api.state import TRANSLATIONS
from hub.integrations.translations import fill
from hub.ops.repair_watchers import RepairWatchers
from hub.ops.repairs import RepairNotFoundError, Repairs

REPAIRS: Final = web.AppKey("repairs", Repairs)
REPAIR_WATCHERS: Final = web.AppKey("repair_watchers", RepairWatchers)
MAX_ID: Final = 300


def worded(request: web.Request, repairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each repair with its ``title`` and ``text`` in the request's language (the UI shows them as sent)."""
    localize = request.app[TRANSLATIONS].localizer(None, request_language(request))
    return [
        {
            **repair,
            "title": fill(localize(f"repairs.{repair['key']}.title"), repair.get("params") or {}),
            "text": fill(localize(f"repairs.{repair['key']}.text"), repair.get("params") or {}),
        }
        for repair in repairs
    ]


async def list_repairs(request: web.Request) -> web.Response:
    """The open repairs the caller may see, oldest first."""
    repairs = request.app[REPAIRS].visible(principal_of(request))
    return web.json_response({"repairs": worded(request, repairs)})


async def dismiss_repair(request: web.Request) -> web.Response:
    """Hide a dismissable repair until its issue clears; what is left for the caller."""
    principal = principal_of(request)
    issue_id = request.match_info["repair_id"]
    if len(issue_id) > MAX_ID:
        raise RepairNotFoundError(f"no repair {issue_id[:40]!r}…", key="errors.repair_not_found")
    repairs = request.app[REPAIRS]
    repair = repairs.get(issue_id)
    if repair is not None and repair.entry_id is not None:
        # Seeing a household entry's repair is everyone's; ignoring it for everyone, its managers'.
        entry_for(request.app, principal, repair.entry_id, manage=True)
    await repairs.dismiss(principal, issue_id)
    return web.json_response({"repairs": worded(request, repairs.visible(principal))})


def register(app: web.Application) -> None:
    """Add the repair routes."""
    app.router.add_get("/api/repairs", list_repairs)
    app.router.add_post("/api/repairs/{repair_id}/dismiss", dismiss_repair)
