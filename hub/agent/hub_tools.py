"""The agent's built-in tools over the hub itself: search entities, read one, and control one.

Built once; they see only the entities of entries the run may use: the person's own and global entries of
enabled integrations whose tier the run's model is cleared for. Entities of a ``config`` or
``diagnostic`` type are internal, hidden from the agent's default view as the specification says:
each tool reaches them only when the model asks with ``include_internal``. ``control_entity`` acts
in the world, so it is high-privilege (the untrusted gate removes it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from hub.agent.approvals import read_only
from hub.agent.comms_tools import Drafting
from hub.agent.deps import context_tool
from hub.core.errors import BadRequestError
from hub.entities.actions import call_action
from hub.entities.history import History
from hub.entities.query import UNCATEGORISED
from hub.entities.service import EntityNotFoundError, EntityService
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.registry import IntegrationRegistry

if TYPE_CHECKING:
    from hub.agent.memory_tools import Memory
    from hub.agent.sandbox.service import SandboxService
    from hub.agent.skill_tools import SkillSource

MAX_RESULTS: Final = 25
MAX_HISTORY: Final = 200
MAX_ATTRIBUTE_CHARS: Final = 2_000


@dataclass(frozen=True, slots=True)
class HubServices:
    """What the built-in tools reach."""

    entities: EntityService
    history: History
    entries: ConfigEntries
    registry: IntegrationRegistry
    drafting: Drafting | None = None
    """The inbox's drafts, for ``draft_reply`` / ``draft_message``; ``None``: no such tools."""
    sandbox: SandboxService | None = None
    """Compute for ``run_in_sandbox``; ``None``: no such tool."""
    skills: SkillSource | None = None
    """The people's skills, for the run's skill list and ``use_skill``; ``None``: no skills."""
    memory: Memory | None = None
    """The world memory, for ``remember``, ``recall``, ``relate``, ``forget``; ``None``: none."""


def hub_toolset(services: HubServices) -> Any:
    """The built-in tools; each run's ``ctx.deps.entry_ids`` limits what they see."""
    from pydantic_ai.toolsets import FunctionToolset

    entities = services.entities

    async def visible(ctx: Any, entity_id: int, include_internal: bool) -> Any:
        row = await entities.get(entity_id)
        if row.entry_id not in ctx.deps.entry_ids:
            raise EntityNotFoundError(f"no entity {entity_id}")
        descriptor = entities.descriptor(row.domain, row.entity_type)
        category = descriptor.category if descriptor else None
        if category is not None and not include_internal:
            raise BadRequestError(
                f"entity {entity_id} is internal ({category}); "
                "use include_internal=true only when the person asked for such entities"
            )
        return row

    async def search_entities(
        ctx: Any, query: str, limit: int = 10, include_internal: bool = False
    ) -> list[dict[str, Any]]:
        """Full-text search over the hub's searchable entities (work packages, messages, ...).

        Returns each match's id, name, type, state and integration, best first.

        Args:
            query: Words to look for.
            limit: How many results, 1 to 25.
            include_internal: Also find internal (config and diagnostic) entities; only when asked.
        """
        found = await entities.search(
            query,
            entry_ids=ctx.deps.entry_ids,
            category=None if include_internal else UNCATEGORISED,
            limit=max(1, min(limit, MAX_RESULTS)),
        )
        return [_summary(entities.view(row)) for row, _rank in found]

    async def read_entity(
        ctx: Any, entity_id: int, history_hours: float = 24, include_internal: bool = False
    ) -> dict[str, Any]:
        """Read one entity: its state, attributes, the actions it offers, and recent state history.

        Args:
            entity_id: The entity's id (from search_entities).
            history_hours: How far back the state history goes (0 for none, at most 720).
            include_internal: Allow an internal (config or diagnostic) entity; only when asked.
        """
        row = await visible(ctx, entity_id, include_internal)
        view = entities.view(row)
        hours = max(0.0, min(history_hours, 720.0))
        changes: list[dict[str, Any]] = []
        if hours:
            rows = await services.history.query(
                entity_id, time.time() - hours * 3600, None, MAX_HISTORY
            )
            changes = [{"at": at, "state": state} for at, state in rows]
        return {**_detail(view), "history": changes}

    async def control_entity(
        ctx: Any,
        entity_id: int,
        action: str,
        args: dict[str, Any] | None = None,
        include_internal: bool = False,
    ) -> dict[str, Any]:
        """Run one of the actions an entity declares (read_entity lists them), e.g. turn_on.

        Args:
            entity_id: The entity's id.
            action: The action's name.
            args: The action's arguments, as read_entity describes them.
            include_internal: Allow an internal (config or diagnostic) entity; only when asked.
        """
        row = await visible(ctx, entity_id, include_internal)
        updated, message = await call_action(
            row,
            action,
            args or {},
            service=entities,
            entries=services.entries,
            registry=services.registry,
        )
        return {"entity": _summary(entities.view(updated)), "message": message}

    looking: list[Callable[..., Any]] = [search_entities, read_entity]
    # Reading runs without asking by default; control_entity acts, so it asks (approvals.py).
    tools = [read_only(context_tool(f)) for f in looking] + [context_tool(control_entity)]
    return FunctionToolset(tools, id="hub")


def _summary(view: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "name", "entity_type", "domain", "state", "unit", "category")
    return {key: view.get(key) for key in keys if view.get(key) is not None}


def _detail(view: dict[str, Any]) -> dict[str, Any]:
    detail = _summary(view)
    attributes = {
        key: value if len(str(value)) <= MAX_ATTRIBUTE_CHARS else str(value)[:MAX_ATTRIBUTE_CHARS]
        for key, value in (view.get("attributes") or {}).items()
    }
    detail["attributes"] = attributes
    detail["actions"] = view.get("actions") or []
    detail["updated_at"] = view.get("updated_at")
    return detail
