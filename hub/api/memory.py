"""The world memory over HTTP: the caller's own nodes, facts and relations and the household's."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.api.access import principal_of
from hub.api.request import read_json, read_query
from hub.api.state import MEMORY
from hub.core.errors import BadRequestError, NotFoundError
from hub.memory.errors import (
    FactNotFoundError,
    NodeNotFoundError,
    NodeRequiredError,
    RelationNotFoundError,
)
from hub.memory.service import MAX_LIMIT, Memory

_MAX_ID = 18
"""Digits of an id at most (SQLite's integers are 64-bit)."""


class NodesQuery(BaseModel):
    """``GET /api/memory/nodes``: words to find, a kind, how many."""

    model_config = ConfigDict(extra="forbid")

    q: str = Field(default="", max_length=500)
    kind: str | None = Field(default=None, max_length=40)
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)


class NewNode(BaseModel):
    """``POST /api/memory/nodes``; ``household`` makes it everyone's."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(max_length=40)
    name: str = Field(max_length=1000)
    aliases: list[str] = Field(default_factory=list, max_length=100)
    household: bool = False


class NodeEdit(BaseModel):
    """``PATCH /api/memory/nodes/{id}``; ``aliases`` replaces the whole set."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=1000)
    aliases: list[str] | None = Field(default=None, max_length=100)


class NewFact(BaseModel):
    """``POST /api/memory/facts``: about a node by id, or by a subject found (or made) by name."""

    model_config = ConfigDict(extra="forbid")

    node_id: int | None = None
    subject: str | None = Field(default=None, max_length=1000)
    kind: str | None = Field(default=None, max_length=40)
    text: str = Field(max_length=10_000)
    household: bool = False


class FactEdit(BaseModel):
    """``PATCH /api/memory/facts/{id}``."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=10_000)


class NewRelation(BaseModel):
    """``POST /api/memory/relations``: ``subject predicate object``."""

    model_config = ConfigDict(extra="forbid")

    subject_id: int
    predicate: str = Field(max_length=200)
    object_id: int
    household: bool = False


def _memory(request: web.Request) -> Memory:
    return request.app[MEMORY]


def _id(request: web.Request, name: str, missing: type[NotFoundError]) -> int:
    """A path id; anything but a number is the same 404 as an id no one may see."""
    text = request.match_info[name]
    if not text.isdigit() or len(text) > _MAX_ID:
        raise missing(f"no such id {text[:40]!r}")
    return int(text)


async def list_nodes(request: web.Request) -> web.Response:
    """Nodes matching ``q`` by name, alias or fact (the latest changed without one)."""
    query = read_query(request, NodesQuery)
    found = await _memory(request).search(
        principal_of(request).person_id, query.q, kind=query.kind or None, limit=query.limit
    )
    return web.json_response({"nodes": found})


async def create_node(request: web.Request) -> web.Response:
    """A node; 201."""
    body = await read_json(request, NewNode)
    node = await _memory(request).create_node(
        principal_of(request).person_id,
        body.kind,
        body.name,
        aliases=body.aliases,
        household=body.household,
    )
    return web.json_response(node, status=201)


async def get_node(request: web.Request) -> web.Response:
    """A node with its facts, relations (inferred ones marked) and linked entities."""
    node_id = _id(request, "node_id", NodeNotFoundError)
    detail = await _memory(request).node(principal_of(request).person_id, node_id)
    return web.json_response(detail)


async def edit_node(request: web.Request) -> web.Response:
    """Rename a node or replace its aliases."""
    node_id = _id(request, "node_id", NodeNotFoundError)
    body = await read_json(request, NodeEdit)
    if body.name is None and body.aliases is None:
        raise BadRequestError("say what to change: name or aliases")
    node = await _memory(request).update_node(
        principal_of(request).person_id, node_id, name=body.name, aliases=body.aliases
    )
    return web.json_response(node)


async def delete_node(request: web.Request) -> web.Response:
    """Delete a node with its facts and relations (linked entities stay)."""
    node_id = _id(request, "node_id", NodeNotFoundError)
    await _memory(request).delete_node(principal_of(request).person_id, node_id)
    return web.json_response({"id": node_id, "deleted": True})


async def create_fact(request: web.Request) -> web.Response:
    """A fact about a node (by id, or by subject: found, or made when missing); 201."""
    body = await read_json(request, NewFact)
    memory, person_id = _memory(request), principal_of(request).person_id
    node_id = body.node_id
    if node_id is None:
        if not (body.subject or "").strip():
            raise NodeRequiredError("say what the fact is about: node_id or subject")
        node: dict[str, Any] | None = await memory.resolve(
            person_id,
            body.subject or "",
            kind=body.kind or None,
            create=True,
            household=body.household,
        )
        assert node is not None  # made when missing
        node_id = int(node["id"])
    fact = await memory.add_fact(person_id, node_id, body.text, household=body.household)
    return web.json_response(fact, status=201)


async def edit_fact(request: web.Request) -> web.Response:
    """Change a fact's text."""
    fact_id = _id(request, "fact_id", FactNotFoundError)
    body = await read_json(request, FactEdit)
    fact = await _memory(request).update_fact(principal_of(request).person_id, fact_id, body.text)
    return web.json_response(fact)


async def delete_fact(request: web.Request) -> web.Response:
    """Delete a fact."""
    fact_id = _id(request, "fact_id", FactNotFoundError)
    await _memory(request).delete_fact(principal_of(request).person_id, fact_id)
    return web.json_response({"id": fact_id, "deleted": True})


async def create_relation(request: web.Request) -> web.Response:
    """State ``subject predicate object``; 201."""
    body = await read_json(request, NewRelation)
    relation = await _memory(request).relate(
        principal_of(request).person_id,
        body.subject_id,
        body.predicate,
        body.object_id,
        household=body.household,
    )
    return web.json_response(relation, status=201)


async def delete_relation(request: web.Request) -> web.Response:
    """Delete a relation."""
    relation_id = _id(request, "relation_id", RelationNotFoundError)
    await _memory(request).delete_relation(principal_of(request).person_id, relation_id)
    return web.json_response({"id": relation_id, "deleted": True})


async def list_kinds(request: web.Request) -> web.Response:
    """The kinds a node may have."""
    principal_of(request)
    return web.json_response({"kinds": _memory(request).kinds()})


async def list_predicates(request: web.Request) -> web.Response:
    """The predicates a relation may use, with their inference flags."""
    principal_of(request)
    return web.json_response({"predicates": _memory(request).predicates()})


def register(app: web.Application) -> None:
    """Add the memory routes."""
    app.router.add_get("/api/memory/nodes", list_nodes)
    app.router.add_post("/api/memory/nodes", create_node)
    app.router.add_get("/api/memory/nodes/{node_id}", get_node)
    app.router.add_patch("/api/memory/nodes/{node_id}", edit_node)
    app.router.add_delete("/api/memory/nodes/{node_id}", delete_node)
    app.router.add_post("/api/memory/facts", create_fact)
    app.router.add_patch("/api/memory/facts/{fact_id}", edit_fact)
    app.router.add_delete("/api/memory/facts/{fact_id}", delete_fact)
    app.router.add_post("/api/memory/relations", create_relation)
    app.router.add_delete("/api/memory/relations/{relation_id}", delete_relation)
    app.router.add_get("/api/memory/kinds", list_kinds)
    app.router.add_get("/api/memory/predicates", list_predicates)
