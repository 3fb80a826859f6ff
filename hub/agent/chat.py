"""Chat runs: one pydantic-ai run per message, streamed as it happens, cancellable, always stored.

A run resolves the conversation's model (the tier gate's input), assembles the person's tools,
replays the conversation's earlier turns, and streams text deltas, tool calls and tool results to
whoever started it. A tool call that needs the person's approval pauses the run (and its clock)
until they answer in the chat or nobody does within ``agent.approval_timeout_seconds``. Whatever
happens (completed, cancelled, the model down or answering garbage) the turn is stored, so the
conversation is never lost; a failed turn carries its error.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from hub.agent.approvals import READ_ONLY, Approvals
from hub.agent.assembler import Assembly, RunScope, ToolsetAssembler
from hub.agent.conversations import Conversation, Conversations
from hub.agent.deps import RunDeps
from hub.agent.errors import describe
from hub.agent.models import ModelEndpoint, ModelRegistry
from hub.agent.preferences import Preferences
from hub.agent.skill_tools import skill_listing
from hub.config import AgentConfig
from hub.core.errors import RUN_IN_PROGRESS, BadRequestError, HubError
from hub.integrations.surfaces import SurfaceNotFoundError, Surfaces

if TYPE_CHECKING:
    from pydantic_ai.messages import ToolCallPart
    from pydantic_ai.models import Model
    from pydantic_ai.tools import (
        DeferredToolRequests,
        DeferredToolResults,
        ToolApproved,
        ToolDenied,
    )

_LOGGER = logging.getLogger(__name__)
_AUDIT = logging.getLogger("hub.agent.audit")

MAX_MESSAGE: Final = 20_000
INSTRUCTIONS: Final = (
    "You are the assistant of a self-hosted home hub. Answer concisely. Use the tools to look "
    "things up or act; never invent results. When a tool fails, say so and suggest what to do. "
    "Today is {today}."
)

Emit = Callable[[dict[str, Any]], None]
ModelFactory = Callable[[ModelEndpoint], "Model"]


class RunInProgressError(HubError):
    """The conversation is already answering a message."""

    code = RUN_IN_PROGRESS
    http_status = 409


@dataclass(slots=True)
class _Run:
    run_id: str
    person_id: str
    conversation: Conversation
    text: str
    endpoint: ModelEndpoint
    emit: Emit
    items: list[dict[str, Any]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    reply: list[str] = field(default_factory=list)
    deadline: asyncio.Timeout | None = None


class ChatService:
    """Starts, streams, cancels and stores chat runs."""

    def __init__(
        self,
        conversations: Conversations,
        models: ModelRegistry,
        assembler: ToolsetAssembler,
        preferences: Preferences,
        surfaces: Surfaces,
        config: AgentConfig,
        approvals: Approvals | None = None,
    ) -> None:
        self.approvals = approvals
        self.conversations = conversations
        self.models = models
        self.assembler = assembler
        self.preferences = preferences
        self._surfaces = surfaces
        self._config = config
        self._runs: dict[str, _Run] = {}
        self.model_factory: ModelFactory = models.build
        """How a model endpoint becomes a pydantic-ai model; tests put pydantic-ai's test models here."""

    def scope(
        self, person_id: str, endpoint: ModelEndpoint, conversation: Conversation
    ) -> RunScope:
        """The assembler's input for a run of this conversation on this model."""
        surface = None
        if conversation.surface is not None:
            try:
                surface = self._surfaces.get(conversation.surface, person_id)
            except SurfaceNotFoundError:
                surface = None  # the surface went with its integration; the chat goes on
        selection = conversation.integrations
        return RunScope(
            person_id=person_id,
            tier=endpoint.tier_level,
            selection=None if selection is None else frozenset(selection),
            surface=surface,
            allow_local_fetch=self.preferences.of(person_id).allow_local_fetch,
            conversation_id=conversation.id,
        )

    async def start(self, person_id: str, conversation_id: str, text: str, emit: Emit) -> str:
        """Begin answering ``text``; events go to ``emit`` until a ``done`` event. The run id."""
        text = text.strip()
        if not text:
            raise BadRequestError("text: write a message")
        if len(text) > MAX_MESSAGE:
            raise BadRequestError(f"text: at most {MAX_MESSAGE} characters")
        conversation = await self.conversations.get(conversation_id, person_id)
        if conversation.id in self._runs:
            raise RunInProgressError("this conversation is still answering; stop it or wait")
        endpoint = self.models.resolve(conversation.model)
        run = _Run(secrets.token_hex(8), person_id, conversation, text, endpoint, emit)
        run.items.append({"kind": "user", "text": text, "at": time.time()})
        self._runs[conversation.id] = run
        run.task = asyncio.get_running_loop().create_task(self._run(run), name="chat run")
        return run.run_id

    def running(self, conversation_id: str) -> bool:
        """Whether the conversation is answering now."""
        return conversation_id in self._runs

    def cancel(self, conversation_id: str, person_id: str) -> bool:
        """Stop the conversation's run; whether one was running."""
        run = self._runs.get(conversation_id)
        if run is None or run.person_id != person_id or run.task is None:
            return False
        return run.task.cancel()

    async def cancel_and_wait(self, conversation_id: str, person_id: str) -> None:
        """Stop the conversation's run, if any, and wait until its turn is stored."""
        run = self._runs.get(conversation_id)
        if self.cancel(conversation_id, person_id) and run is not None and run.task is not None:
            await asyncio.gather(run.task, return_exceptions=True)

    async def stop(self) -> None:
        """Cancel every run (shutdown) and wait for each to store its turn."""
        tasks = [run.task for run in self._runs.values() if run.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # The run

    async def _run(self, run: _Run) -> None:
        status, messages = "failed", None
        try:
            async with asyncio.timeout(self._config.run_timeout_seconds) as deadline:
                run.deadline = deadline
                messages = await self._drive(run)
            status = "completed"
        except asyncio.CancelledError:
            status = "cancelled"
        except Exception as err:  # every failure ends as an error in the chat, never a lost turn
            code, message = describe(err, run.endpoint, self._config)
            if code == "internal_error":
                _LOGGER.exception("Chat run %s failed (%s)", run.run_id, message)
            self._fail(run, code, message)
        finally:
            self._flush_text(run)
            try:
                await asyncio.shield(self._store(run, status, messages))
            except Exception:  # storing failed: the person still gets their answer and a log line
                _LOGGER.exception("Storing chat turn %s failed", run.run_id)
            self._runs.pop(run.conversation.id, None)
            run.emit({"kind": "done", "status": status, "run_id": run.run_id})

    async def _drive(self, run: _Run) -> bytes:
        # The first run imports pydantic-ai and the openai SDK: half a second on a Pi, kept off
        # the event loop so other requests go on being served meanwhile.
        await asyncio.to_thread(_preload)
        from pydantic_ai import Agent, UsageLimits
        from pydantic_ai.messages import ModelMessagesTypeAdapter

        from hub.agent.stream import StreamHandler
        from hub.agent.tool_errors import catching

        model = self.model_factory(run.endpoint)
        assembly = self.assembler.assemble(
            self.scope(run.person_id, run.endpoint, run.conversation)
        )
        self._audit_start(run, assembly)
        history = []
        for blob in await self.conversations.history(
            run.conversation.id, self._config.history_turns
        ):
            history.extend(ModelMessagesTypeAdapter.validate_json(blob))
        capabilities: list[Any] = []
        if self.approvals is not None:
            from pydantic_ai.capabilities import HandleDeferredToolCalls

            async def approve(ctx: Any, requests: DeferredToolRequests) -> DeferredToolResults:
                return await self._approve(run, assembly, requests)

            capabilities.append(HandleDeferredToolCalls(handler=approve))
        agent: Agent[RunDeps, str] = Agent(
            model,
            instructions=INSTRUCTIONS.format(today=time.strftime("%A, %Y-%m-%d"))
            + skill_listing(assembly.skills),
            toolsets=catching(assembly.for_model(model, capabilities)),
            capabilities=capabilities,
        )
        handler = StreamHandler(
            on_text=lambda delta: self._text(run, delta),
            on_call=lambda call: self._call(run, assembly, call),
            on_result=lambda result: self._result(run, result),
        )
        limit = self._config.max_tool_calls
        result = await agent.run(
            run.text,
            message_history=history,
            deps=assembly.deps,
            usage_limits=UsageLimits(request_limit=limit + 5, tool_calls_limit=limit),
            event_stream_handler=handler,
        )
        return result.new_messages_json()

    # Approvals

    async def _approve(
        self, run: _Run, assembly: Assembly, requests: DeferredToolRequests
    ) -> DeferredToolResults:
        """Ask the person about each call that needs it, with the run's clock paused meanwhile."""
        calls = requests.approvals
        remaining = self._pause(run)
        try:
            answers = await asyncio.gather(
                *(
                    self._ask(run, assembly, call, requests.metadata.get(call.tool_call_id) or {})
                    for call in calls
                )
            )
        finally:
            self._resume(run, remaining)
        answered = {call.tool_call_id: answer for call, answer in zip(calls, answers, strict=True)}
        return requests.build_results(approvals=answered)

    async def _ask(
        self, run: _Run, assembly: Assembly, call: ToolCallPart, metadata: dict[str, Any]
    ) -> ToolApproved | ToolDenied:
        from pydantic_ai.tools import ToolApproved, ToolDenied

        assert self.approvals is not None  # only asked with approvals wired
        self._flush_text(run)
        source = assembly.attribution.get(call.tool_name)
        pending = await self.approvals.request(
            run.person_id,
            tool=call.tool_name,
            args=call.args_as_dict(),
            source_domain=source.domain if source else None,
            entry_id=source.entry_id if source else None,
            entry_title=source.entry_title if source else None,
            read_only=metadata.get(READ_ONLY) is True,
            channel="chat",
            conversation_id=run.conversation.id,
        )
        shown = pending.public()
        asked = {
            "kind": "approval_request",
            "approval_id": pending.id,
            "call_id": call.tool_call_id,
            **{key: shown[key] for key in _ASKED},
        }
        run.items.append(asked)
        run.emit(asked)
        timeout = self._config.approval_timeout_seconds
        decision = await self.approvals.wait(pending.id, timeout)
        decided = {
            "kind": "approval_decided",
            "approval_id": pending.id,
            "call_id": call.tool_call_id,
            "answer": decision.answer,
            "decided_by": decision.decided_by,
        }
        run.items.append(decided)
        run.emit(decided)
        if decision.approved:
            return ToolApproved()
        if decision.answer == "timeout":
            return ToolDenied(
                f"No answer within {timeout:g} s: the person did not approve this call, "
                "so it did not run."
            )
        return ToolDenied("Denied by the person: this call did not run.")

    @staticmethod
    def _pause(run: _Run) -> float | None:
        """Stop the run's clock while a person decides; the seconds it had left."""
        if run.deadline is None or run.deadline.when() is None:
            return None
        loop = asyncio.get_running_loop()
        remaining = max(0.0, (run.deadline.when() or loop.time()) - loop.time())
        run.deadline.reschedule(None)
        return remaining

    @staticmethod
    def _resume(run: _Run, remaining: float | None) -> None:
        if run.deadline is not None and remaining is not None and not run.deadline.expired():
            run.deadline.reschedule(asyncio.get_running_loop().time() + remaining)

    # What the stream tells

    def _text(self, run: _Run, delta: str) -> None:
        if delta:
            run.reply.append(delta)
            run.emit({"kind": "text", "delta": delta})

    def _call(self, run: _Run, assembly: Assembly, call: dict[str, Any]) -> None:
        self._flush_text(run)
        source = assembly.attribution.get(call["tool"])
        item = {
            "kind": "tool_call",
            **call,
            "integration": source.domain if source else None,
            "entry_id": source.entry_id if source else None,
        }
        run.items.append(item)
        run.emit(item)
        _AUDIT.info(
            "person=%s conversation=%s tool=%s integration=%s entry=%s",
            run.person_id,
            run.conversation.id,
            call["tool"],
            item["integration"] or "hub",
            item["entry_id"] or "-",
        )

    def _result(self, run: _Run, result: dict[str, Any]) -> None:
        item = {"kind": "tool_result", **result}
        run.items.append(item)
        run.emit(item)

    def _fail(self, run: _Run, code: str, message: str) -> None:
        self._flush_text(run)
        item = {"kind": "error", "code": code, "message": message, "at": time.time()}
        run.items.append(item)
        run.emit(item)

    def _flush_text(self, run: _Run) -> None:
        if run.reply:
            run.items.append({"kind": "assistant", "text": "".join(run.reply), "at": time.time()})
            run.reply.clear()

    async def _store(self, run: _Run, status: str, messages: bytes | None) -> None:
        await self.conversations.add_turn(
            run.conversation.id,
            run.run_id,
            status,
            run.items,
            messages,
            title=run.text.splitlines()[0][:80],
        )

    def _audit_start(self, run: _Run, assembly: Assembly) -> None:
        _AUDIT.info(
            "person=%s conversation=%s run=%s model=%s tier=%s tools=%d skipped=%s untrusted=%s",
            run.person_id,
            run.conversation.id,
            run.run_id,
            run.endpoint.name,
            run.endpoint.tier,
            len(assembly.attribution),
            ",".join(f"{s.domain}:{s.entry_id}" for s in assembly.skipped) or "-",
            assembly.untrusted,
        )


_ASKED: Final = (
    "tool",
    "integration",
    "entry_id",
    "entry_title",
    "args",
    "read_only",
    "expires_at",
)
"""What an ``approval_request`` event carries of the pending approval."""


def _preload() -> None:
    import pydantic_ai
    import pydantic_ai.models.openai  # noqa: F401
