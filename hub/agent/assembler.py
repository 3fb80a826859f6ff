"""Toolset assembly for one run, as the specification's assembler does it.

For a person and a model: the applicable entries (the person's own, then global ones) of enabled,
loaded integrations; the tier gate per entry (manifest ``required_tier`` or the admin's override on
the entry), fail-closed, for tools and capability providers alike; each entry's toolsets as its
``async_setup_entry`` returned them (built on first use when deferred, through the entry's
runtime, so a failed build means what any failed call does, and skipped); the chat's integration
selection; the ambient capability slots and the hub's own tools; then the untrusted gate over the
lot, and the person's approval gate over each toolset. Every tool name is attributed to its
integration and entry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub.agent.capabilities import (
    Providers,
    capability_toolset,
    for_slots,
    precedence,
    resolve_providers,
)
from hub.agent.comms_tools import comms_toolset
from hub.agent.delegation import RunToolset, delegation_toolset, offered
from hub.agent.deps import RunDeps
from hub.agent.governance import effective_required_tier, refusal, tier_ok
from hub.agent.hub_tools import HubServices, hub_toolset
from hub.agent.memory_tools import memory_toolset
from hub.agent.policy import GatedToolset, apply_untrusted_gate
from hub.agent.skill_tools import OfferedSkill, offered_skills, skill_toolset
from hub.core.errors import IntegrationError
from hub.integrations.agents import Agents, DelegateAgent
from hub.integrations.capabilities import MESSAGE_SENDER
from hub.integrations.catalog import IntegrationCatalog
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.entry import ConfigEntry, EntryState, owned_by, visible_to
from hub.integrations.integration import Integration
from hub.integrations.manifest import IntegrationManifest, Tier
from hub.integrations.registry import IntegrationRegistry
from hub.integrations.runtime import EntryRuntime
from hub.integrations.surfaces import Surface

if TYPE_CHECKING:
    from hub.agent.approvals import Approvals


@dataclass(frozen=True, slots=True)
class RunScope:
    """Who runs, on which model tier, with which integrations selected, in which surface."""

    person_id: str
    tier: Tier
    selection: frozenset[str] | None = None
    """Domains whose tools the chat uses; ``None`` for all."""
    surface: Surface | None = None
    allow_local_fetch: bool = False
    conversation_id: str | None = None
    """The chat the run answers, if any (the source of what the memory tools remember)."""


@dataclass(frozen=True, slots=True)
class ToolSource:
    """Where a tool of a run comes from, for the picker and for audit."""

    domain: str | None
    entry_id: str | None
    entry_title: str | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """An applicable entry that contributes nothing to this run, and why."""

    domain: str
    entry_id: str
    reason: str


@dataclass(slots=True)
class Assembly:
    """A run's tools after every gate."""

    toolsets: list[RunToolset]
    attribution: dict[str, ToolSource]
    providers: Providers
    agents: list[DelegateAgent]
    deps: RunDeps
    skipped: list[Skipped] = field(default_factory=list)
    untrusted: bool = False
    gate: Callable[[Any], Any] | None = None
    """The person's approval gate, for toolsets made per run (``delegate_to``)."""
    skills: list[OfferedSkill] = field(default_factory=list)
    """The skills the run offers: listed in its instructions, read through ``use_skill``."""

    def for_model(self, model: Any, capabilities: Sequence[Any] = ()) -> list[Any]:
        """The toolsets to hand the agent, ``delegate_to`` included when an agent is offered.

        ``capabilities`` go to a sub-agent's run too, so its approvals are asked like the parent's.
        """
        toolsets = [item.toolset for item in self.toolsets]
        if self.agents and "delegate_to" in self.attribution:
            delegation = delegation_toolset(self.agents, model, self.toolsets, capabilities)
            toolsets.append(delegation if self.gate is None else self.gate(delegation))
        return toolsets


@dataclass(frozen=True, slots=True)
class Candidate:
    """An applicable entry with its integration, and the tier gate's verdict."""

    entry: ConfigEntry
    integration: Integration
    manifest: IntegrationManifest
    refused: str | None


