"""The unified inbox over HTTP: threads across channels, one thread, read and archive marks."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from hub.api.access import principal_of, visible_entry_ids
from hub.api.request import read_json, read_query
from hub.api.state import COMMS, CONFIG_ENTRIES
from hub.comms.message import InboxMessage, MessageNotFoundError
from hub.comms.threads import InboxFilter
from hub.core.errors import BadRequestError


class InboxQuery(BaseModel):
    """``GET /api/inbox``: every filter optional; ``before`` is the ``next`` of the page before."""

    model_config = ConfigDict(extra="ignore")  # ``?language=`` rides along

    channel: str | None = Field(default=None, max_length=64)
    """An entry id or an integration's domain."""
    importance: Literal["high", "normal", "low"] | None = None
    unread: bool = False
    contact: int | None = None
    archived: bool = False
    before: str | None = Field(default=None, max_length=1_200)
    limit: int = Field(default=50, ge=1, le=200)

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any, info: ValidationInfo) -> Any:
        # A form with blank fields sends ``?importance=``: no filter, not a bad one.
        if value != "":
            return value
        assert info.field_name is not None
        return cls.model_fields[info.field_name].default


class ThreadQuery(BaseModel):
    """``GET /api/inbox/thread?key=``: thread keys hold any character, so they ride in the query."""

    model_config = ConfigDict(extra="ignore")

    key: str = Field(min_length=1, max_length=1_100)


class MarkBody(BaseModel):
    """``POST …/read`` and ``…/archive``: one of the two marks, on one message or a whole thread."""

    model_config = ConfigDict(extra="forbid")

    read: bool | None = None
    archived: bool | None = None
    key: str | None = Field(default=None, min_length=1, max_length=1_100)
    """The thread's key, for the thread routes."""


async def list_threads(request: web.Request) -> web.Response:
    """Threads across the caller's channels, newest first, filtered and paged."""
    query = read_query(request, InboxQuery)
    allowed = visible_entry_ids(request.app, principal_of(request))
    where = InboxFilter(
        importance=query.importance,
        unread=query.unread,
        contact_id=query.contact,
        archived=query.archived,
        **_channel(request, query.channel),
    )
    comms = request.app[COMMS]
    threads, cursor = await comms.inbox.threads(
        allowed, where, before=query.before, limit=query.limit
    )
    counts = await comms.inbox.counts(allowed)
    return web.json_response({"threads": threads, "next": cursor, "counts": counts})


async def get_thread(request: web.Request) -> web.Response:
    """One thread: its messages oldest first, and the drafts waiting in it."""
    key = read_query(request, ThreadQuery).key
    allowed = visible_entry_ids(request.app, principal_of(request))
    comms = request.app[COMMS]
    messages = await comms.inbox.thread(key, allowed)
    if not messages:
        raise MessageNotFoundError(f"no thread {key!r}")
    first = messages[0]
    principal = principal_of(request)
    drafts = await comms.thread_drafts(key, principal.person_id, is_admin=principal.is_admin)
    return web.json_response(
        {
            "thread_key": key,
            "entry_id": first.entry_id,
            "domain": first.domain,
            "subject": next((m.subject for m in messages if m.subject), ""),
            "messages": [message.to_json() for message in messages],
            "drafts": drafts,
        }
    )


async def get_message(request: web.Request) -> web.Response:
    """One message."""
    message = await _message(request)
    return web.json_response(message.to_json())


async def mark_message(request: web.Request) -> web.Response:
    """Mark one message read or unread, archived or not."""
    body = await read_json(request, MarkBody)
    _one_mark(body)
    message = await _message(request)
    await request.app[COMMS].inbox.mark([message.entity_id], read=body.read, archived=body.archived)
    return web.json_response((await _message(request)).to_json())


async def mark_thread(request: web.Request) -> web.Response:
    """Mark every message of a thread read or unread, archived or not."""
    body = await read_json(request, MarkBody)
    _one_mark(body)
    if body.key is None:
        raise BadRequestError("key: name the thread")
    allowed = visible_entry_ids(request.app, principal_of(request))
    inbox = request.app[COMMS].inbox
    messages = await inbox.thread(body.key, allowed)
    if not messages:
        raise MessageNotFoundError(f"no thread {body.key!r}")
    await inbox.mark(
        [message.entity_id for message in messages], read=body.read, archived=body.archived
    )
    return web.json_response({"thread_key": body.key, "marked": len(messages)})


def _one_mark(body: MarkBody) -> None:
    if (body.read is None) == (body.archived is None):
        raise BadRequestError("send either read or archived")


async def _message(request: web.Request) -> InboxMessage:
    raw = request.match_info["message_id"]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise BadRequestError(f"message id must be a whole number, not {raw!r}")
    message = await request.app[COMMS].inbox.get(int(raw))
    if message.entry_id not in visible_entry_ids(request.app, principal_of(request)):
        raise MessageNotFoundError(f"no message {raw}")
    return message


def _channel(request: web.Request, channel: str | None) -> dict[str, tuple[str, ...]]:
    if channel is None:
        return {}
    if request.app[CONFIG_ENTRIES].get(channel) is not None:
        return {"entry_ids": (channel,)}
    return {"domains": (channel,)}


def register(app: web.Application) -> None:
    """Add the inbox routes."""
    app.router.add_get("/api/inbox", list_threads)
    app.router.add_get("/api/inbox/thread", get_thread)
    app.router.add_post("/api/inbox/thread/mark", mark_thread)
    app.router.add_get("/api/inbox/messages/{message_id}", get_message)
    app.router.add_post("/api/inbox/messages/{message_id}/mark", mark_message)
