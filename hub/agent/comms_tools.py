"""The agent's drafting tools: a reply to an inbox message, or a new message on a channel.

Both only create drafts (author ``agent``); nothing here can send. A person approves a draft in the
inbox, and that approval is the hub's only path to a sender. A run sees only the messages and
channels of entries it may use (``ctx.deps.entry_ids``: the person's own and global entries its
model is cleared for), so a message of another entry is "not found", as for ``read_entity``.
"""

from __future__ import annotations

from typing import Any, Final, Protocol

from hub.agent.approvals import READ_ONLY
from hub.agent.deps import context_tool

AGENT: Final = "agent"
WAITING: Final = (
    "Draft {id} is saved and waits for the person's approval in the inbox; nothing was sent. "
    "Tell the person it is ready to review."
)


class DraftRef(Protocol):
    """What the tools read of a created draft."""

    @property
    def id(self) -> str:
        """The draft's id."""
        ...

    @property
    def to(self) -> str:
        """Its recipient."""
        ...

    @property
    def subject(self) -> str:
        """Its subject."""
        ...


class Drafting(Protocol):
    """What the tools need of the hub's drafts (``hub.comms.drafts.Drafts``)."""

    async def draft_reply(
        self, message_id: int, body: str, *, author: str, entry_ids: frozenset[str]
    ) -> DraftRef:
        """A reply draft to a message of one of ``entry_ids``."""
        ...

    async def draft_message(
        self,
        entry_id: str,
        to: str,
        subject: str,
        body: str,
        *,
        author: str,
        entry_ids: frozenset[str],
    ) -> DraftRef:
        """A new message draft on one of ``entry_ids``."""
        ...


def comms_toolset(drafts: Drafting) -> Any:
    """``draft_reply`` and ``draft_message``; each run's ``ctx.deps.entry_ids`` limits them."""
    from pydantic_ai.toolsets import FunctionToolset

    async def draft_reply(ctx: Any, message_id: int, body: str) -> dict[str, Any]:
        """Draft a reply to an inbox message; a person must approve it before it is sent.

        The reply goes to the message's sender, in its thread, with "Re:" before its subject.

        Args:
            message_id: The inbox message's id (the message entity's id).
            body: The reply's text, as it should be sent.
        """
        draft = await drafts.draft_reply(
            message_id, body, author=AGENT, entry_ids=ctx.deps.entry_ids
        )
        return _answer(draft)

    async def draft_message(
        ctx: Any, channel_entry_id: str, to: str, subject: str, body: str
    ) -> dict[str, Any]:
        """Draft a new message on a channel; a person must approve it before it is sent.

        Args:
            channel_entry_id: The config entry id of the account to send from (e.g. a mailbox).
            to: The recipient's address on that channel.
            subject: The subject (ignored by channels without one).
            body: The message's text, as it should be sent.
        """
        draft = await drafts.draft_message(
            channel_entry_id, to, subject, body, author=AGENT, entry_ids=ctx.deps.entry_ids
        )
        return _answer(draft)

    # Read-only for approvals: a draft sends nothing, and the person approves it in the inbox.
    tools = [context_tool(draft_reply), context_tool(draft_message)]
    return FunctionToolset(tools, id="comms", metadata={READ_ONLY: True})


def _answer(draft: DraftRef) -> dict[str, Any]:
    return {
        "draft_id": draft.id,
        "to": draft.to,
        "subject": draft.subject,
        "status": "awaiting_approval",
        "message": WAITING.format(id=draft.id),
    }
