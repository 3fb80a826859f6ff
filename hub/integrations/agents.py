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

from hub.core.committed import CommittedItems
from hub.core.errors import AGENT_NOT_FOUND, ForbiddenError, NotFoundError
from hub.core.storage import StorageManager
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
        self._state = CommittedItems[str, DelegateAgent](storage.store(AGENTS_KEY, 1), _encode)

    async def load(self) -> None:
        """Read the stored agents."""
        data = await self._state.store.load()
        if data is not None:
            self._state.reset(
                {
                    a["slug"]: DelegateAgent(**{**a, "required_tools": tuple(a["required_tools"])})
                    for a in data["agents"]
                }
            )

    @property
    def _agents(self) -> dict[str, DelegateAgent]:
        return self._state.value

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
        await self._state.set_item(slug, agent)
        return agent

    async def forget_person(self, person_id: str) -> None:
        """Remove every agent contributed to a removed person."""
        if any(a.owner == person_id for a in self._agents.values()):
            await self._state.change(
                lambda agents: {slug: a for slug, a in agents.items() if a.owner != person_id}
            )

    async def project(self, entry: ConfigEntry, integration: Integration) -> None:
        """Upsert the agents an entry's integration contributes (after its setup)."""
        try:
            declared: dict[str, Any] = dict(integration.agents())  # checked one by one below
        except Exception:  # a broken declaration contributes nothing
            _LOGGER.exception("agents() of %s failed", entry.domain)
            return
        owner = contribution_owner(entry)
        changed: dict[str, DelegateAgent] = {}
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
                changed[slug] = agent
        if changed:
            await self._state.change(lambda agents: {**agents, **changed})

    async def withdraw(self, entry: ConfigEntry, remaining: Iterable[ConfigEntry]) -> None:
        """Remove an entry's agents unless another entry of its domain and scope holds them."""
        kept = dict(self._agents)  # a fresh dict: the one served is never changed in place
        if drop_contributions(kept, entry, remaining):
            doomed = self._agents.keys() - kept.keys()
            await self._state.change(
                lambda agents: {s: a for s, a in agents.items() if s not in doomed}
            )


def _encode(agents: dict[str, DelegateAgent]) -> dict[str, Any]:
    return {"agents": [a.public() for a in agents.values()]}
