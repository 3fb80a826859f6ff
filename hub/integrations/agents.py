"""Delegatable sub-agents that integrations contribute, stored in ``.storage/core.agents``.

Projected when an entry is set up (slug ``<domain>-<key>``, owned like its entry), removed with the
last entry of its domain in that scope. Read-only except ``enabled``, which survives re-projection.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any, Final

from hub.core.errors import AGENT_NOT_FOUND, ForbiddenError, NotFoundError, StorageError
from hub.core.storage import StorageManager, commit_item
from hub.integrations.capabilities import AgentDescriptor
from hub.integrations.entry import ConfigEntry, contribution_owner, drop_contributions
from hub.integrations.integration import Integration
from hub.integrations.surfaces import contributed_slug

_LOGGER = logging.getLogger(__name__)

AGENTS_KEY: Final = "core.agents"


class AgentNotFoundError(NotFoundError):
    """No sub-agent with that slug (or not one the caller may see)."""

    code = AGENT_NOT_FOUND


@dataclass(frozen=True, slots=True)
class DelegateAgent:
    """A stored sub-agent persona; ``owner`` ``None`` means everyone's."""

    slug: str
    key: str
    name: str
    description: str
    instructions: str
    tool_config: dict[str, Any]
    required_tools: tuple[str, ...]
    requires_surface: str | None
    owner: str | None
    source_domain: str
    enabled: bool
    updated_at: float

    def public(self) -> dict[str, Any]:
        """What a client sees."""
        data = asdict(self)
        data["required_tools"] = list(self.required_tools)
        return data


class Agents:
    """Every contributed sub-agent; people may only switch them on and off."""

    def __init__(self, storage: StorageManager) -> None:
        self._store = storage.store(AGENTS_KEY, 1)
        self._agents: dict[str, DelegateAgent] = {}

    async def load(self) -> None:
        """Read the stored agents."""
        data = await self._store.load()
        if data is not None:
            self._agents = {
                a["slug"]: DelegateAgent(**{**a, "required_tools": tuple(a["required_tools"])})
                for a in data["agents"]
            }

    def visible(self, person_id: str) -> list[DelegateAgent]:
        """Global agents and the person's own, by name."""
        found = [a for a in self._agents.values() if a.owner in (None, person_id)]
        return sorted(found, key=lambda a: (a.name.lower(), a.slug))

    def get(self, slug: str, person_id: str) -> DelegateAgent:
        """One agent the person may see."""
        agent = self._agents.get(slug)
        if agent is None or agent.owner not in (None, person_id):
            raise AgentNotFoundError(f"no sub-agent {slug!r}")
        return agent

    async def set_enabled(
        self, slug: str, enabled: bool, person_id: str, *, admin: bool
    ) -> DelegateAgent:
        """Switch an agent on or off; a global one needs an admin."""
        agent = self.get(slug, person_id)
        if agent.owner is None and not admin:
            raise ForbiddenError("only an admin may switch a global sub-agent")
        agent = replace(agent, enabled=enabled, updated_at=time.time())
        await commit_item(self._store, self._agents, slug, agent, self._snapshot)
        return agent

    async def forget_person(self, person_id: str) -> None:
        """Remove every agent contributed to a removed person."""
        kept = {slug: a for slug, a in self._agents.items() if a.owner != person_id}
        if len(kept) != len(self._agents):
            before, self._agents = self._agents, kept
            try:
                await self._store.commit(self._snapshot)
            except StorageError:
                self._agents = before
                raise

    async def project(self, entry: ConfigEntry, integration: Integration) -> None:
        """Upsert the agents an entry's integration contributes (after its setup)."""
        try:
            declared: dict[str, Any] = dict(integration.agents())  # checked one by one below
        except Exception:  # a broken declaration contributes nothing
            _LOGGER.exception("agents() of %s failed", entry.domain)
            return
        owner = contribution_owner(entry)
        changed = False
        for key, descriptor in declared.items():
            if not isinstance(descriptor, AgentDescriptor):
                _LOGGER.error("agents() of %s: %r is not an AgentDescriptor", entry.domain, key)
                continue
            slug = contributed_slug(entry.domain, key, owner)
            old = self._agents.get(slug)
            agent = DelegateAgent(
                slug=slug,
                key=key,
                name=descriptor.name,
                description=descriptor.description,
                instructions=descriptor.instructions,
                tool_config=dict(descriptor.tool_config),
                required_tools=tuple(descriptor.required_tools),
                requires_surface=descriptor.requires_surface,
                owner=owner,
                source_domain=entry.domain,
                enabled=old.enabled if old is not None else True,
                updated_at=time.time(),
            )
            if old is None or replace(old, updated_at=agent.updated_at) != agent:
                self._agents[slug] = agent
                changed = True
        if changed:
            await self._commit()

    async def withdraw(self, entry: ConfigEntry, remaining: Iterable[ConfigEntry]) -> None:
        """Remove an entry's agents unless another entry of its domain and scope holds them."""
        if drop_contributions(self._agents, entry, remaining):
            await self._commit()

    async def _commit(self) -> None:
        await self._store.commit(self._snapshot)

    def _snapshot(self) -> dict[str, Any]:
        return {"agents": [a.public() for a in self._agents.values()]}
