"""Triage rules over HTTP: ``GET/PUT /api/inbox/rules`` (``?scope=household``: the household's).

A person's rules apply to messages of their own channels; the household's to household channels.
Everyone may read the household's rules; only admins change them.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from hub.api.access import principal_of
from hub.api.request import read_json, read_query
from hub.api.state import COMMS
from hub.comms.rules import HOUSEHOLD, TriageRules
from hub.core.errors import ForbiddenError


class RulesQuery(BaseModel):
    """Whose rules: the caller's (``person``) or the household's."""

    model_config = ConfigDict(extra="ignore")

    scope: Literal["person", "household"] = "person"


def _key(request: web.Request, *, write: bool) -> tuple[str, str]:
    scope = read_query(request, RulesQuery).scope
    principal = principal_of(request)
    if scope == "person":
        return scope, principal.person_id
    if write and not principal.is_admin:
        raise ForbiddenError(
            "only an admin may change the household's triage rules",
            key="errors.rules_household_admin_only",
        )
    return scope, HOUSEHOLD


async def get_rules(request: web.Request) -> web.Response:
    """The rules in force (the defaults until saved)."""
    scope, key = _key(request, write=False)
    store = request.app[COMMS].rules
    await store.load()
    return web.json_response({"scope": scope, "rules": store.of(key).model_dump(mode="json")})


async def put_rules(request: web.Request) -> web.Response:
    """Replace the rules; a field left out takes its default."""
    scope, key = _key(request, write=True)
    rules = await read_json(request, TriageRules)
    saved = await request.app[COMMS].rules.put(key, rules)
    return web.json_response({"scope": scope, "rules": saved.model_dump(mode="json")})


def register(app: web.Application) -> None:
    """Add the triage-rules routes."""
    app.router.add_get("/api/inbox/rules", get_rules)
    app.router.add_put("/api/inbox/rules", put_rules)
