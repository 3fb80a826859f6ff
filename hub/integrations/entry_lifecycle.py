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
from dataclasses import replace
from typing import Any, Final

from hub.core.bus import EventBus
from hub.core.errors import (
    CryptoError,
    EntryNeedsReauthError,
    EntryNotReadyError,
    IntegrationError,
    IntegrationTimeoutError,
    StorageError,
)
from hub.core.storage import Store
from hub.integrations.entry import EVENT_ENTRY_STATE, ConfigEntry, EntryState
from hub.integrations.integration import Integration, SetupContext
from hub.integrations.registry import IntegrationRegistry
from hub.integrations.runtime import (
    MIGRATE,
    RETRY_DELAYS,
    SETUP,
    UNLOAD,
    Deadlines,
    EntryRuntime,
    refused_reason,
)

_LOGGER = logging.getLogger(__name__)

SETUP_TIMEOUT: Final = 60.0
UNLOAD_TIMEOUT: Final = 30.0
__all__ = ["RETRY_DELAYS", "SETUP_TIMEOUT", "UNLOAD_TIMEOUT", "EntryLifecycle", "refused_reason"]


class EntryLifecycle(ABC):
    """Sets entries up, retries, migrates, unloads and reloads them; the storage side is abstract."""

    # The storage side (``ConfigEntries``) owns these; declared here so the lifecycle type-checks
    # on its own and the contract between the two halves is written down in one place.
    _store: Store
    _bus: EventBus

    @property
    @abstractmethod
    def _entries(self) -> Mapping[str, ConfigEntry]:
        """What memory serves, by entry id; swapped whole, never changed in place."""

    def __init__(self, registry: IntegrationRegistry, *, setup_timeout: float) -> None:
        self._registry = registry
        self.setup_timeout = setup_timeout
        self._runtimes: dict[str, EntryRuntime] = {}
        self.deadlines = Deadlines()
        """How long actions, webhooks, providers and agent tools may take."""
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

    @abstractmethod
    def _swap(
        self, entry_id: str, change: Callable[[ConfigEntry | None], ConfigEntry | None]
    ) -> None:
        """Apply ``change`` to what memory serves (state that is saved soon, not committed)."""

    # Lifecycle

    def toolsets(self, entry_id: str) -> list[Any]:
        """What a loaded entry's ``async_setup_entry`` returned."""
        runtime = self._runtimes.get(entry_id)
        return list(runtime.toolsets) if runtime is not None else []

    def runtime(self, entry_id: str) -> EntryRuntime | None:
        """The way into a loaded entry's integration code; ``None`` while it is not set up."""
        runtime = self._runtimes.get(entry_id)
        return runtime if runtime is not None and runtime.loaded else None

    def _runtime_of(self, entry: ConfigEntry) -> EntryRuntime:
        runtime = self._runtimes.get(entry.entry_id)
        if runtime is None:
            runtime = EntryRuntime(
                entry.entry_id,
                entry.domain,
                request_reauth=self.request_reauth,
                request_reauth_soon=self._request_reauth_soon,
                deadlines=lambda: self.deadlines,
            )
            self._runtimes[entry.entry_id] = runtime
        return runtime

    async def setup_all(self) -> None:
        """Set up every enabled entry concurrently; one failure never stops another."""
        await asyncio.gather(*(self.setup(entry) for entry in self.entries() if not entry.disabled))

    async def setup(self, entry: ConfigEntry) -> None:
        """Migrate if needed, then run ``async_setup_entry`` under a timeout; failures set the state."""
        runtime = self._runtime_of(entry)
        async with runtime.lock:
            # Entries are frozen: what counts is the entry as it is now, not as the caller saw it.
            current = self._entries.get(entry.entry_id)
            if current is None or current.disabled or current.state is EntryState.LOADED:
                return
            entry = current
            loaded = self._registry.get(entry.domain)
            if loaded is None:
                skipped = self._registry.skipped_domain(entry.domain)
                why = f": {skipped.reason}" if skipped else " (its folder is gone)"
                self._set_state(entry, EntryState.SETUP_ERROR, f"integration not loaded{why}")
                return
            if not await self._migrate(
                entry, runtime, loaded.integration, loaded.manifest.config_schema_version
            ):
                return
            await self._setup_locked(self._entries[entry.entry_id], runtime, loaded.integration)

    async def _setup_locked(
        self, entry: ConfigEntry, runtime: EntryRuntime, integration: Integration
    ) -> None:
        start = time.perf_counter()
        try:
            ctx = self.context(entry)  # the secrets are decrypted here, once per setup
            # The webhook token is decrypted by the first webhook or URL request instead: the
            # cipher library costs ~8 MiB resident that a hub whose entries hold no secrets may
            # never need.
        except CryptoError as err:
            self._set_state(entry, EntryState.SETUP_ERROR, err.message)
            return
        runtime.bind(integration, ctx)
        try:
            toolsets = await runtime.call(SETUP, timeout=self.setup_timeout, label="setup")
        except EntryNeedsReauthError as err:
            await runtime.release(UNLOAD_TIMEOUT)
            self._set_state(entry, EntryState.REAUTH_REQUIRED, err.reason)
        except (EntryNotReadyError, IntegrationTimeoutError) as err:
            await runtime.release(UNLOAD_TIMEOUT)
            self._set_state(entry, EntryState.SETUP_RETRY, err.reason)
            self._schedule_retry(entry, runtime)
        except IntegrationError as err:  # logged once by the runtime, with its correlation id
            await runtime.release(UNLOAD_TIMEOUT)
            # A bug's own words may quote what it was given: the entry says only what raised.
            reason = f"setup raised {err.cause}" if err.cause else err.reason
            self._set_state(entry, EntryState.SETUP_ERROR, reason)
        else:
            runtime.toolsets = list(toolsets or [])
            runtime.cancel_retry(reset=True)
            entry = self._set_state(entry, EntryState.LOADED, None)
            await self._run_hooks(
                "after setup", entry, [h(entry, integration) for h in self.after_setup]
            )
            _LOGGER.info(
                "Set up %s (%s) in %.1f ms",
                entry.entry_id,
                entry.domain,
                (time.perf_counter() - start) * 1000,
            )

    async def _migrate(
        self, entry: ConfigEntry, runtime: EntryRuntime, integration: Integration, target: int
    ) -> bool:
        if entry.version == target:
            return True
        if entry.version > target:
            reason = f"stored by a newer version of the integration ({entry.version} > {target})"
            self._set_state(entry, EntryState.MIGRATION_ERROR, reason)
            return False
        try:
            ctx = self.context(entry)
            migrated = await runtime.call(
                MIGRATE,
                ctx,
                entry.version,
                timeout=self.setup_timeout,
                target=integration.async_migrate_entry,
            )
            new_data = entry.data if migrated is None else dict(migrated)
            _check_json(new_data)
        except (CryptoError, IntegrationError, TypeError, ValueError) as err:
            # The stored entry stays as it was; the runtime logged an integration's failure.
            detail = err.reason if isinstance(err, IntegrationError) else type(err).__name__
            reason = f"migration from version {entry.version} failed: {detail}"
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
        runtime = self._runtime_of(entry)
        runtime.cancel_retry(reset=True)
        async with runtime.lock:
            entry = self._entries.get(entry.entry_id, entry)
            if entry.state is not EntryState.LOADED:
                if entry.state is EntryState.SETUP_RETRY:
                    self._set_state(entry, EntryState.NOT_LOADED, None)
                return
            await self._run_hooks("before unload", entry, [h(entry) for h in self.before_unload])
            if runtime.loaded:
                # Unloading continues whatever the integration does; the runtime logged it.
                with contextlib.suppress(IntegrationError):
                    await runtime.call(UNLOAD, timeout=UNLOAD_TIMEOUT)
            await runtime.release(UNLOAD_TIMEOUT)
            self._set_state(entry, EntryState.NOT_LOADED, None)

    async def reload(self, entry_id: str) -> None:
        """Unload and set up again, e.g. after a reconfigure."""
        entry = self.require(entry_id)
        await self.unload(entry)
        await self.setup(entry)

    async def unload_all(self) -> None:
        """Unload every entry (shutdown) and save what changed."""
        for runtime in self._runtimes.values():
            runtime.cancel_retry(reset=True)
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
        self._set_state(self._entries.get(entry_id, entry), EntryState.REAUTH_REQUIRED, reason)

    # Internals

    def _request_reauth_soon(self, entry_id: str, reason: str) -> None:
        task = asyncio.get_running_loop().create_task(self.request_reauth(entry_id, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _set_state(self, entry: ConfigEntry, state: EntryState, reason: str | None) -> ConfigEntry:
        """Swap in the entry with ``state`` and ``reason`` (saved soon); the entry as it is now."""
        entry = self._entries.get(entry.entry_id, entry)
        if (entry.state, entry.reason) == (state, reason):
            return entry
        if entry.entry_id not in self._entries:
            return entry  # removed meanwhile: nothing left to change
        self._swap(
            entry.entry_id,
            lambda current: (
                None if current is None else replace(current, state=state, reason=reason)
            ),
        )
        entry = self._entries[entry.entry_id]
        level = logging.WARNING if reason and state is not EntryState.NOT_LOADED else logging.DEBUG
        _LOGGER.log(
            level,
            "Entry %s (%s) is %s: %s",
            entry.entry_id,
            entry.domain,
            state,
            reason,
            extra={"entry_id": entry.entry_id},  # in the entry's own log lines (diagnostics)
        )
        self._store.schedule_save(self._snapshot)
        self._bus.fire(EVENT_ENTRY_STATE, entry.event_data())
        return entry

    def _schedule_retry(self, entry: ConfigEntry, runtime: EntryRuntime) -> None:
        delay = runtime.schedule_retry(lambda: self._retry(entry.entry_id))
        # Said on the entry, not announced: the state change itself was just announced.
        self._swap(
            entry.entry_id,
            lambda current: (
                None
                if current is None
                else replace(current, reason=f"{current.reason}; retrying in {delay:g} s")
            ),
        )

    def _retry(self, entry_id: str) -> None:
        entry = self._entries.get(entry_id)
        if entry is None or entry.state is not EntryState.SETUP_RETRY:
            return
        self._swap(
            entry_id,
            lambda current: (
                None if current is None else replace(current, state=EntryState.NOT_LOADED)
            ),
        )
        task = asyncio.get_running_loop().create_task(self.setup(self._entries[entry_id]))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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

    def _forget_runtime(self, entry_id: str) -> None:
        runtime = self._runtimes.pop(entry_id, None)
        if runtime is not None:
            runtime.cancel_retry(reset=True)


def _check_json(data: Mapping[str, Any]) -> None:
    json.dumps(data)  # raises TypeError for what storage could not hold
