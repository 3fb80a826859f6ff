"""The agent over HTTP: conversations, the integration picker, sub-agents, preferences, tier overrides."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.api.access import entry_for, principal_of, require_admin
from hub.api.config_entries import public_entry
from hub.api.errors import localize, request_language
from hub.api.request import read_json
from hub.api.state import AGENTS, CHAT, CONFIG_ENTRIES, SURFACES, TRANSLATIONS
from hub.core.errors import IntegrationError
from hub.integrations.manifest import tier_name

if TYPE_CHECKING:
    from hub.agent.chat import ChatService
    from hub.agent.conversations import Conversation

Domains = list[str] | None


class NewConversation(BaseModel):
    """``POST /api/conversations``."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=200)
    model: str | None = Field(default=None, max_length=64)
    integrations: Domains = Field(default=None, max_length=200)
    surface: str | None = Field(default=None, max_length=200)


class ConversationChanges(BaseModel):
    """``PATCH /api/conversations/{id}``."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=200)
    model: str | None = Field(default=None, max_length=64)
    integrations: Domains = Field(default=None, max_length=200)


class AgentChanges(BaseModel):
    """``PATCH /api/agents/{slug}``."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool


class PreferenceChanges(BaseModel):
    """``PATCH /api/agent/preferences``."""

    model_config = ConfigDict(extra="forbid")

    allow_local_fetch: bool


class TierOverride(BaseModel):
    """``POST /api/config-entries/{id}/required-tier``: ``null`` returns to the manifest's."""

    model_config = ConfigDict(extra="forbid")

    required_tier: Literal["unregulated", "regulated", "internal"] | None


# Conversations


async def list_conversations(request: web.Request) -> web.Response:
    """The caller's conversations, most recent first; ``?surface=`` for one surface's."""
    person = principal_of(request).person_id
    chat = await request.app[CHAT].get()
    found = await chat.conversations.of_person(person, surface=request.query.get("surface") or None)
    return web.json_response({"conversations": [_view(chat, c) for c in found]})


async def create_conversation(request: web.Request) -> web.Response:
    """A new conversation for the caller."""
    person = principal_of(request).person_id
    body = await read_json(request, NewConversation)
    chat = await request.app[CHAT].get()
    if body.model is not None:
        chat.models.get(body.model)
    if body.surface is not None:
        request.app[SURFACES].get(body.surface, person)
    conversation = await chat.conversations.create(
        person,
        title=body.title,
        model=body.model,
        integrations=body.integrations,
        surface=body.surface,
    )
    return web.json_response(_view(chat, conversation), status=201)


async def get_conversation(request: web.Request) -> web.Response:
    """One conversation with everything said in it."""
    person = principal_of(request).person_id
    chat = await request.app[CHAT].get()
    conversation = await chat.conversations.get(request.match_info["conversation_id"], person)
    items = await chat.conversations.items(conversation.id)
    return web.json_response({**_view(chat, conversation), "items": items})


async def change_conversation(request: web.Request) -> web.Response:
    """Rename, choose another model, or change the integration selection."""
    person = principal_of(request).person_id
    body = await read_json(request, ConversationChanges)
    changes = body.model_dump(exclude_unset=True)
    chat = await request.app[CHAT].get()
    if changes.get("model") is not None:
        chat.models.get(changes["model"])
    conversation = await chat.conversations.update(
        request.match_info["conversation_id"], person, changes
    )
    return web.json_response(_view(chat, conversation))


async def delete_conversation(request: web.Request) -> web.Response:
    """Delete a conversation (a run still going is stopped first)."""
    person = principal_of(request).person_id
    chat = await request.app[CHAT].get()
    conversation_id = request.match_info["conversation_id"]
    await chat.conversations.get(conversation_id, person)
    await chat.cancel_and_wait(conversation_id, person)
    await chat.conversations.delete(conversation_id, person)
    return web.Response(status=204)


# The picker


