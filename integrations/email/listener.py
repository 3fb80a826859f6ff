"""Watches an IMAP inbox with IDLE (or NOOP polls) and asks the hub to pull when mail arrives."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

from hub.integrations.capabilities import ListenerControls

from .imap import ImapClient, ImapConnectionError
from .imap_wire import Response
from .reader import INBOX
from .tls import ServerSettings

IDLE_SECONDS: Final = 25 * 60.0
"""Re-issue IDLE before servers' 30-minute cut-off (RFC 2177)."""
POLL_SECONDS: Final = 30.0
"""Between two NOOPs on a server without IDLE."""
TICK: Final = 0.25
"""How often ``should_run`` is looked at while waiting: a stop takes at most this long to notice."""
FAREWELL: Final = 0.3
"""Seconds given to DONE and LOGOUT when stopping, so that stopping stays prompt."""


class EmailListener:
    """A ``MessageListenerProvider`` for one IMAP account's inbox."""

    def __init__(
        self,
        settings: ServerSettings,
        *,
        idle_seconds: float = IDLE_SECONDS,
        poll_seconds: float = POLL_SECONDS,
        timeout: float = 30.0,
    ) -> None:
        self._settings = settings
        self._idle_seconds = idle_seconds
        self._poll_seconds = poll_seconds
        self._timeout = timeout

    async def listen(self, controls: ListenerControls) -> None:
        """Catch up, then wait for news until told to stop; raise when the connection fails."""
        client = ImapClient(self._settings, timeout=self._timeout)
        try:
            await client.connect()
            await client.login()
            mailbox = await client.select(INBOX, readonly=True)
            _heartbeat(controls)
            await controls.sync_now()
            if "IDLE" in client.capabilities:
                await self._idle(client, controls)
            else:
                await self._poll(client, controls, mailbox.exists)
        finally:
            client.timeout = min(client.timeout, FAREWELL)
            await client.logout()

    async def _idle(self, client: ImapClient, controls: ListenerControls) -> None:
        loop = asyncio.get_running_loop()
        while controls.should_run():
            for early in await client.idle():
                _news(early, controls)
            _heartbeat(controls)
            renew_at = loop.time() + self._idle_seconds
            while controls.should_run() and (left := renew_at - loop.time()) > 0:
                response = await client.wait(min(TICK, left))
                if response is not None:
                    _news(response, controls)
            if not controls.should_run():
                return  # listen() ends IDLE and logs out
            for response in await client.done():
                _news(response, controls)

    async def _poll(self, client: ImapClient, controls: ListenerControls, exists: int) -> None:
        loop = asyncio.get_running_loop()
        while controls.should_run():
            poll_at = loop.time() + self._poll_seconds
            while controls.should_run() and (left := poll_at - loop.time()) > 0:
                # Waiting on the socket, not a sleep: a closed connection shows at once.
                response = await client.wait(min(TICK, left))
                if response is not None:
                    _news(response, controls)
            if not controls.should_run():
                return
            _heartbeat(controls)
            for response in await client.noop():
                exists = _poll_news(response, controls, exists)


def _news(response: Response, controls: ListenerControls) -> None:
    """A server line while idling: alive; new mail: pull."""
    _heartbeat(controls)
    words = response.words
    if response.tag == "*" and words[:1] == ["BYE"]:
        raise ImapConnectionError("the server ended the session")
    if len(words) >= 2 and words[1] in {"EXISTS", "RECENT"}:
        controls.trigger()


def _poll_news(response: Response, controls: ListenerControls, exists: int) -> int:
    words = response.words
    if len(words) >= 2 and words[1] == "EXISTS" and words[0].isdigit():
        count = int(words[0])
        if count > exists:
            controls.trigger()
        return count
    return exists


def _heartbeat(controls: ListenerControls) -> None:
    # Optional in the protocol: a hub without a watchdog hands controls without it.
    beat: Callable[[], None] | None = getattr(controls, "heartbeat", None)
    if beat is not None:
        beat()
