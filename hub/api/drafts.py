"""Drafts over HTTP: write, read, edit, discard, and approve (the only way a message is sent)."""

from __future__ import annotations

from typing import Self

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.api.access import principal_of
from hub.api.request import read_json, read_query
from hub.api.state import COMMS
from hub.auth.principal import Principal
from hub.comms.draft_model import Draft, DraftChanges, DraftState
from hub.core.errors import BadRequestError

MAX_CC = 50


class NewDraft(BaseModel):
    """``POST /api/drafts``: a reply (``in_reply_to``) or a new message (``entry_id`` and ``to``)."""

    model_config = ConfigDict(extra="forbid")

    in_reply_to: int | None = None
    """The inbox message's id."""
    entry_id: str | None = Field(default=None, max_length=64)
    to: str | None = None
    subject: str | None = None
    body: str
    cc: list[str] = Field(default_factory=list, max_length=MAX_CC)

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.in_reply_to is None) == (self.entry_id is None):
            raise ValueError("give either in_reply_to, or entry_id and to")
        if self.entry_id is not None and self.to is None:
            raise ValueError("to: a new message needs a recipient")
        return self


class DraftEdit(BaseModel):
    """``PATCH /api/drafts/{id}``: the fields to change."""

    model_config = ConfigDict(extra="forbid")

    to: str | None = None
    cc: list[str] | None = Field(default=None, max_length=MAX_CC)
    subject: str | None = None
    body: str | None = None


class Approval(BaseModel):
    """``POST /api/drafts/{id}/approve``; ``confirm_resend`` after an interrupted send."""

    model_config = ConfigDict(extra="forbid")

    confirm_resend: bool = False


class DraftQuery(BaseModel):
    """``GET /api/drafts``."""

    model_config = ConfigDict(extra="ignore")

    state: DraftState | None = None
    entry_id: str | None = Field(default=None, max_length=64)
    thread_key: str | None = Field(default=None, max_length=1_100)
    limit: int = Field(default=100, ge=1, le=500)


def _view(request: web.Request, draft: Draft) -> dict[str, object]:
    principal = principal_of(request)
    return request.app[COMMS].drafts.view(draft, principal.person_id, is_admin=principal.is_admin)


def _author(principal: Principal) -> str:
    return principal.person_id


async def create_draft(request: web.Request) -> web.Response:
    """A draft by hand; 201 with the draft."""
    body = await read_json(request, NewDraft)
    principal = principal_of(request)
    drafts = request.app[COMMS].drafts
    if body.in_reply_to is not None:
        draft = await drafts.create_reply(
            body.in_reply_to,
            body.body,
            author=_author(principal),
            person_id=principal.person_id,
            subject=body.subject,
            to=body.to,
            cc=body.cc,
        )
    else:
        assert body.entry_id is not None  # the model checked both
        assert body.to is not None
        draft = await drafts.create_message(
            body.entry_id,
            body.to,
            body.subject or "",
            body.body,
            author=_author(principal),
            person_id=principal.person_id,
            cc=body.cc,
        )
    return web.json_response(_view(request, draft), status=201)


async def list_drafts(request: web.Request) -> web.Response:
    """Drafts of the channels the caller may see, newest first."""
    query = read_query(request, DraftQuery)
    found = await request.app[COMMS].drafts.find(
        principal_of(request).person_id,
        state=query.state,
        entry_id=query.entry_id,
        thread_key=query.thread_key,
        limit=query.limit,
    )
    return web.json_response({"drafts": [_view(request, draft) for draft in found]})


async def get_draft(request: web.Request) -> web.Response:
    """One draft."""
    draft = await request.app[COMMS].drafts.get(
        request.match_info["draft_id"], principal_of(request).person_id
    )
    return web.json_response(_view(request, draft))


async def edit_draft(request: web.Request) -> web.Response:
    """Change a draft that is not being sent or sent."""
    body = await read_json(request, DraftEdit)
    if body.model_dump(exclude_none=True) == {}:
        raise BadRequestError("say what to change: to, cc, subject or body")
    draft = await request.app[COMMS].drafts.edit(
        request.match_info["draft_id"],
        principal_of(request).person_id,
        DraftChanges(to=body.to, cc=body.cc, subject=body.subject, body=body.body),
    )
    return web.json_response(_view(request, draft))


async def discard_draft(request: web.Request) -> web.Response:
    """Delete a draft (never one being sent)."""
    draft_id = request.match_info["draft_id"]
    await request.app[COMMS].drafts.discard(draft_id, principal_of(request).person_id)
    return web.json_response({"id": draft_id, "discarded": True})


async def approve_draft(request: web.Request) -> web.Response:
    """Send the draft, once: the draft as it ends, ``sent`` or ``failed`` with the reason."""
    body = await read_json(request, Approval)
    principal = principal_of(request)
    draft = await request.app[COMMS].drafts.approve(
        request.match_info["draft_id"],
        principal.person_id,
        is_admin=principal.is_admin,
        confirm_resend=body.confirm_resend,
    )
    return web.json_response(_view(request, draft))


def register(app: web.Application) -> None:
    """Add the draft routes."""
    app.router.add_get("/api/drafts", list_drafts)
    app.router.add_post("/api/drafts", create_draft)
    app.router.add_get("/api/drafts/{draft_id}", get_draft)
    app.router.add_patch("/api/drafts/{draft_id}", edit_draft)
    app.router.add_delete("/api/drafts/{draft_id}", discard_draft)
    app.router.add_post("/api/drafts/{draft_id}/approve", approve_draft)
