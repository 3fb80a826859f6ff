"""The agent's world-memory tools: ``remember``, ``recall``, ``relate`` and ``forget``.

Built once and shared by every run; each call reads whose run it is (``ctx.deps.person_id``), its
model's tier (``ctx.deps.tier``, the ceiling of what ``recall`` returns, so a memory derived from an
entity never reaches a model below that entity's tier) and the chat it answers (the source of what
it remembers). A person's tools see their own memory and the household's, never another person's.
``recall`` only reads; the others persist what the model was told, so they ask like any acting tool
and the untrusted gate removes them (hub/agent/policy.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Protocol

from hub.agent.approvals import read_only
from hub.agent.deps import context_tool
from hub.core.errors import MEMORY_NODE_EXISTS, HubError

SOURCE: Final = "chat"
MAX_RENDERED: Final = 12_000
"""Characters of a recall the model gets; the rest is cut with a note (a node may hold many facts)."""

View = dict[str, Any]


class Memory(Protocol):
    """What the tools need of the world memory (``hub.memory.service.Memory``)."""

    def kinds(self) -> list[str]:
        """Every kind a node may have."""
        ...

    def predicates(self) -> list[View]:
        """Every predicate a relation may use."""
        ...

    async def resolve(
        self,
        person_id: str,
        subject: str,
        *,
        kind: str | None = None,
        create: bool = False,
        household: bool = False,
        max_tier: int = 2,
    ) -> View | None:
        """The visible node named or aliased ``subject``; with ``create``, made when missing."""
        ...

    async def recall(self, person_id: str, query: str, *, max_tier: int, limit: int = 20) -> View:
        """``{"nodes": [...], "facts": [...]}`` about ``query``."""
        ...

    async def add_fact(
        self,
        person_id: str,
        node_id: int,
        text: str,
        *,
        source: str = "person",
        source_ref: str | None = None,
        required_tier: int = 0,
        household: bool = False,
    ) -> View:
        """A fact about a node the person may see."""
        ...

    async def relate(
        self,
        person_id: str,
        subject_id: int,
        predicate: str,
        object_id: int,
        *,
        source: str = "person",
        source_ref: str | None = None,
        household: bool = False,
        max_tier: int = 2,
    ) -> View:
        """``subject predicate object``."""
        ...

    async def delete_fact(self, person_id: str, fact_id: int, *, max_tier: int = 2) -> None:
        """Delete a fact the person may see and change."""
        ...


def memory_toolset(memory: Memory) -> Any:
    """The four memory tools over ``memory``; each run's deps say whose memory and up to which tier."""
    from pydantic_ai.exceptions import ToolFailed
    from pydantic_ai.toolsets import FunctionToolset

    async def remember(ctx: Any, subject: str, fact: str, kind: str | None = None) -> str:
        """Remember a fact about someone or something, for later chats.

        The subject is found by its name or an alias, or created when new.

        Args:
            subject: Who or what the fact is about, by name (e.g. "Anna", "the garage").
            fact: The fact, as a short self-contained sentence.
            kind: The subject's kind when it is new: person, place, project, task, device,
                organization, event, topic or thing.
        """
        deps = ctx.deps
        kind = kind or None  # models send "" for "don't know"
        if kind is not None and kind not in memory.kinds():
            raise ToolFailed(
                f"Unknown kind {kind!r}. Use one of: {', '.join(memory.kinds())}, "
                "or leave it out. Nothing was remembered."
            )
        node = await _subject(memory, deps, subject, kind)
        added = await memory.add_fact(
            deps.person_id,
            node["id"],
            fact,
            source=SOURCE,
            source_ref=deps.conversation_id,
        )
        return f"Remembered fact {added['id']} about {_node_label(node)}."

    async def recall(ctx: Any, query: str) -> str:
        """Recall what is remembered: a subject's facts and relations, or facts matching words.

        Args:
            query: A name (e.g. "Anna") or words to look for in remembered facts.
        """
        deps = ctx.deps
        found = await memory.recall(deps.person_id, query, max_tier=deps.tier)
        return render_recall(query, found)

    async def relate(ctx: Any, subject: str, predicate: str, object: str) -> str:
        """Record how two subjects relate, e.g. "Anna" knows "Ben", "garage" part_of "house".

        Both are found by name or alias, or created when new. Some predicates chain
        (part_of, located_in, depends_on, is_a) and recall shows what follows from them.

        Args:
            subject: The first subject, by name.
            predicate: How they relate: one of the registered predicates (part_of, located_in,
                depends_on, is_a, related_to, knows, member_of, owns, or an integration's).
            object: The second subject, by name.
        """
        deps = ctx.deps
        known = memory.predicates()
        if predicate not in {p["key"] for p in known}:
            raise ToolFailed(
                f"Unknown predicate {predicate!r}. Use one of: {_listing(known)}. "
                "Nothing was recorded."
            )
        first = await _subject(memory, deps, subject, None)
        second = await _subject(memory, deps, object, None)
        made = await memory.relate(
            deps.person_id,
            first["id"],
            predicate,
            second["id"],
            source=SOURCE,
            source_ref=deps.conversation_id,
            max_tier=deps.tier,
        )
        return (
            f"Recorded relation {made['id']}: {_node_label(first)} {predicate} "
            f"{_node_label(second)}."
        )

    async def forget(ctx: Any, fact_id: int) -> str:
        """Forget one remembered fact for good.

        Args:
            fact_id: The fact's id, as recall shows it ("fact 12").
        """
        # At the run's tier: a fact the model cannot recall is "not found" to it here as well.
        await memory.delete_fact(ctx.deps.person_id, fact_id, max_tier=ctx.deps.tier)
        return f"Forgot fact {fact_id}."

    # recall only reads, so it runs without asking; the others change what is remembered.
    tools = [read_only(context_tool(recall))] + [
        context_tool(f) for f in (remember, relate, forget)
    ]
    return FunctionToolset(tools, id="memory")


