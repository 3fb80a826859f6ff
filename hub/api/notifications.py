"""Notifications over HTTP: the caller's own, listed, marked read and deleted.

Everything is the caller's: another person's notification is "not found", admins included.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.api.access import principal_of
from hub.api.request import read_json, read_query
from hub.api.state import NOTIFICATIONS
from hub.core.notifications import MAX_PAGE, MAX_PER_PERSON

MAX_ID: Final = 64


class ListQuery(BaseModel):
    """``GET /api/notifications``: ``unread=1`` for the unread only; ``before`` is a page's ``next``."""

    model_config = ConfigDict(extra="ignore")  # ``?language=`` rides along

    unread: bool = False
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    before: str | None = Field(default=None, pattern=r"^[0-9]{1,18}$")


class ReadBody(BaseModel):
    """``POST /api/notifications/read``: the ids to mark read; none given: every one."""

    model_config = ConfigDict(extra="forbid")

    ids: list[str] | None = Field(default=None, max_length=MAX_PER_PERSON)


async def list_notifications(request: web.Request) -> web.Response:
    """A page of the caller's notifications, newest first, and how many are unread."""
    person = principal_of(request).person_id
    query = read_query(request, ListQuery)
    page = await request.app[NOTIFICATIONS].list(
        person, unread_only=query.unread, limit=query.limit, before=query.before
    )
    return web.json_response(page)


async def mark_read(request: web.Request) -> web.Response:
    """Mark some (or all) of the caller's notifications read."""
    person = principal_of(request).person_id
    body = await read_json(request, ReadBody)
    ids = None if body.ids is None else [i for i in body.ids if 0 < len(i) <= MAX_ID]
    notifications = request.app[NOTIFICATIONS]
    marked = await notifications.mark_read(person, ids)
    return web.json_response({"marked": marked, "unread": await notifications.unread(person)})


async def delete_notification(request: web.Request) -> web.Response:
    """Delete one of the caller's notifications."""
    person = principal_of(request).person_id
    await request.app[NOTIFICATIONS].delete(person, request.match_info["notification_id"])
    return web.Response(status=204)


def register(app: web.Application) -> None:
    """Add the notifications routes."""
    app.router.add_get("/api/notifications", list_notifications)
    app.router.add_post("/api/notifications/read", mark_read)
    app.router.add_delete("/api/notifications/{notification_id}", delete_notification)
