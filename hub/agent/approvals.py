"""Approval per tool: each person's rule for each tool, pending approvals, and every decision.

A tool is read-only when its definition's metadata says ``read_only: True``; otherwise it acts.
Without an explicit rule a read-only tool runs (``always``) and an acting one asks first (``ask``);
``never`` keeps the tool out of the person's runs. A pending approval waits for the person (the
chat card, the approvals page) until it is decided or expires; every decision is logged on the
audit logger and kept in ``hub.db``. Importable without pydantic-ai: the gate wrapper lives in
``hub.agent.approval_gate``, imported when a run assembles.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal, TypedDict, get_args

from hub.core.bus import EventBus, EventType
from hub.core.committed import CommittedItems
from hub.core.database import Database
from hub.core.errors import APPROVAL_ALREADY_DECIDED, APPROVAL_NOT_FOUND, HubError, NotFoundError
from hub.core.redact import SECRETS
from hub.core.storage import StorageManager

Rule = Literal["always", "ask", "never"]
Answer = Literal["once", "always", "deny"]
Outcome = Literal["once", "always", "deny", "timeout"]
"""What a decision says: a person's answer, or nobody's in time."""

RULES: Final[tuple[str, ...]] = get_args(Rule)
RULES_KEY: Final = "agent.approval_rules"
READ_ONLY: Final = "read_only"
GRANT_SECONDS: Final = 15 * 60.0
"""How long an MCP caller's "once" stays good for the one call it approved."""
MAX_DECISIONS: Final = 500
MAX_ARGS_CHARS: Final = 20_000
"""Arguments kept with a decision; a longer value is cut (the tool still gets all of it)."""

_AUDIT = logging.getLogger("hub.agent.audit")

APPROVAL_MIGRATIONS: Final[tuple[str, ...]] = (
    """
    CREATE TABLE approval_decisions (
        id TEXT PRIMARY KEY,
        person_id TEXT NOT NULL,
        tool TEXT NOT NULL,
        integration TEXT,
        entry_id TEXT,
        entry_title TEXT,
        args TEXT NOT NULL,
        read_only INTEGER NOT NULL,
        answer TEXT NOT NULL,
        decided_by TEXT,
        decided_at REAL NOT NULL,
        channel TEXT NOT NULL,
        conversation_id TEXT,
        requested_at REAL NOT NULL
    ) STRICT;
    CREATE INDEX approval_decisions_by_person ON approval_decisions (person_id, decided_at);
    """,
)
"""Appended after every other migration in ``app.py``; never edit a released one."""


_SELECT: Final = (
    "SELECT id, person_id, tool, integration, entry_id, entry_title, args, answer, decided_by, "
    "decided_at, channel, conversation_id FROM approval_decisions "
)
_NEWEST: Final = "ORDER BY decided_at DESC, rowid DESC LIMIT ?"


class ApprovalEventData(TypedDict):
    """``approval.requested`` / ``approval.decided``: only ``person_id``'s sockets receive it."""

    person_id: str
    approval: dict[str, Any]


EVENT_APPROVAL_REQUESTED: Final = EventType[ApprovalEventData]("approval.requested")
EVENT_APPROVAL_DECIDED: Final = EventType[ApprovalEventData]("approval.decided")


def is_read_only(tool_def: Any) -> bool:
    """Whether a tool definition (or a ``Tool``) declares itself read-only."""
    metadata = getattr(tool_def, "metadata", None)
    return isinstance(metadata, Mapping) and metadata.get(READ_ONLY) is True


def read_only(tool: Any) -> Any:
    """Mark a pydantic-ai ``Tool`` read-only (merged into its metadata); the tool."""
    tool.metadata = {**(tool.metadata or {}), READ_ONLY: True}
    return tool


def default_rule(*, read_only: bool) -> Rule:
    """What applies without an explicit rule."""
    return "always" if read_only else "ask"


class ApprovalNotFoundError(NotFoundError):
    """No pending approval with that id, or not the caller's."""

    code = APPROVAL_NOT_FOUND


class ApprovalAlreadyDecidedError(HubError):
    """The approval was decided, withdrawn or expired already."""

    code = APPROVAL_ALREADY_DECIDED
    http_status = 409


@dataclass(frozen=True, slots=True)
class Pending:
    """A tool call waiting for its person's answer."""

    id: str
    person_id: str
    tool: str
    integration: str | None
    entry_id: str | None
    entry_title: str | None
    args: dict[str, Any]
    read_only: bool
    channel: str
    conversation_id: str | None
    requested_at: float
    expires_at: float

    def public(self) -> dict[str, Any]:
        """What the person's client sees (known secrets redacted from the arguments)."""
        view = asdict(self)
        del view["person_id"]
        view["args"] = _shown(self.args)
        return view


