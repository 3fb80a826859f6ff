"""Approvals over HTTP: each person's rule per tool, their pending approvals, and the decisions.

Everything is the caller's own: another person's approval is "not found"; an admin may list
everyone's decisions with ``?all=1``.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.agent.approvals import Answer, Approvals, Rule, default_rule
from hub.api.access import principal_of, require_admin
from hub.api.request import read_json, read_query
from hub.api.state import APPROVALS, CHAT
from hub.core.errors import BadRequestError
from hub.integrations.manifest import Tier

MAX_TOOL_NAME: Final = 200


class RuleBody(BaseModel):
    """``PUT /api/approvals/rules/{tool}``: the rule, or ``null`` for the default."""

    model_config = ConfigDict(extra="forbid")

    rule: Rule | None


class AnswerBody(BaseModel):
    """``POST /api/approvals/{id}``: the person's answer."""

    model_config = ConfigDict(extra="forbid")

    answer: Answer


class DecisionsQuery(BaseModel):
    """``GET /api/approvals/decisions``: how many, and (admins) everyone's."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=100, ge=1, le=500)
    all: bool = False


class ToolsQuery(BaseModel):
    """``GET /api/approvals/tools``: the tools on ``model`` (the default model without it)."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = Field(default=None, max_length=200)


async def list_tools(request: web.Request) -> web.Response:
    """The caller's tools with their rules (built like a run, so it imports pydantic-ai)."""
    person = principal_of(request).person_id
    model = read_query(request, ToolsQuery).model
    return web.json_response({"tools": await _rows(request, person, model)})


async def put_rule(request: web.Request) -> web.Response:
    """Set the caller's rule for one tool; ``null`` puts the default back."""
    person = principal_of(request).person_id
    tool = _tool_name(request)
    body = await read_json(request, RuleBody)
    await request.app[APPROVALS].set_rule(person, tool, body.rule)
    rows = await _rows(request, person, None)
    row = next((r for r in rows if r["tool"] == tool), None)
    return web.json_response(row or _row(request.app[APPROVALS], person, tool, None))


async def list_pending(request: web.Request) -> web.Response:
    """The caller's approvals still waiting for an answer."""
    person = principal_of(request).person_id
    pending = await request.app[APPROVALS].pending(person)
    return web.json_response({"pending": [p.public() for p in pending]})


async def decide(request: web.Request) -> web.Response:
    """Answer one of the caller's pending approvals."""
    person = principal_of(request).person_id
    body = await read_json(request, AnswerBody)
    decision = await request.app[APPROVALS].decide(
        request.match_info["approval_id"], person, body.answer
    )
    return web.json_response({"decision": decision.public()})


async def list_decisions(request: web.Request) -> web.Response:
    """The caller's decisions, newest first (``all=1``: everyone's, for admins)."""
    principal = principal_of(request)
    query = read_query(request, DecisionsQuery)
    if query.all:
        require_admin(principal)
    whose = None if query.all else principal.person_id
    decisions = await request.app[APPROVALS].decisions(whose, query.limit)
    return web.json_response({"decisions": [d.public() for d in decisions]})


async def _rows(request: web.Request, person: str, model: str | None) -> list[dict[str, Any]]:
    from hub.agent.assembler import RunScope
    from hub.agent.models import NoModelError

    approvals = request.app[APPROVALS]
    chat = await request.app[CHAT].get()
    try:
        tier = chat.models.resolve(model).tier_level
    except NoModelError:
        tier = Tier.INTERNAL  # no model yet: every tool a later model may get, to set rules ahead
    # The first import of pydantic-ai takes a while on a Pi: off the event loop.
    await asyncio.to_thread(importlib.import_module, "pydantic_ai")
    from hub.agent.approval_gate import offered_tools

    scope = RunScope(
        person_id=person,
        tier=tier,
        allow_local_fetch=chat.preferences.of(person).allow_local_fetch,
    )
    assembly = chat.assembler.assemble(scope)
    toolsets = [item.toolset for item in assembly.toolsets]
    found = {t.name: t.read_only for t in await offered_tools(toolsets, assembly.deps)}
    if "delegate_to" in assembly.attribution:
        found.setdefault("delegate_to", True)
    rows = [_row(approvals, person, name, read_only, assembly) for name, read_only in found.items()]
    # A rule for a tool no run offers now (its integration is down or gone) can still be reset.
    rows += [
        _row(approvals, person, name, None)
        for name in approvals.explicit(person)
        if name not in found
    ]
    return rows


def _row(
    approvals: Approvals, person: str, tool: str, read_only: bool | None, assembly: Any = None
) -> dict[str, Any]:
    source = assembly.attribution.get(tool) if assembly is not None else None
    known = bool(read_only)
    explicit = approvals.explicit(person).get(tool)
    return {
        "tool": tool,
        "integration": source.domain if source else None,
        "entry_id": source.entry_id if source else None,
        "entry_title": source.entry_title if source else None,
        "read_only": known,
        "rule": approvals.rule_for(person, tool, read_only=known),
        "default": default_rule(read_only=known),
        "explicit": explicit is not None,
    }


def _tool_name(request: web.Request) -> str:
    tool = request.match_info["tool"]
    if not tool or len(tool) > MAX_TOOL_NAME or not tool.isprintable():
        raise BadRequestError(f"tool: a tool's name, at most {MAX_TOOL_NAME} characters")
    return tool


def register(app: web.Application) -> None:
    """Add the approvals routes."""
    app.router.add_get("/api/approvals/tools", list_tools)
    app.router.add_put("/api/approvals/rules/{tool}", put_rule)
    app.router.add_get("/api/approvals/pending", list_pending)
    app.router.add_get("/api/approvals/decisions", list_decisions)
    app.router.add_post("/api/approvals/{approval_id}", decide)
