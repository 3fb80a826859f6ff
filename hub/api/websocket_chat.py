"""Chat over the websocket: ``chat/send`` answers with the run id, then streams the run's events
under the same message id until a ``done`` event; ``chat/cancel`` stops a run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from hub.api.state import CHAT
from hub.api.websocket_commands import Message, command, encode

if TYPE_CHECKING:
    from hub.api.websocket import Connection


class SendMessage(Message):
    """``chat/send``: a person's message to a conversation."""

    conversation_id: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=20_000)


class CancelRun(Message):
    """``chat/cancel``: stop the conversation's run."""

    conversation_id: str = Field(min_length=1, max_length=64)


@command("chat/send", SendMessage)
async def send(conn: Connection, msg: SendMessage) -> None:
    """Start a run; its events follow as ``{id, type: event, event}``."""
    msg_id = msg.id

    def emit(event: dict[str, Any]) -> None:
        # The run outlives a closed socket: it is stored, and the page shows it on return.
        if not conn.ws.closed:
            conn.send(encode({"id": msg_id, "type": "event", "event": event}))

    chat = await conn.app[CHAT].get()
    run_id = await chat.start(conn.principal.person_id, msg.conversation_id, msg.text, emit)
    conn.send_result(msg_id, {"run_id": run_id})


@command("chat/cancel", CancelRun)
def cancel(conn: Connection, msg: CancelRun) -> None:
    """Stop a run; its turn is stored as cancelled."""
    chat = conn.app[CHAT].built  # none built: nothing can be running
    cancelled = chat is not None and chat.cancel(msg.conversation_id, conn.principal.person_id)
    conn.send_result(msg.id, {"cancelled": cancelled})
