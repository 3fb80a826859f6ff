"""The lifecycle of config entries: setup, migration, retries, unload, reload and their hooks."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from hub.core.bus import EventBus
from hub.core.errors import CryptoError, StorageError
from hub.core.redact import safe_text
from hub.core.storage import Store
from hub.integrations.entry import EVENT_ENTRY_STATE, ConfigEntry, EntryState
from hub.integrations.integration import (
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
    Integration,
    SetupContext,
)
from hub.integrations.registry import IntegrationRegistry

_LOGGER = logging.getLogger(__name__)

SETUP_TIMEOUT: Final = 60.0
UNLOAD_TIMEOUT: Final = 30.0
RETRY_DELAYS: Final = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0)
"""Seconds before each retry of a setup that was not ready; the last repeats."""


class EntryLifecycle(ABC):
    """Sets entries up, retries, migrates, unloads and reloads them; the storage side is abstract."""

    # The storage side (``ConfigEntries``) owns these; declared here so the lifecycle type-checks
    # on its own and the contract between the two halves is written down in one place.
    _entries: dict[str, ConfigEntry]
    _store: Store
    _bus: EventBus

    def __init__(self, registry: IntegrationRegistry, *, setup_timeout: float) -> None:
        self._registry = registry
        self.setup_timeout = setup_timeout
        self._runtime: dict[str, list[Any]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._retries: dict[str, tuple[int, asyncio.TimerHandle]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.after_setup: list[Callable[[ConfigEntry, Integration], Awaitable[None]]] = []
        self.before_unload: list[Callable[[ConfigEntry], Awaitable[None]]] = []
        self.on_remove: list[Callable[[ConfigEntry], Awaitable[None]]] = []

    # What the storage side provides

    @abstractmethod
    def require(self, entry_id: str) -> ConfigEntry:
        """The entry, or ``EntryNotFoundError``."""

    @abstractmethod
    def entries(self, domain: str | None = None) -> list[ConfigEntry]:
        """Entries in creation order, optionally of one domain."""

    @abstractmethod
    def context(self, entry: ConfigEntry) -> SetupContext:
        """The ``SetupContext`` integration hooks receive for this entry."""

    @abstractmethod
    def webhook_token(self, entry: ConfigEntry) -> str:
        """The entry's webhook token in plaintext."""

    @abstractmethod
    async def update(
        self,
        entry_id: str,
        *,
        title: str | None = None,
        data: Mapping[str, Any] | None = None,
        secret_changes: Mapping[str, str] | None = None,
        version: int | None = None,
        reload: bool = True,
    ) -> ConfigEntry:
        """Change an entry in place; in ``secret_changes`` an empty value clears, another replaces."""

    @abstractmethod
    def _snapshot(self) -> dict[str, Any]: ...

    # Lifecycle

    def toolsets(self, entry_id: str) -> list[Any]:
        """What a loaded entry's ``async_setup_entry`` returned."""
        return list(self._runtime.get(entry_id, ()))

    async def setup_all(self) -> None:
        """Set up every enabled entry concurrently; one failure never stops another."""
        await asyncio.gather(*(self.setup(entry) for entry in self.entries() if not entry.disabled))

    async def setup(self, entry: ConfigEntry) -> None:
        """Migrate if needed, then run ``async_setup_entry`` under a timeout; failures set the state."""
        async with self._lock(entry.entry_id):
            if entry.disabled or entry.entry_id not in self._entries:
                return
            if entry.state is EntryState.LOADED:
                return
            loaded = self._registry.get(entry.domain)
            if loaded is None:
                skipped = self._registry.skipped_domain(entry.domain)
                why = f": {skipped.reason}" if skipped else " (its folder is gone)"
                self._set_state(entry, EntryState.SETUP_ERROR, f"integration not loaded{why}")
                return
            if not await self._migrate(
                entry, loaded.integration, loaded.manifest.config_schema_version
            ):
                return
            await self._setup_locked(entry, loaded.integration)

    async def _setup_locked(self, entry: ConfigEntry, integration: Integration) -> None:
        start = time.perf_counter()
        try:
            ctx = self.context(entry)
            self.webhook_token(entry)
        except CryptoError as err:
            self._set_state(entry, EntryState.SETUP_ERROR, err.message)
            return
        try:
            async with asyncio.timeout(self.setup_timeout):
                toolsets = await integration.async_setup_entry(ctx)
        except ConfigEntryAuthFailed as err:
            self._set_state(
                entry, EntryState.REAUTH_REQUIRED, safe_text(err) or "credentials refused"
            )
        except (ConfigEntryNotReady, TimeoutError) as err:
            reason = safe_text(err) or f"not ready after {time.perf_counter() - start:.1f} s"
            self._set_state(entry, EntryState.SETUP_RETRY, reason)
            self._schedule_retry(entry)
        except ConfigEntryError as err:
            self._set_state(entry, EntryState.SETUP_ERROR, safe_text(err) or "setup failed")
        except Exception as err:  # any integration bug stays inside its entry
            _LOGGER.exception("Setting up %s (%s) failed", entry.entry_id, entry.domain)
            self._set_state(entry, EntryState.SETUP_ERROR, f"setup raised {type(err).__name__}")
        else:
            self._runtime[entry.entry_id] = list(toolsets or [])
            self._cancel_retry(entry.entry_id, reset=True)
            self._set_state(entry, EntryState.LOADED, None)
            await self._run_hooks(
                "after setup", entry, [h(entry, integration) for h in self.after_setup]
            )
            _LOGGER.info(
                "Set up %s (%s) in %.1f ms",
                entry.entry_id,
                entry.domain,
                (time.perf_counter() - start) * 1000,
            )

    async def _migrate(self, entry: ConfigEntry, integration: Integration, target: int) -> bool:
        if entry.version == target:
            return True
        if entry.version > target:
            reason = f"stored by a newer version of the integration ({entry.version} > {target})"
            self._set_state(entry, EntryState.MIGRATION_ERROR, reason)
            return False
        try:
            async with asyncio.timeout(self.setup_timeout):
                migrated = await integration.async_migrate_entry(self.context(entry), entry.version)
            new_data = entry.data if migrated is None else dict(migrated)
            _check_json(new_data)
        except Exception as err:  # the stored entry stays as it was
            _LOGGER.exception("Migrating %s (%s) failed", entry.entry_id, entry.domain)
            reason = f"migration from version {entry.version} failed: {type(err).__name__}"
            self._set_state(entry, EntryState.MIGRATION_ERROR, reason)
            return False
        old = entry.version
        await self.update(entry.entry_id, data=new_data, version=target, reload=False)
        _LOGGER.info(
            "Migrated %s (%s) from version %d to %d", entry.entry_id, entry.domain, old, target
        )
        return True

    async def unload(self, entry: ConfigEntry) -> None:
        """Run ``async_unload_entry`` if the entry is loaded; errors are logged, never raised."""
        self._cancel_retry(entry.entry_id, reset=True)
        async with self._lock(entry.entry_id):
            if entry.state is not EntryState.LOADED:
                if entry.state is EntryState.SETUP_RETRY:
                    self._set_state(entry, EntryState.NOT_LOADED, None)
                return
            await self._run_hooks("before unload", entry, [h(entry) for h in self.before_unload])
            loaded = self._registry.get(entry.domain)
            if loaded is not None:
                try:
                    async with asyncio.timeout(UNLOAD_TIMEOUT):
                        await loaded.integration.async_unload_entry(self.context(entry))
                except Exception:  # unloading continues whatever the integration does
                    _LOGGER.exception("Unloading %s (%s) failed", entry.entry_id, entry.domain)
            self._runtime.pop(entry.entry_id, None)
            self._set_state(entry, EntryState.NOT_LOADED, None)

    async def reload(self, entry_id: str) -> None:
        """Unload and set up again, e.g. after a reconfigure."""
        entry = self.require(entry_id)
        await self.unload(entry)
        await self.setup(entry)

    async def unload_all(self) -> None:
        """Unload every entry (shutdown) and save what changed."""
        for handle in self._retries.values():
            handle[1].cancel()
        self._retries.clear()
        await asyncio.gather(*(self.unload(entry) for entry in self.entries()))
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # A full disk must not break shutdown: the store logged it; the last flush tries again.
        with contextlib.suppress(StorageError):
            await self._store.flush()

    async def request_reauth(self, entry_id: str, reason: str) -> None:
        """Mark an entry as needing new credentials; the person is offered a reauth flow."""
        entry = self._entries.get(entry_id)
        if entry is None:
            return
        await self.unload(entry)
        self._set_state(entry, EntryState.REAUTH_REQUIRED, reason)

    # Internals

    def _set_state(self, entry: ConfigEntry, state: EntryState, reason: str | None) -> None:
        changed = (entry.state, entry.reason) != (state, reason)
        entry.state, entry.reason = state, reason
        if not changed:
            return
        level = logging.WARNING if reason and state is not EntryState.NOT_LOADED else logging.DEBUG
        _LOGGER.log(level, "Entry %s (%s) is %s: %s", entry.entry_id, entry.domain, state, reason)
        self._store.schedule_save(self._snapshot)
        self._bus.fire(EVENT_ENTRY_STATE, entry.event_data())

    def _schedule_retry(self, entry: ConfigEntry) -> None:
        attempt = self._retries.pop(entry.entry_id, (0, None))[0]
        delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
        loop = asyncio.get_running_loop()
        handle = loop.call_later(delay, self._retry, entry.entry_id)
        self._retries[entry.entry_id] = (attempt + 1, handle)
        entry.reason = f"{entry.reason}; retrying in {delay:g} s"

    def _retry(self, entry_id: str) -> None:
        entry = self._entries.get(entry_id)
        if entry is None or entry.state is not EntryState.SETUP_RETRY:
            return
        entry.state = EntryState.NOT_LOADED
        task = asyncio.get_running_loop().create_task(self.setup(entry))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _cancel_retry(self, entry_id: str, *, reset: bool) -> None:
        pending = self._retries.get(entry_id)
        if pending is not None:
            pending[1].cancel()
            if reset:
                del self._retries[entry_id]

    async def _run_hooks(
        self,
        what: str,
        entry: ConfigEntry,
        calls: list[Awaitable[None]],
        *,
        stop_on: type[Exception] | None = None,
    ) -> None:
        for index, call in enumerate(calls):
            try:
                await call
            except Exception as err:  # a hook's failure is its own, never the entry's
                if stop_on is not None and isinstance(err, stop_on):
                    for skipped in calls[index + 1 :]:  # never awaited: close, or Python warns
                        if inspect.iscoroutine(skipped):
                            skipped.close()
                    raise
                _LOGGER.exception(
                    "The %s hook of %s (%s) failed", what, entry.entry_id, entry.domain
                )

    def _lock(self, entry_id: str) -> asyncio.Lock:
        return self._locks.setdefault(entry_id, asyncio.Lock())


def refused_reason(err: ConfigEntryAuthFailed) -> str:
    """What an entry records when its service refused the stored credentials (secrets masked)."""
    return f"credentials refused: {safe_text(err)}"


def _check_json(data: Mapping[str, Any]) -> None:
    json.dumps(data)  # raises TypeError for what storage could not hold
