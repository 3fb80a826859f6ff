"""``delegate_to``: hand a task to a contributed sub-agent persona, with its own instructions.

An agent is offered when it is enabled, the person may see it, its integration passes the run's
gates, every capability in ``required_tools`` is available in the run, and, if it
``requires_surface``, the chat is in that surface. The sub-agent runs on the same model with the
parent's tools (already through the untrusted gate), narrowed by its ``tool_config`` overlay:
``integrations`` (domains to keep), ``tools`` (names to keep) and ``exclude_tools``. It never gets
``delegate_to`` itself, so delegation cannot recurse.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Final

from hub.agent.approvals import READ_ONLY
from hub.integrations.agents import DelegateAgent
from hub.integrations.surfaces import Surface

MAX_TASK: Final = 20_000


@dataclass(frozen=True, slots=True)
class RunToolset:
    """A toolset of a run after the gates, and the integration it came from (``None``: the hub)."""

    toolset: Any
    domain: str | None


def offered(
    agents: Sequence[DelegateAgent],
    *,
    domains: Collection[str],
    capabilities: Collection[str],
    surface: Surface | None,
) -> list[DelegateAgent]:
    """The agents a run may delegate to."""
    return [
        agent
        for agent in agents
        if agent.enabled
        and agent.source_domain in domains
        and all(tool in capabilities for tool in agent.required_tools)
        and (agent.requires_surface is None or _in_surface(agent.requires_surface, surface))
    ]


def overlay(agent: DelegateAgent, toolsets: Sequence[RunToolset]) -> list[Any]:
    """The parent's toolsets narrowed by the agent's ``tool_config``."""
    config = agent.tool_config
    keep_domains = config.get("integrations")
    keep_tools = config.get("tools")
    drop_tools = set(config.get("exclude_tools") or ())
    chosen = [
        item.toolset
        for item in toolsets
        if item.domain is None or keep_domains is None or item.domain in keep_domains
    ]
    if keep_tools is None and not drop_tools:
        return chosen
    keep = None if keep_tools is None else set(keep_tools)

    def allowed(ctx: Any, tool_def: Any) -> bool:
        name = tool_def.name
        return name not in drop_tools and (keep is None or name in keep)

    return [toolset.filtered(allowed) for toolset in chosen]


def delegation_toolset(
    agents: Sequence[DelegateAgent],
    model: Any,
    toolsets: Sequence[RunToolset],
    capabilities: Sequence[Any] = (),
) -> Any:
    """The ``delegate_to`` tool for ``agents`` (which must not be empty).

    ``capabilities`` (the parent's approval handler) go to the sub-agent's run: its tools are the
    parent's, already through the person's approval gate, so a call there asks the same person.
    """
    from pydantic_ai import Agent
    from pydantic_ai.toolsets import FunctionToolset

    from hub.agent.deps import context_tool

    by_slug = {agent.slug: agent for agent in agents}

    async def delegate_to(ctx: Any, agent: str, task: str) -> str:
        persona = by_slug.get(agent)
        if persona is None:
            raise ValueError(f"no sub-agent {agent!r}; choose one of {', '.join(sorted(by_slug))}")
        sub: Agent[Any, str] = Agent(
            model,
            instructions=persona.instructions,
            toolsets=overlay(persona, toolsets),
            name=persona.slug,
            capabilities=list(capabilities),
        )
        result = await sub.run(task[:MAX_TASK], usage=ctx.usage, deps=ctx.deps)
        return result.output

    listing = "\n".join(f"- {a.slug}: {a.name}. {a.description}" for a in agents)
    description = (
        "Hand a self-contained task to a specialised sub-agent and get its answer back.\n"
        f"Sub-agents:\n{listing}\n\n"
        "agent: the sub-agent's id (before the colon above). "
        "task: everything it needs to know, since it does not see this conversation."
    )
    tool = context_tool(delegate_to)
    tool.description = description
    # Read-only: handing a task on acts on nothing; each tool the sub-agent calls is gated itself.
    return FunctionToolset([tool], id="delegation", metadata={READ_ONLY: True})


def _in_surface(required: str, surface: Surface | None) -> bool:
    if surface is None:
        return False
    # A person's own contributed surface carries their id after the specification's slug.
    return surface.slug == required or (
        surface.owner is not None and surface.slug == f"{required}-{surface.owner}"
    )