class ToolsetAssembler:
    """Builds each run's tools from the hub's entries, integrations and sub-agents."""

    def __init__(
        self,
        entries: ConfigEntries,
        registry: IntegrationRegistry,
        catalog: IntegrationCatalog,
        agents: Agents,
        services: HubServices,
        approvals: Approvals | None = None,
    ) -> None:
        self._approvals = approvals
        self._entries = entries
        self._registry = registry
        self._catalog = catalog
        self._agents = agents
        self._services = services
        self._toolsets: dict[str, Any] = {}
        self._wrapped: dict[int, tuple[Any, EntryRuntime, Any, list[str]]] = {}

    def entry_toolsets(self, entry_id: str) -> list[Any]:
        """What an entry's ``async_setup_entry`` returned (deferred ones not yet built)."""
        return self._entries.toolsets(entry_id)

    def built_toolsets(self, entry_id: str) -> tuple[list[Any], list[IntegrationError]]:
        """An entry's toolsets, deferred ones built through its runtime, and the builds that failed."""
        runtime = self._entries.runtime(entry_id)
        if runtime is None:
            return [], []
        built: list[Any] = []
        failed: list[IntegrationError] = []
        for returned in self._entries.toolsets(entry_id):
            try:
                built.append(runtime.build_toolset(returned))
            except IntegrationError as err:  # the runtime logged it
                failed.append(err)
        return built, failed

    def candidates(self, person_id: str, tier: Tier) -> list[Candidate]:
        """Applicable entries in precedence order: the person's own, then global; gate applied."""
        own: list[Candidate] = []
        shared: list[Candidate] = []
        for entry in self._entries.entries():
            if entry.disabled or not visible_to(entry, person_id):
                continue
            loaded = self._registry.get(entry.domain)
            row = self._catalog.get(entry.domain)
            if loaded is None or (row is not None and not row.enabled):
                continue
            required = effective_required_tier(loaded.manifest, entry)
            verdict = None if tier_ok(tier, required) else refusal(tier, required)
            candidate = Candidate(entry, loaded.integration, loaded.manifest, verdict)
            (own if owned_by(entry, person_id) else shared).append(candidate)
        return own + shared

    def assemble(self, scope: RunScope) -> Assembly:
        """Every gate applied; nothing here talks to the network or blocks."""
        candidates = self.candidates(scope.person_id, scope.tier)
        cleared = [c for c in candidates if c.refused is None]
        skipped = [
            Skipped(c.entry.domain, c.entry.entry_id, c.refused)
            for c in candidates
            if c.refused is not None
        ]
        gated: list[GatedToolset] = []
        sources: list[ToolSource] = []  # beside ``gated``: where each toolset came from
        taken: set[str] = set()
        selected_domains = {c.entry.domain for c in cleared}
        selected = (
            c for c in cleared if scope.selection is None or c.entry.domain in scope.selection
        )
        for candidate in selected:
            entry = candidate.entry
            if entry.state is not EntryState.LOADED:
                reason = f"not loaded ({entry.state}{': ' + entry.reason if entry.reason else ''})"
                skipped.append(Skipped(entry.domain, entry.entry_id, reason))
                continue
            source = ToolSource(entry.domain, entry.entry_id, entry.title)
            trusted = candidate.manifest.trust_tier == "trusted"
            runtime = self._entries.runtime(entry.entry_id)
            if runtime is None:  # unloaded since the state was read
                skipped.append(Skipped(entry.domain, entry.entry_id, "not loaded"))
                continue
            for returned in self._entries.toolsets(entry.entry_id):
                try:
                    toolset, names = self._guarded(runtime, returned)
                except IntegrationError as err:  # the runtime logged it; the run goes on
                    reason = f"its toolset failed to build: {err.reason}"
                    skipped.append(Skipped(entry.domain, entry.entry_id, reason))
                    continue
                if taken.intersection(names):
                    # A second entry of one integration offers the same names: tell them apart.
                    toolset = toolset.prefixed(_prefix(entry, taken))
                    names = tool_names(toolset)
                taken.update(names)
                gated.append(GatedToolset(toolset, trusted))
                sources.append(source)

        # Stable: entries of one integration keep their order, so the first configured wins.
        by_precedence = sorted(
            cleared,
            key=lambda c: precedence(
                owned_by(c.entry, scope.person_id), c.manifest.name, c.entry.domain
            ),
        )
        providers = resolve_providers(
            ((c.entry, c.integration) for c in by_precedence),
            self._entries.runtime,
            allow_local_fetch=scope.allow_local_fetch,
        )
        hub_source = ToolSource(None, None)
        builtin = [
            self._builtin("hub"),
            for_slots(self._builtin("capabilities"), providers.filled()),
        ]
        if self._services.drafting is not None and any(
            c.entry.state is EntryState.LOADED
            and MESSAGE_SENDER in c.manifest.provides
            and (scope.selection is None or c.entry.domain in scope.selection)
            for c in cleared
        ):
            # Drafting tools only where a channel of the run can send what a person approves.
            builtin.append(self._builtin("comms"))
        sandbox = self._services.sandbox
        compute = None
        if sandbox is not None:  # ambient, like the capability slots: the selection does not apply
            triples = ((c.entry, c.integration, c.manifest) for c in by_precedence)
            compute = sandbox.choose(triples, self._entries.runtime, scope.tier)
        if compute is not None:
            builtin.append(self._builtin("sandbox"))
        if self._services.memory is not None:  # reads at the run's tier, so for every model
            builtin.append(self._builtin("memory"))
        agents = offered(
            self._agents.visible(scope.person_id),
            domains=selected_domains,
            capabilities=providers.filled(),
            surface=scope.surface,
        )
        for toolset in builtin:
            gated.append(GatedToolset(toolset, True))
            sources.append(hub_source)

        trust = {c.entry.domain: c.manifest.trust_tier for c in cleared}
        untrusted_provider = any(trust.get(d) == "untrusted" for d in providers.sources.values())
        untrusted = untrusted_provider or not all(item.trusted for item in gated)
        final = apply_untrusted_gate(gated, untrusted_provider=untrusted_provider)
        attribution: dict[str, ToolSource] = {}
        for source, kept in zip(sources, final, strict=True):
            for name in tool_names(kept):
                attribution.setdefault(name, source)
        if agents and not untrusted:  # delegate_to is high-privilege: the gate keeps it out
            attribution["delegate_to"] = hub_source
        skills: list[OfferedSkill] = []
        if self._services.skills is not None:
            present = {*attribution, *providers.filled(), *(["compute"] if compute else [])}
            skills = offered_skills(
                self._services.skills.enabled_for(scope.person_id),
                present=present,
                domains=selected_domains,
            )
        if skills:  # per run: use_skill serves exactly the skills the instructions list
            final.append(skill_toolset(skills))
            sources.append(hub_source)
            attribution["use_skill"] = hub_source
        gate = None
        if self._approvals is not None:
            approvals, person_id = self._approvals, scope.person_id
            gate = lambda toolset: approvals.gate(toolset, person_id)  # noqa: E731
            # After the untrusted gate, on every path. A toolset whose tools are known only once
            # it lists them (an MCP server) has them attributed to its entry then.
            final = [
                approvals.gate(toolset, person_id, source=source, attribution=attribution)
                for toolset, source in zip(final, sources, strict=True)
            ]
        return Assembly(
            toolsets=[RunToolset(t, s.domain) for t, s in zip(final, sources, strict=True)],
            attribution=attribution,
            providers=providers,
            agents=agents,
            deps=RunDeps(
                frozenset(c.entry.entry_id for c in cleared),
                providers,
                compute,
                person_id=scope.person_id,
                tier=int(scope.tier),
                conversation_id=scope.conversation_id,
            ),
            skipped=skipped,
            untrusted=untrusted,
            gate=gate,
            skills=skills,
        )

    def _guarded(self, runtime: EntryRuntime, returned: Any) -> tuple[Any, list[str]]:
        """What setup returned, built, with every call going through the entry's runtime; and
        its tool names. Kept for the runtime's setup: each run would otherwise wrap it again."""
        key = id(returned)
        kept = self._wrapped.get(key)
        if kept is not None and kept[0] is returned and kept[1] is runtime:
            return kept[2], kept[3]
        from hub.agent.tool_errors import for_entry  # pydantic-ai: only once a run assembles

        toolset = for_entry(runtime.build_toolset(returned), runtime)  # a failed build: not kept
        names = tool_names(toolset)
        # Holding ``returned`` keeps its id from being reused while the entry is kept here; an
        # entry set up again returns new toolsets, and the old ones are dropped below.
        live = {id(t) for e in self._entries.entries() for t in self._entries.toolsets(e.entry_id)}
        self._wrapped = {k: v for k, v in self._wrapped.items() if k in live}
        self._wrapped[key] = (returned, runtime, toolset, names)
        return toolset, names

    def _builtin(self, name: str) -> Any:
        """The hub's own toolsets, built on first use and shared by every run (they read deps)."""
        toolset = self._toolsets.get(name)
        if toolset is None:
            if name == "comms" and self._services.drafting is not None:
                toolset = comms_toolset(self._services.drafting)
            elif name == "sandbox" and self._services.sandbox is not None:
                from hub.agent.sandbox.tool import sandbox_toolset  # only once a run may use it

                toolset = sandbox_toolset(self._services.sandbox)
            elif name == "memory" and self._services.memory is not None:
                toolset = memory_toolset(self._services.memory)
            else:
                toolset = hub_toolset(self._services) if name == "hub" else capability_toolset()
            self._toolsets[name] = toolset
        return toolset


def tool_names(toolset: Any) -> list[str]:
    """The tool names a toolset offers, read without a run (function, wrapped, filtered, combined)."""
    tools = getattr(toolset, "tools", None)
    if isinstance(tools, dict):
        return list(tools)
    prefix = getattr(toolset, "prefix", None)
    inner = getattr(toolset, "wrapped", None)
    if inner is not None:
        names = [n for n in tool_names(inner) if _passes(toolset, n)]
        return [f"{prefix}_{n}" for n in names] if isinstance(prefix, str) else names
    members = getattr(toolset, "toolsets", None)
    if isinstance(members, list | tuple):
        return [name for member in members for name in tool_names(member)]
    return []


@dataclass(frozen=True, slots=True)
class _NamedTool:
    name: str


def _passes(filtered: Any, name: str) -> bool:
    check = getattr(filtered, "filter_func", None)
    return True if check is None else bool(check(None, _NamedTool(name)))


def _prefix(entry: ConfigEntry, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", entry.title.lower()).strip("_")[:24] or "entry"
    prefix, n = base, 1
    while any(name.startswith(f"{prefix}_") for name in taken):
        n += 1
        prefix = f"{base}{n}"
    return prefix