@dataclass(frozen=True, slots=True)
class Decision:
    """How a pending approval ended: a person's answer, or ``timeout``."""

    id: str
    person_id: str
    tool: str
    integration: str | None
    entry_id: str | None
    entry_title: str | None
    args: dict[str, Any]
    answer: Outcome
    decided_by: str | None
    decided_at: float
    channel: str
    conversation_id: str | None = None

    @property
    def approved(self) -> bool:
        """Whether the tool may run."""
        return self.answer in ("once", "always")

    def public(self) -> dict[str, Any]:
        """What the person's client sees."""
        view = asdict(self)
        view["args"] = _shown(self.args)
        return view


@dataclass(frozen=True, slots=True)
class _Waiting:
    pending: Pending
    decided: asyncio.Future[Decision]


@dataclass(frozen=True, slots=True)
class _Grant:
    person_id: str
    tool: str
    args: str
    until: float


class Approvals:
    """One per hub: the rules, the pending approvals, their decisions and MCP grants."""

    def __init__(
        self,
        storage: StorageManager,
        database: Database,
        bus: EventBus,
        *,
        timeout: float,
    ) -> None:
        self._rules = CommittedItems[str, dict[str, Rule]](storage.store(RULES_KEY, 1), _encode)
        self._database = database
        self._bus = bus
        self.timeout = timeout
        """How long a pending approval waits (``agent.approval_timeout_seconds``)."""
        self._pending: dict[str, _Waiting] = {}
        self._grants: list[_Grant] = []

    async def load(self) -> None:
        """Read the stored rules."""
        data = await self._rules.store.load()
        if data is not None:
            self._rules.reset(
                {
                    pid: {tool: rule for tool, rule in rules.items() if rule in RULES}
                    for pid, rules in data["people"].items()
                }
            )

    # Rules

    def rule_for(self, person_id: str, tool: str, *, read_only: bool) -> Rule:
        """The person's explicit rule for the tool, else the default."""
        explicit = self.explicit(person_id).get(tool)
        return explicit if explicit is not None else default_rule(read_only=read_only)

    def explicit(self, person_id: str) -> Mapping[str, Rule]:
        """The rules a person set themselves."""
        return self._rules.value.get(person_id, {})

    async def set_rule(self, person_id: str, tool: str, rule: Rule | None) -> None:
        """Set a person's rule for a tool; ``None``: back to the default."""

        def change(current: dict[str, Rule] | None) -> dict[str, Rule] | None:
            rules = {k: v for k, v in (current or {}).items() if k != tool}
            if rule is not None:
                rules[tool] = rule
            return rules or None

        await self._rules.change_item(person_id, change)

    async def forget_person(self, person_id: str) -> None:
        """Drop a removed person's rules, pending approvals, grants and decisions.

        Their decisions go with their conversations (which hold the same calls); the audit log
        keeps its lines.
        """
        for waiting in [w for w in self._pending.values() if w.pending.person_id == person_id]:
            self._withdraw(waiting.pending.id)
        self._grants = [g for g in self._grants if g.person_id != person_id]
        if person_id in self._rules.value:
            await self._rules.set_item(person_id, None)

        def delete(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM approval_decisions WHERE person_id = ?", (person_id,))

        await self._database.run(delete)

    def gate(
        self,
        toolset: Any,
        person_id: str,
        *,
        source: Any = None,
        attribution: dict[str, Any] | None = None,
    ) -> Any:
        """A pydantic-ai wrapper: ``never`` tools are not offered, ``ask`` tools need approval.

        With ``attribution``, each tool the toolset lists is attributed to ``source`` unless it
        already is: the tools of a server are known only once it lists them.
        """
        from hub.agent.approval_gate import ApprovalGate  # pydantic-ai: only once a run assembles

        return ApprovalGate(
            toolset, approvals=self, person_id=person_id, source=source, attribution=attribution
        )

    # Pending approvals

    async def request(
        self,
        person_id: str,
        *,
        tool: str,
        args: Mapping[str, Any],
        source_domain: str | None,
        entry_id: str | None,
        entry_title: str | None,
        read_only: bool,
        channel: str,
        conversation_id: str | None,
    ) -> Pending:
        """Ask the person; the approval is pending until decided or ``self.timeout`` passes.

        A caller that cannot wait (``mcp``) and asks again for the same call gets the approval
        already pending, so a retrying client does not pile requests up in front of the person.
        """
        await self._expire()
        if channel == "mcp":
            key = _canonical(args)
            for waiting in self._pending.values():
                asked = waiting.pending
                if (asked.person_id, asked.tool, asked.channel) == (person_id, tool, channel) and (
                    _canonical(asked.args) == key
                ):
                    return asked
        now = time.time()
        pending = Pending(
            id=secrets.token_hex(8),
            person_id=person_id,
            tool=tool,
            integration=source_domain,
            entry_id=entry_id,
            entry_title=entry_title,
            args=dict(args),
            read_only=read_only,
            channel=channel,
            conversation_id=conversation_id,
            requested_at=now,
            expires_at=now + self.timeout,
        )
        self._pending[pending.id] = _Waiting(pending, asyncio.get_running_loop().create_future())
        self._bus.fire(
            EVENT_APPROVAL_REQUESTED,
            ApprovalEventData(person_id=person_id, approval=pending.public()),
        )
        return pending

    async def pending(self, person_id: str) -> list[Pending]:
        """The person's approvals still waiting, oldest first."""
        await self._expire()
        return [w.pending for w in self._pending.values() if w.pending.person_id == person_id]

    async def wait(self, approval_id: str, timeout: float) -> Decision:  # noqa: ASYNC109  # the person's time
        """The decision; a denial with ``timeout`` when nobody answered in time.

        Cancelled while waiting (the run stopped), the approval is withdrawn: nobody decided.
        """
        waiting = self._pending.get(approval_id)
        if waiting is None:
            raise ApprovalNotFoundError(f"no pending approval {approval_id}")
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(waiting.decided)
        except TimeoutError:
            if waiting.decided.done():  # answered as the time ran out
                return waiting.decided.result()
            return await self._settle(waiting, "timeout", None)
        except asyncio.CancelledError:
            if not waiting.decided.done():
                self._withdraw(approval_id)
            raise

    async def decide(self, approval_id: str, person_id: str, answer: Answer) -> Decision:
        """The person's answer; ``always`` also sets their rule for the tool to always."""
        await self._expire()
        waiting = self._pending.get(approval_id)
        if waiting is None:
            if await self._decided(approval_id, person_id):
                raise ApprovalAlreadyDecidedError(
                    f"approval {approval_id} was decided already or expired"
                )
            raise ApprovalNotFoundError(f"no pending approval {approval_id}")
        if waiting.pending.person_id != person_id:
            raise ApprovalNotFoundError(f"no pending approval {approval_id}")
        if waiting.decided.done():
            raise ApprovalAlreadyDecidedError(f"approval {approval_id} was decided already")
        if answer == "always":
            await self.set_rule(person_id, waiting.pending.tool, "always")
        return await self._settle(waiting, answer, person_id)

    def take_grant(self, person_id: str, tool: str, args: Mapping[str, Any]) -> bool:
        """Consume an MCP caller's "once" for this exact call, if one is still good."""
        now, key = time.time(), _canonical(args)
        self._grants = [g for g in self._grants if g.until > now]
        for grant in self._grants:
            if grant.person_id == person_id and grant.tool == tool and grant.args == key:
                self._grants.remove(grant)
                return True
        return False

    # Decisions

    async def decisions(self, person_id: str | None, limit: int = 100) -> list[Decision]:
        """The newest decisions first: the person's, or everyone's for ``None``."""
        await self._expire()
        limit = max(1, min(limit, MAX_DECISIONS))

        def read(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            if person_id is None:
                return conn.execute(_SELECT + _NEWEST, (limit,)).fetchall()
            return conn.execute(
                _SELECT + "WHERE person_id = ? " + _NEWEST, (person_id, limit)
            ).fetchall()

        return [_decision(row) for row in await self._database.run(read)]

    async def _decided(self, approval_id: str, person_id: str) -> bool:
        def read(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM approval_decisions WHERE id = ? AND person_id = ?",
                (approval_id, person_id),
            ).fetchone()
            return row is not None

        return await self._database.run(read)

    async def _settle(self, waiting: _Waiting, answer: Outcome, by: str | None) -> Decision:
        """Record the decision, then wake the waiter and tell the person's clients."""
        pending = waiting.pending
        decision = Decision(
            id=pending.id,
            person_id=pending.person_id,
            tool=pending.tool,
            integration=pending.integration,
            entry_id=pending.entry_id,
            entry_title=pending.entry_title,
            args=pending.args,
            answer=answer,
            decided_by=by,
            decided_at=time.time(),
            channel=pending.channel,
            conversation_id=pending.conversation_id,
        )
        # Settled before the write so a second answer meanwhile is refused, not recorded twice.
        waiting.decided.set_result(decision)
        self._pending.pop(pending.id, None)
        try:
            await self._record(decision, pending)
        finally:
            if answer == "once" and pending.channel == "mcp":
                until = time.time() + GRANT_SECONDS
                key = _canonical(pending.args)
                self._grants.append(_Grant(pending.person_id, pending.tool, key, until))
            _AUDIT.info(
                "approval=%s person=%s tool=%s integration=%s entry=%s answer=%s by=%s channel=%s",
                decision.id,
                decision.person_id,
                decision.tool,
                decision.integration or "hub",
                decision.entry_id or "-",
                answer,
                by or "-",
                decision.channel,
            )
            self._bus.fire(
                EVENT_APPROVAL_DECIDED,
                ApprovalEventData(person_id=pending.person_id, approval=_decided_event(decision)),
            )
        return decision

    async def _record(self, decision: Decision, pending: Pending) -> None:
        args = _stored(decision.args)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO approval_decisions (id, person_id, tool, integration, entry_id, "
                "entry_title, args, read_only, answer, decided_by, decided_at, channel, "
                "conversation_id, requested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    decision.id,
                    decision.person_id,
                    decision.tool,
                    decision.integration,
                    decision.entry_id,
                    decision.entry_title,
                    args,
                    int(pending.read_only),
                    decision.answer,
                    decision.decided_by,
                    decision.decided_at,
                    decision.channel,
                    decision.conversation_id,
                    pending.requested_at,
                ),
            )

        await self._database.run(write)

    async def _expire(self) -> None:
        """Settle as ``timeout`` the approvals past their time that no run waits on (MCP's)."""
        now = time.time()
        for waiting in [w for w in self._pending.values() if w.pending.expires_at <= now]:
            if not waiting.decided.done():
                await self._settle(waiting, "timeout", None)

    def _withdraw(self, approval_id: str) -> None:
        waiting = self._pending.pop(approval_id, None)
        if waiting is None:
            return
        if not waiting.decided.done():
            waiting.decided.cancel()
        pending = waiting.pending
        _AUDIT.info(
            "approval=%s person=%s tool=%s withdrawn (the run stopped)",
            pending.id,
            pending.person_id,
            pending.tool,
        )
        withdrawn = {
            "id": pending.id,
            "answer": "withdrawn",
            "decided_by": None,
            "tool": pending.tool,
        }
        self._bus.fire(
            EVENT_APPROVAL_DECIDED,
            ApprovalEventData(person_id=pending.person_id, approval=withdrawn),
        )


def _decided_event(decision: Decision) -> dict[str, Any]:
    return {
        "id": decision.id,
        "tool": decision.tool,
        "answer": decision.answer,
        "decided_by": decision.decided_by,
        "decided_at": decision.decided_at,
        "channel": decision.channel,
        "conversation_id": decision.conversation_id,
    }


def _canonical(args: Mapping[str, Any]) -> str:
    return json.dumps(args, sort_keys=True, separators=(",", ":"), default=str)


def _shown(args: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments as a person sees them: known secrets redacted, long values cut."""
    text = SECRETS.redact(json.dumps(args, ensure_ascii=False, default=str))
    if len(text) > MAX_ARGS_CHARS:
        return {"_truncated": text[:MAX_ARGS_CHARS]}
    try:
        shown = json.loads(text)
    except ValueError:  # a redaction cut through JSON syntax: show it as text
        return {"_text": text}
    return shown if isinstance(shown, dict) else {"_value": shown}


def _stored(args: Mapping[str, Any]) -> str:
    return json.dumps(_shown(args), ensure_ascii=False)


def _decision(row: tuple[Any, ...]) -> Decision:
    args = json.loads(row[6])
    return Decision(
        id=row[0],
        person_id=row[1],
        tool=row[2],
        integration=row[3],
        entry_id=row[4],
        entry_title=row[5],
        args=args if isinstance(args, dict) else {},
        answer=row[7],
        decided_by=row[8],
        decided_at=row[9],
        channel=row[10],
        conversation_id=row[11],
    )


def _encode(people: dict[str, dict[str, Rule]]) -> dict[str, Any]:
    return {"people": people}
