"""``EmailListener`` against a real Dovecot: catch-up, IDLE news, renewal, prompt stop, failures.

The controls are a small recording double of the hub's side (the hub's own listener manager is
tested with the comms core); the IMAP server and the mail are real.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from integrations.email.imap import ImapAuthError, ImapConnectionError
from integrations.email.listener import EmailListener
from tests.support.dovecot import DovecotServer, Options, need_dovecot, running_dovecot

pytestmark = pytest.mark.usefixtures("no_lingering_tasks")

RAW = b"From: bob@example.net\r\nSubject: ping\r\nMessage-ID: <ping@example.net>\r\n\r\nhi\r\n"
WAIT = 15.0
"""Seconds a test waits for something that should happen much sooner."""


class RecordingControls:
    """Records what a listener asks of the hub; ``running`` is what ``should_run`` answers."""

    def __init__(self) -> None:
        self.running = True
        self.triggers = 0
        self.syncs = 0
        self.heartbeats = 0
        self._changed = asyncio.Event()

    def should_run(self) -> bool:
        """Whether to go on."""
        return self.running

    def trigger(self) -> None:
        """Count a request to pull."""
        self.triggers += 1
        self._changed.set()

    async def sync_now(self) -> None:
        """Count a catch-up pull."""
        self.syncs += 1
        self._changed.set()

    def heartbeat(self) -> None:
        """Count a sign of life."""
        self.heartbeats += 1
        self._changed.set()

    async def until(self, what: str, at_least: int) -> None:
        """Wait (up to ``WAIT`` seconds) until the count of ``what`` reaches ``at_least``."""
        async with asyncio.timeout(WAIT):
            while getattr(self, what) < at_least:
                self._changed.clear()
                await self._changed.wait()


@asynccontextmanager
async def listening(
    listener: EmailListener, controls: RecordingControls
) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``listen`` in a task; stop it (and wait for it) after the block."""
    task = asyncio.create_task(listener.listen(controls))
    try:
        yield task
    finally:
        controls.running = False
        async with asyncio.timeout(WAIT):
            await asyncio.gather(task, return_exceptions=True)


async def test_mail_arriving_during_idle_triggers_a_pull(dovecot: DovecotServer) -> None:
    controls = RecordingControls()
    async with listening(EmailListener(dovecot.settings(), timeout=10), controls) as task:
        await controls.until("syncs", 1)
        await dovecot.deliver(RAW)
        await controls.until("triggers", 1)
        await dovecot.deliver(RAW)
        await controls.until("triggers", 2)
        controls.running = False
        # It notices within a tick and leaves politely; no pull is asked for on the way out.
        async with asyncio.timeout(3):
            await task
    assert controls.syncs == 1
    assert "Logged out" in dovecot.log_tail()


async def test_keep_alives_are_heartbeats(dovecot: DovecotServer) -> None:
    controls = RecordingControls()
    async with listening(EmailListener(dovecot.settings(), timeout=10), controls):
        await controls.until("syncs", 1)
        beats = controls.heartbeats
        # This Dovecot says "* OK Still here" every second.
        await controls.until("heartbeats", beats + 2)
    assert controls.triggers == 0


async def test_idle_is_renewed_before_idle_seconds() -> None:
    need_dovecot()
    # No keep-alives from this server: every heartbeat is a renewal of IDLE.
    async with running_dovecot(Options(idle_notify_seconds=600)) as server:
        controls = RecordingControls()
        listener = EmailListener(server.settings(), idle_seconds=0.2, timeout=10)
        async with listening(listener, controls):
            await controls.until("syncs", 1)
            await controls.until("heartbeats", 8)
            await server.deliver(RAW)
            await controls.until("triggers", 1)
        logins = await server.log_matches(r"imap-login: Info: Login: user=<alice>", at_least=2)
    assert len(logins) == 2  # the listener's one session, and the delivery's


async def test_without_idle_the_listener_polls() -> None:
    need_dovecot()
    no_idle = "IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE NAMESPACE UIDPLUS"
    async with running_dovecot(Options(capability=no_idle)) as server:
        controls = RecordingControls()
        listener = EmailListener(server.settings(), poll_seconds=0.2, timeout=10)
        async with listening(listener, controls):
            await controls.until("syncs", 1)
            await controls.until("heartbeats", 3)
            assert controls.triggers == 0
            await server.deliver(RAW)
            await controls.until("triggers", 1)


async def test_a_server_going_away_mid_idle_raises_and_a_restart_catches_up(
    dovecot: DovecotServer,
) -> None:
    controls = RecordingControls()
    listener = EmailListener(dovecot.settings(), timeout=10)
    async with listening(listener, controls) as task:
        await controls.until("syncs", 1)
        await dovecot.stop()
        with pytest.raises(ImapConnectionError):
            async with asyncio.timeout(WAIT):
                await task
    await dovecot.start()
    controls.running = True
    async with listening(listener, controls):
        await controls.until("syncs", 2)


async def test_a_refused_password_raises_an_auth_error(dovecot: DovecotServer) -> None:
    controls = RecordingControls()
    with pytest.raises(ImapAuthError):
        await EmailListener(dovecot.settings(password="wrong"), timeout=10).listen(controls)
    assert controls.syncs == 0
