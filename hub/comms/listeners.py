"""The listener manager: one supervised task per entry that listens for messages in real time.

A listener (IMAP IDLE, a long-poll, a timer) runs until ``controls.should_run()`` turns false,
asking for pulls as messages arrive. The manager restarts one that fails or returns with an
exponential backoff and jitter, restarts one that shows no sign of life for the watchdog's time,
pulls after every start so nothing missed while it was down stays missed, and stops it within
the configured grace on unload, disable or shutdown. Its state is noted on the entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from hub.comms.ingest import Ingest
from hub.config import CommsConfig
from hub.core.errors import IntegrationError
from hub.integrations.capabilities import (
    MESSAGE_LISTENER,
    PROVIDER_HOOKS,
    MessageListenerProvider,
)
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.entry import ConfigEntry
from hub.integrations.features import features
from hub.integrations.integration import Integration
from hub.integrations.runtime import EntryRuntime, provider_hook

_LOGGER = logging.getLogger(__name__)

LISTENER_HOOK: Final = provider_hook(PROVIDER_HOOKS[MESSAGE_LISTENER], MessageListenerProvider)
LISTEN_HOOK: Final = provider_hook("listen", object)
FOREVER: Final = 10 * 365 * 86_400.0
"""A listener has no deadline: the watchdog judges it by its signs of life instead."""
HEALTHY_SECONDS: Final = 60.0
"""A listener that ran this long before failing starts its backoff from the first step again."""
NOTE_EVERY: Final = 60.0
"""Seconds between two notes of a running listener's last activity on the entry."""

ListenerState = Literal["starting", "running", "backing_off", "stopped"]


def listens(integration: Integration) -> bool:
    """Whether the integration offers a listener (it overrides the hook)."""
    return features(integration).listens


class Controls:
    """What a listener is handed: when to stop, how to ask for a pull, and how to say it is alive."""

    def __init__(self, supervisor: Supervisor) -> None:
        self._supervisor = supervisor

    def should_run(self) -> bool:
        """False once the listener must return (unload, disable, shutdown, or its watchdog)."""
        return self._supervisor.should_run(self)

    def trigger(self) -> None:
        """Something arrived: pull soon (debounced; cheap to call often)."""
        self._supervisor.alive()
        self._supervisor.ingest.trigger(self._supervisor.entry_id)

    async def sync_now(self) -> None:
        """Pull now and wait for it (for channels whose every read drains the queue)."""
        self._supervisor.alive()
        await self._supervisor.ingest.pull(self._supervisor.entry_id)
        self._supervisor.alive()

    def heartbeat(self) -> None:
        """A sign of life without news (a keep-alive from the server): keeps the watchdog away."""
        self._supervisor.alive()


@dataclass(slots=True)
class Status:
    """A listener's state as the entry shows it."""

    state: ListenerState = "starting"
    since: float = 0.0
    last_activity: float = 0.0
    restarts: int = 0
    failures: int = 0
    """Failures in a row since the listener last ran ``HEALTHY_SECONDS`` (the repairs read it)."""
    last_error: str | None = None
    retry_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        """As noted on the entry."""
        return {
            "state": self.state,
            "since": _iso(self.since),
            "last_activity": _iso(self.last_activity) if self.last_activity else None,
            "restarts": self.restarts,
            "failures": self.failures,
            "last_error": self.last_error,
            "retry_at": _iso(self.retry_at) if self.retry_at is not None else None,
        }