async def _subject(memory: Memory, deps: Any, name: str, kind: str | None) -> dict[str, Any]:
    """The node called ``name`` the run may see (of ``kind`` first, then of any kind: the model
    may not know what kind a subject was filed under), made of ``kind`` (or "thing") if none."""
    person_id, tier = deps.person_id, deps.tier
    node = None
    if kind is not None:
        node = await memory.resolve(person_id, name, kind=kind, max_tier=tier)
    if node is None:
        node = await memory.resolve(person_id, name, max_tier=tier)
    if node is None:
        try:
            node = await memory.resolve(person_id, name, kind=kind, create=True, max_tier=tier)
        except HubError as err:
            if err.code != MEMORY_NODE_EXISTS:
                raise
            # A call of the same turn made it meanwhile.
            node = await memory.resolve(person_id, name, kind=kind, max_tier=tier)
    if node is None:  # the name is taken by a node above this model's tier
        raise ValueError(f"{name!r} cannot be used with this model; name the subject differently")
    return node


def render_recall(query: str, found: Mapping[str, Any]) -> str:
    """What ``recall`` tells the model: each node with its facts and relations, then loose facts."""
    lines: list[str] = []
    nodes = list(found.get("nodes") or [])
    for node in nodes:
        lines.append(_node_line(node))
        lines.extend(f"  - fact {f['id']}: {f['text']}" for f in node.get("facts") or [])
        lines.extend(f"  - {_relation_line(r)}" for r in node.get("relations") or [])
    shown = {f["id"] for node in nodes for f in node.get("facts") or []}
    loose = [f for f in found.get("facts") or [] if f["id"] not in shown]
    if loose:
        lines.append("Facts matching the words:")
        lines.extend(_fact_line(f) for f in loose)
    if not lines:
        return f"Nothing is remembered about {query!r}."
    text = "\n".join(lines)
    if len(text) > MAX_RENDERED:
        text = text[:MAX_RENDERED] + "\n[cut: ask about something narrower for the rest]"
    return text


def _node_label(node: Mapping[str, Any]) -> str:
    return f"{node['name']!r} ({node['kind']} {node['id']})"


def _node_line(node: Mapping[str, Any]) -> str:
    line = f"{node['kind']} {node['id']}: {node['name']}"
    aliases = node.get("aliases") or []
    if aliases:
        line += f" (also: {', '.join(aliases)})"
    if node.get("household"):
        line += " [household]"
    return line


def _relation_line(relation: Mapping[str, Any]) -> str:
    subject, obj = relation["subject"], relation["object"]
    line = f"{subject['name']} {relation['predicate']} {obj['name']}"
    return line + " (inferred)" if relation.get("inferred") else line


def _fact_line(fact: Mapping[str, Any]) -> str:
    node = fact.get("node") or {}
    about = f"{node['name']} ({node['kind']} {node['id']})" if node else f"node {fact['node_id']}"
    return f"- fact {fact['id']} about {about}: {fact['text']}"


def _listing(predicates: Iterable[Mapping[str, Any]]) -> str:
    def one(predicate: Mapping[str, Any]) -> str:
        flags = [
            flag
            for flag, on in (
                ("transitive", predicate.get("is_transitive")),
                ("symmetric", predicate.get("is_symmetric")),
            )
            if on
        ]
        return f"{predicate['key']} ({', '.join(flags)})" if flags else str(predicate["key"])

    return ", ".join(one(p) for p in sorted(predicates, key=lambda p: str(p["key"])))
