"""The account's comms providers: a reader and a poll-drain listener over one buffer, and a sender.

``GET /v1/receive`` consumes the bridge's queue, so what one receive returned exists only here
until the hub has stored it. The buffer keeps it: a batch handed to the hub is dropped only when
the hub acknowledges it, which its ingest does once the batch is stored; a failed store gets the
same batch offered again.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Final

from hub.integrations.capabilities import (
    IncomingMessage,
    ListenerControls,
    MessageAttachment,
)
from hub.integrations.integration import ConfigEntryError

from .client import SignalClient, SignalConnectionError, SignalError
from .entities import GROUP_PREFIX, messages, thread_of

DEFAULT_BASE: Final = "http://127.0.0.1:8080"
"""Where signal-cli-rest-api listens when run as its README shows."""
POLL_SECONDS: Final = 1.0
"""Between two receives of the listener: a message reaches the inbox about this fast."""
TICK: Final = 0.1
"""How often ``should_run`` is looked at while waiting: a stop takes at most this long to notice."""
MAX_TEXT: Final = 8000
_OFF_LOOP: Final = 200
"""Envelopes read in a thread past this many, so a backlog never stalls the event loop."""
_NUMBER: Final = re.compile(r"^\+[1-9][0-9]{5,17}$")


class Mailbox:
    """What the bridge handed over and the hub has not yet stored, oldest first."""

    def __init__(self, client: SignalClient, number: str) -> None:
        self.client = client
        self.number = number
        self._pending: deque[IncomingMessage] = deque()
        self._handed = 0
        """How many at the front the last ``take`` handed out."""
        self._lock = asyncio.Lock()

    @property
    def pending(self) -> int:
        """Messages received and not yet stored by the hub."""
        return len(self._pending)

    async def fetch(self) -> int:
        """Receive from the bridge when nothing is waiting here; how many messages wait now."""
        async with self._lock:
            if not self._pending:
                await self._receive()
            return len(self._pending)

    async def take(self, limit: int) -> list[IncomingMessage]:
        """The next ``limit`` messages not yet acknowledged (the same ones again until they are)."""
        async with self._lock:
            if not self._pending:
                await self._receive()
            batch = list(itertools.islice(self._pending, max(limit, 0)))
            self._handed = len(batch)
            return batch

    async def acknowledge(self) -> None:
        """The hub stored the batch ``take`` handed out last: forget it."""
        async with self._lock:
            for _ in range(min(self._handed, len(self._pending))):
                self._pending.popleft()
            self._handed = 0

    async def _receive(self) -> None:
        try:
            envelopes = await self.client.receive(self.number)
        except SignalConnectionError:
            raise
        except SignalError as err:
            raise ConfigEntryError(f"the Signal bridge answered oddly: {err}") from None
        if len(envelopes) > _OFF_LOOP:
            self._pending.extend(await asyncio.to_thread(messages, envelopes, self.number))
        else:
            self._pending.extend(messages(envelopes, self.number))


class SignalReader:
    """``MessageReaderProvider``: the account's messages from the buffer (one folder, the account)."""

    def __init__(self, mailbox: Mailbox) -> None:
        self._mailbox = mailbox

    async def list_messages(self, folder: str | None, limit: int) -> list[IncomingMessage]:
        """Up to ``limit`` messages not yet stored, oldest first."""
        return await self._mailbox.take(limit)

    async def acknowledge(self) -> None:
        """The hub stored what ``list_messages`` returned last."""
        await self._mailbox.acknowledge()


class SignalListener:
    """``MessageListenerProvider``: receive every ``interval`` seconds; pull when something came.

    A bridge that cannot be reached makes ``listen`` raise, so the hub restarts it with a
    growing backoff; what waited on the bridge meanwhile comes with the first receive after.
    """

    def __init__(self, mailbox: Mailbox, *, interval: float = POLL_SECONDS) -> None:
        self._mailbox = mailbox
        self._interval = interval

    async def listen(self, controls: ListenerControls) -> None:
        """Poll until told to stop."""
        loop = asyncio.get_running_loop()
        while controls.should_run():
            started = loop.time()
            if await self._mailbox.fetch():
                await controls.sync_now()
            _heartbeat(controls)
            wake_at = started + self._interval
            # should_run is a question, not an event: look at it every tick.
            while controls.should_run() and (left := wake_at - loop.time()) > 0:  # noqa: ASYNC110
                await asyncio.sleep(min(TICK, left))


class SignalSender:
    """``MessageSenderProvider`` over ``POST /v2/send``; reached only for an approved draft.

    A reply to a group message goes to the group; anything else to ``to`` and ``cc``.
    """

    def __init__(self, client: SignalClient, number: str) -> None:
        self._client = client
        self._number = number

    async def send(
        self,
        to: str,
        subject: str,
        body: str,
        in_reply_to: str | None,
        cc: Sequence[str],
        attachments: Sequence[MessageAttachment],
    ) -> dict[str, Any]:
        """Send ``body`` (Signal has no subjects); the bridge's timestamp of the sent message."""
        thread = thread_of(in_reply_to) if in_reply_to else None
        if thread is not None and thread.startswith(GROUP_PREFIX):
            recipients = [thread]
        else:
            recipients = [_recipient(to), *(_recipient(other) for other in cc)]
        text = body.strip()
        if not text:
            raise ValueError("a Signal message needs text")
        if len(text) > MAX_TEXT:
            raise ValueError(f"a Signal message holds at most {MAX_TEXT} characters")
        if attachments:
            raise ValueError("attachments cannot be sent over Signal yet")
        try:
            timestamp = await self._client.send(self._number, recipients, text)
        except SignalConnectionError:
            raise
        except SignalError as err:
            raise ConfigEntryError(f"the Signal bridge refused the message: {err}") from None
        return {"timestamp": timestamp, "recipients": recipients}


def _recipient(value: str) -> str:
    value = value.strip().replace(" ", "")
    if _NUMBER.match(value) or value.startswith(GROUP_PREFIX):
        return value
    raise ValueError(
        "a Signal recipient is a number in international format, such as +4915112345678"
    )


def _heartbeat(controls: ListenerControls) -> None:
    # Optional in the protocol: a hub without a watchdog hands controls without it.
    beat: Callable[[], None] | None = getattr(controls, "heartbeat", None)
    if beat is not None:
        beat()