async def picker(request: web.Request) -> web.Response:
    """The integrations the caller's chat may use on ``?model=``, with their tools or why not.

    Listing tool names builds deferred toolsets, which imports pydantic-ai: the chat page asks
    for this, so the cost lands when a person opens it, not at start-up.
    """
    from hub.agent.models import NoModelError

    person = principal_of(request).person_id
    chat = await request.app[CHAT].get()
    try:
        endpoint = chat.models.resolve(request.query.get("model") or None)
    except NoModelError:
        return web.json_response({"model": None, "tier": None, "integrations": []})
    groups: dict[str, dict[str, Any]] = {}
    for candidate in chat.assembler.candidates(person, endpoint.tier_level):
        entry, manifest = candidate.entry, candidate.manifest
        if manifest.provides and not chat.assembler.entry_toolsets(entry.entry_id):
            continue  # a pure capability provider: its generic tool is offered instead
        group = groups.setdefault(
            entry.domain,
            {
                "domain": entry.domain,
                "name": manifest.name,
                "trust_tier": manifest.trust_tier,
                "required_tier": tier_name(manifest.required_tier),
                "available": True,
                "reason": None,
                "entries": [],
                "tools": [],
            },
        )
        group["entries"].append(
            {"entry_id": entry.entry_id, "title": entry.title, "scope": entry.scope}
        )
        if candidate.refused is not None:
            # reason_code lets the UI say it in the person's language; reason is the English.
            group.update(available=False, reason=candidate.refused, reason_code="tier_too_low")
            continue
        tools, failed = await _tools(chat, entry.entry_id)
        group["tools"].extend(tools)
        if failed and not group["tools"] and group["available"]:
            # Every build so far failed: say why, in the person's language (a later entry's
            # tools make the integration available again).
            group.update(
                available=False,
                reason=localize(failed[0], request.app[TRANSLATIONS], request_language(request)),
                reason_code=failed[0].code,
            )
        elif group["tools"] and group.get("reason_code") != "tier_too_low":
            group.update(available=True, reason=None)
            group.pop("reason_code", None)
    return web.json_response(
        {
            "model": endpoint.name,
            "tier": endpoint.tier,
            "integrations": sorted(groups.values(), key=lambda g: str(g["name"]).lower()),
        }
    )


async def _tools(
    chat: ChatService, entry_id: str
) -> tuple[list[dict[str, Any]], list[IntegrationError]]:
    from hub.agent.assembler import tool_names

    found: list[dict[str, Any]] = []
    # A build may import pydantic-ai or talk to its service: off the loop. The run skips a
    # failed one too; the runtime has logged it.
    toolsets, failed = await asyncio.to_thread(chat.assembler.built_toolsets, entry_id)
    for toolset in toolsets:
        tools = getattr(toolset, "tools", {})
        for name in tool_names(toolset):
            tool = tools.get(name) if isinstance(tools, dict) else None
            description = (getattr(tool, "description", None) or "").strip().split("\n")[0]
            found.append({"name": name, "description": description, "entry_id": entry_id})
    return found, failed


# Sub-agents, preferences, tier overrides


async def list_agents(request: web.Request) -> web.Response:
    """Sub-agents the caller may see."""
    person = principal_of(request).person_id
    return web.json_response({"agents": [a.public() for a in request.app[AGENTS].visible(person)]})


async def change_agent(request: web.Request) -> web.Response:
    """Switch a sub-agent on or off."""
    principal = principal_of(request)
    body = await read_json(request, AgentChanges)
    agent = await request.app[AGENTS].set_enabled(
        request.match_info["slug"], body.enabled, principal.person_id, admin=principal.is_admin
    )
    return web.json_response(agent.public())


async def get_preferences(request: web.Request) -> web.Response:
    """The caller's agent preferences."""
    person = principal_of(request).person_id
    return web.json_response((await request.app[CHAT].get()).preferences.of(person).public())


async def change_preferences(request: web.Request) -> web.Response:
    """Change the caller's agent preferences."""
    person = principal_of(request).person_id
    body = await read_json(request, PreferenceChanges)
    changed = await (await request.app[CHAT].get()).preferences.update(
        person, allow_local_fetch=body.allow_local_fetch
    )
    return web.json_response(changed.public())


async def set_required_tier(request: web.Request) -> web.Response:
    """An admin's override of the tier an entry's data needs (``null``: the manifest's)."""
    principal = principal_of(request)
    require_admin(principal)
    entry = entry_for(request.app, principal, request.match_info["entry_id"], manage=True)
    body = await read_json(request, TierOverride)
    changed = await request.app[CONFIG_ENTRIES].set_settings(
        entry.entry_id, required_tier=body.required_tier
    )
    return web.json_response(
        public_entry(changed, request.app[TRANSLATIONS], request_language(request))
    )


def _view(chat: ChatService, conversation: Conversation) -> dict[str, Any]:
    return {**conversation.public(), "running": chat.running(conversation.id)}


def register(app: web.Application) -> None:
    """Add the agent routes."""
    app.router.add_get("/api/conversations", list_conversations)
    app.router.add_post("/api/conversations", create_conversation)
    app.router.add_get("/api/conversations/{conversation_id}", get_conversation)
    app.router.add_patch("/api/conversations/{conversation_id}", change_conversation)
    app.router.add_delete("/api/conversations/{conversation_id}", delete_conversation)
    app.router.add_get("/api/agent/integrations", picker)
    app.router.add_get("/api/agent/preferences", get_preferences)
    app.router.add_patch("/api/agent/preferences", change_preferences)
    app.router.add_get("/api/agents", list_agents)
    app.router.add_patch("/api/agents/{slug}", change_agent)
    app.router.add_post("/api/config-entries/{entry_id}/required-tier", set_required_tier)