class Supervisor:
    """One entry's listener: started, watched, restarted, stopped."""

    def __init__(
        self,
        entry_id: str,
        runtime: EntryRuntime,
        ingest: Ingest,
        config: CommsConfig,
        note: Callable[[str, dict[str, Any]], None],
    ) -> None:
        self.entry_id = entry_id
        self.runtime = runtime
        self.ingest = ingest
        self._config = config
        self._note = note
        self.status = Status(since=time.time())
        self._stopping = False
        self._current: Controls | None = None
        """The controls of the running attempt; an attempt the watchdog gave up on sees False."""
        self._activity = time.monotonic()
        self._noted_activity = 0.0
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        """Run the supervision loop."""
        self._task = asyncio.get_running_loop().create_task(
            self._supervise(), name=f"listener {self.entry_id}"
        )

    def should_run(self, controls: Controls) -> bool:
        """Whether the attempt holding ``controls`` should go on."""
        return not self._stopping and controls is self._current

    def stopping(self) -> bool:
        """Whether the listener is being stopped for good."""
        return self._stopping

    def alive(self) -> None:
        """Note a sign of life; noted on the entry at most once a minute."""
        self._activity = time.monotonic()
        now = time.time()
        self.status.last_activity = now
        healthy = self.status.state == "running" and now - self.status.since >= HEALTHY_SECONDS
        if healthy and self.status.failures:
            self.status.failures = 0  # running well again: no longer failing in a row
            self._noted_activity = 0.0
        if now - self._noted_activity >= NOTE_EVERY:
            self._noted_activity = now
            self._publish()

    async def stop(self) -> None:
        """Ask the listener to return; cancel it after the grace; never takes much longer."""
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=self._config.listener_stop_seconds)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 0.4)
        self._set("stopped")

    async def _supervise(self) -> None:
        while not self._stopping:
            started = time.monotonic()
            error = await self._attempt()
            if self.stopping():  # set while the attempt ran
                return
            if time.monotonic() - started >= HEALTHY_SECONDS:
                self.status.failures = 0
            delay = self._backoff(self.status.failures)
            self.status.failures += 1
            self.status.restarts += 1
            self._set("backing_off", error=error, retry_in=delay)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def _attempt(self) -> str:
        """Run the listener once; why it ended."""
        controls = Controls(self)
        self._current = controls
        self._set("starting")
        self.alive()
        try:
            listener = self.runtime.call_sync(LISTENER_HOOK)
        except IntegrationError as err:
            return err.reason or str(err)
        if listener is None:
            self._stopping = True  # it offers none for this entry: nothing to supervise
            self._set("stopped", error=None)
            return ""
        self._set("running")
        # Whatever arrived while no listener ran (the last one failed, the hub was down).
        self.ingest.trigger(self.entry_id)
        listen = asyncio.get_running_loop().create_task(
            self.runtime.call(
                LISTEN_HOOK,
                controls,
                timeout=FOREVER,
                target=listener.listen,
                label="message listener",
            ),
            name=f"listen {self.entry_id}",
        )
        try:
            return await self._watch(listen)
        finally:
            self._current = None
            if not listen.done():
                listen.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(listen, 0.4)

    async def _watch(self, listen: asyncio.Task[Any]) -> str:
        watchdog = self._config.listener_watchdog_seconds
        while True:
            quiet = time.monotonic() - self._activity
            try:
                await asyncio.wait_for(asyncio.shield(listen), max(0.05, watchdog - quiet))
            except TimeoutError:
                if self._stopping:
                    await asyncio.wait({listen}, timeout=self._config.listener_stop_seconds)
                    return ""
                if time.monotonic() - self._activity >= watchdog:
                    _LOGGER.warning(
                        "The message listener of %s showed no sign of life for %g s; restarting it",
                        self.entry_id,
                        watchdog,
                    )
                    return f"no sign of life for {watchdog:g} s"
                continue
            except IntegrationError as err:  # the runtime logged it (and asked for reauth)
                return err.reason or str(err)
            except asyncio.CancelledError:
                if self._stopping:
                    return ""
                raise
            return "" if self._stopping else "the listener returned"

    def _backoff(self, failures: int) -> float:
        first, cap = (
            self._config.listener_backoff_seconds,
            self._config.listener_backoff_max_seconds,
        )
        ceiling = min(cap, first * (2**failures))
        # Full jitter in the upper half: never a thundering herd, never a zero wait.
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311  # jitter, not cryptography

    def _set(
        self, state: ListenerState, *, error: str | None = None, retry_in: float | None = None
    ) -> None:
        now = time.time()
        if state != self.status.state:
            self.status.since = now
        self.status.state = state
        if error:
            self.status.last_error = error
        self.status.retry_at = now + retry_in if retry_in is not None else None
        self._publish()

    def _publish(self) -> None:
        self._note(self.entry_id, self.status.to_json())


class Listeners:
    """Every entry's supervisor, started after setup and stopped before unload."""

    def __init__(self, entries: ConfigEntries, ingest: Ingest, config: CommsConfig) -> None:
        self._entries = entries
        self._ingest = ingest
        self._config = config
        self._supervisors: dict[str, Supervisor] = {}
        self.observers: list[Callable[[str, dict[str, Any] | None], None]] = []
        """Called with an entry's listener status at each change, ``None`` once it is stopped."""

    def status(self, entry_id: str) -> dict[str, Any] | None:
        """The live state of an entry's listener, or ``None`` when it has none."""
        supervisor = self._supervisors.get(entry_id)
        return None if supervisor is None else supervisor.status.to_json()

    async def after_setup(self, entry: ConfigEntry, integration: Integration) -> None:
        """Start the entry's listener when its integration offers one."""
        if not listens(integration):
            return
        runtime = self._entries.runtime(entry.entry_id)
        if runtime is None:
            return
        await self._stop(entry.entry_id)
        supervisor = Supervisor(entry.entry_id, runtime, self._ingest, self._config, self._note)
        self._supervisors[entry.entry_id] = supervisor
        supervisor.start()

    async def before_unload(self, entry: ConfigEntry) -> None:
        """Stop the entry's listener (within the grace) before its integration is unloaded."""
        await self._stop(entry.entry_id)

    async def stop(self) -> None:
        """Stop every listener at once (shutdown)."""
        supervisors, self._supervisors = list(self._supervisors.values()), {}
        await asyncio.gather(*(supervisor.stop() for supervisor in supervisors))
        for supervisor in supervisors:
            self._tell(supervisor.entry_id, None)

    async def _stop(self, entry_id: str) -> None:
        supervisor = self._supervisors.pop(entry_id, None)
        if supervisor is not None:
            await supervisor.stop()
            self._tell(entry_id, None)

    def _note(self, entry_id: str, status: dict[str, Any]) -> None:
        self._entries.note(entry_id, listener=status)
        if self._supervisors.get(entry_id) is not None:  # a stopped one's last note is not news
            self._tell(entry_id, status)

    def _tell(self, entry_id: str, status: dict[str, Any] | None) -> None:
        for observer in list(self.observers):
            try:
                observer(entry_id, status)
            except Exception:  # an observer's bug must not stop the listener
                _LOGGER.exception("A listener observer failed for %s", entry_id)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
