"""Config entries: configured instances of integrations, their encrypted secrets, and their lifecycle."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from secrets import token_hex, token_urlsafe
from typing import Any, Final

from hub.core.bus import EventBus
from hub.core.crypto import Keyring
from hub.core.errors import CryptoError, StorageError
from hub.core.redact import SECRETS
from hub.core.storage import StorageManager
from hub.integrations.entry import (
    EVENT_ENTRY_CREATED,
    EVENT_ENTRY_REMOVED,
    EVENT_ENTRY_STATE,
    EVENT_ENTRY_UPDATED,
    ConfigEntry,
    EntryNotFoundError,
    EntryState,
)
from hub.integrations.integration import (
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
    Integration,
    SetupContext,
)
from hub.integrations.registry import IntegrationRegistry

_LOGGER = logging.getLogger(__name__)

ENTRIES_KEY: Final = "core.config_entries"
ENTRIES_VERSION: Final = 1
SETUP_TIMEOUT: Final = 60.0
UNLOAD_TIMEOUT: Final = 30.0
RETRY_DELAYS: Final = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0)
"""Seconds before each retry of a setup that was not ready; the last repeats."""
WEBHOOK_FIELD: Final = "webhook_token"
"""The keyring field of an entry's webhook token, kept apart from the integration's own fields."""


class ConfigEntries:
    """Every config entry: stored, encrypted, set up, retried, reloaded and removed."""

    def __init__(
        self,
        storage: StorageManager,
        keyring: Keyring,
        registry: IntegrationRegistry,
        bus: EventBus,
        *,
        setup_timeout: float = SETUP_TIMEOUT,
    ) -> None:
        self._store = storage.store(ENTRIES_KEY, ENTRIES_VERSION)
        self._keyring = keyring
        self._registry = registry
        self._bus = bus
        self.setup_timeout = setup_timeout
        self._entries: dict[str, ConfigEntry] = {}
        self._runtime: dict[str, list[Any]] = {}
        self._webhook_tokens: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._retries: dict[str, tuple[int, asyncio.TimerHandle]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.context_extras: Callable[[ConfigEntry], Mapping[str, Any]] | None = None
        """Adds what later layers hand integrations (``writer``, ``events``) to every context."""
        self.after_setup: list[Callable[[ConfigEntry, Integration], Awaitable[None]]] = []
        self.before_unload: list[Callable[[ConfigEntry], Awaitable[None]]] = []
        self.on_remove: list[Callable[[ConfigEntry], Awaitable[None]]] = []

    # Reading

    async def load(self) -> None:
        """Read the stored entries."""
        data = await self._store.load()
        if data is None:
            return
        try:
            entries = [ConfigEntry.from_json(item) for item in data["entries"]]
        except (KeyError, TypeError, ValueError) as err:
            raise StorageError(
                f"{self._store.path} is damaged ({type(err).__name__}); restore it from a backup"
            ) from None
        for entry in entries:
            # What ran last time says nothing about this start; the reason of a failure is kept.
            entry.state = EntryState.NOT_LOADED
        self._entries = {entry.entry_id: entry for entry in entries}

    def get(self, entry_id: str) -> ConfigEntry | None:
        """The entry, if it exists."""
        return self._entries.get(entry_id)

    def require(self, entry_id: str) -> ConfigEntry:
        """The entry, or ``EntryNotFoundError``."""
        entry = self._entries.get(entry_id)
        if entry is None:
            raise EntryNotFoundError(f"no config entry {entry_id!r}")
        return entry

    def entries(self, domain: str | None = None) -> list[ConfigEntry]:
        """Entries in creation order, optionally of one domain."""
        return [e for e in self._entries.values() if domain is None or e.domain == domain]

    def toolsets(self, entry_id: str) -> list[Any]:
        """What a loaded entry's ``async_setup_entry`` returned."""
        return list(self._runtime.get(entry_id, ()))

    def secrets_of(self, entry: ConfigEntry) -> dict[str, str]:
        """The entry's secrets in plaintext, for the moment they are needed; never store them."""
        return {
            name: self._keyring.decrypt(entry.entry_id, name, token)
            for name, token in entry.secrets.items()
        }

    def context(self, entry: ConfigEntry) -> SetupContext:
        """The ``SetupContext`` integration hooks receive for this entry."""
        return SetupContext(
            entry_id=entry.entry_id,
            domain=entry.domain,
            scope=entry.scope,
            owner_sub=entry.owner,
            data=dict(entry.data),
            secrets=self.secrets_of(entry),
            version=entry.version,
            **(self.context_extras(entry) if self.context_extras else {}),
        )

    def webhook_token(self, entry: ConfigEntry) -> str:
        """The entry's webhook token in plaintext."""
        token = self._webhook_tokens.get(entry.entry_id)
        if token is None:
            token = self._keyring.decrypt(entry.entry_id, WEBHOOK_FIELD, entry.webhook_token)
            self._webhook_tokens[entry.entry_id] = token
        return token

    def verify_webhook(self, entry_id: str, token: str) -> bool:
        """Whether ``token`` is the entry's webhook token, compared in constant time."""
        entry = self._entries.get(entry_id)
        if entry is None or entry.disabled:
            return False
        return hmac.compare_digest(self.webhook_token(entry).encode(), token.encode())

    # Changing

    async def create(
        self,
        *,
        domain: str,
        title: str,
        scope: str,
        owner: str | None,
        data: Mapping[str, Any],
        secrets: Mapping[str, str],
        version: int,
    ) -> ConfigEntry:
        """Store a new entry (secrets encrypted first) and set it up; returns once it is on disk."""
        entry_id = token_hex(8)
        now = _now()
        sealed = {
            name: await self._keyring.encrypt(entry_id, name, value)
            for name, value in secrets.items()
            if value != ""
        }
        webhook = await self._keyring.encrypt(entry_id, WEBHOOK_FIELD, token_urlsafe(24))
        entry = ConfigEntry(
            entry_id=entry_id,
            domain=domain,
            title=title,
            scope=scope,
            owner=owner,
            data=dict(data),
            secrets=sealed,
            version=version,
            created_at=now,
            updated_at=now,
            webhook_token=webhook,
        )
        self._entries[entry_id] = entry
        try:
            await self._commit()
        except StorageError:
            del self._entries[entry_id]
            await self._keyring.forget_owner(entry_id)
            raise
        _LOGGER.info("Created config entry %s (%s, %s)", entry_id, domain, scope)
        self._bus.fire(EVENT_ENTRY_CREATED, entry.event_data())
        await self.setup(entry)
        return entry

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
        entry = self.require(entry_id)
        previous = (entry.title, entry.data, dict(entry.secrets), entry.version)
        if title is not None:
            entry.title = title
        if data is not None:
            entry.data = dict(data)
        if version is not None:
            entry.version = version
        for name, value in (secret_changes or {}).items():
            if value == "":
                entry.secrets.pop(name, None)
            else:
                entry.secrets[name] = await self._keyring.encrypt(entry_id, name, value)
        entry.updated_at = _now()
        try:
            await self._commit()
        except StorageError:
            entry.title, entry.data, entry.secrets, entry.version = previous
            raise
        self._bus.fire(EVENT_ENTRY_UPDATED, entry.event_data())
        if reload:
            await self.reload(entry_id)
        return entry

    async def remove(self, entry_id: str) -> None:
        """Unload and delete an entry, and destroy its data key (its ciphertexts become useless)."""
        entry = self.require(entry_id)
        await self.unload(entry)
        await self._run_hooks("removal", entry, [h(entry) for h in self.on_remove])
        del self._entries[entry_id]
        try:
            await self._commit()
        except StorageError:
            self._entries[entry_id] = entry
            raise
        self._webhook_tokens.pop(entry_id, None)
        self._locks.pop(entry_id, None)
        await self._keyring.forget_owner(entry_id)
        _LOGGER.info("Removed config entry %s (%s)", entry_id, entry.domain)
        self._bus.fire(EVENT_ENTRY_REMOVED, entry.event_data())

    async def set_disabled(self, entry_id: str, disabled: bool) -> ConfigEntry:
        """Disable (unload, and keep unloaded across restarts) or enable (set up) an entry."""
        entry = self.require(entry_id)
        if entry.disabled == disabled:
            return entry
        if disabled:
            await self.unload(entry)
        entry.disabled = disabled
        entry.updated_at = _now()
        await self._commit()
        self._bus.fire(EVENT_ENTRY_UPDATED, entry.event_data())
        if not disabled:
            await self.setup(entry)
        return entry

    async def set_extra(self, entry_id: str, **values: Any) -> None:
        """Record hub-owned state on the entry (saved soon, not at once: it can be recomputed)."""
        entry = self._entries.get(entry_id)
        if entry is None:
            return
        entry.extra.update(values)
        self._store.schedule_save(self._snapshot)

    async def request_reauth(self, entry_id: str, reason: str) -> None:
        """Mark an entry as needing new credentials; the person is offered a reauth flow."""
        entry = self._entries.get(entry_id)
        if entry is None:
            return
        await self.unload(entry)
        self._set_state(entry, EntryState.REAUTH_REQUIRED, reason)

    # Lifecycle

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
            self._set_state(entry, EntryState.REAUTH_REQUIRED, _safe(err) or "credentials refused")
        except (ConfigEntryNotReady, TimeoutError) as err:
            reason = _safe(err) or f"not ready after {time.perf_counter() - start:.1f} s"
            self._set_state(entry, EntryState.SETUP_RETRY, reason)
            self._schedule_retry(entry)
        except ConfigEntryError as err:
            self._set_state(entry, EntryState.SETUP_ERROR, _safe(err) or "setup failed")
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
        await self._store.flush()

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

    async def _run_hooks(self, what: str, entry: ConfigEntry, calls: list[Awaitable[None]]) -> None:
        for call in calls:
            try:
                await call
            except Exception:  # a hook's failure is its own, never the entry's
                _LOGGER.exception(
                    "The %s hook of %s (%s) failed", what, entry.entry_id, entry.domain
                )

    def _lock(self, entry_id: str) -> asyncio.Lock:
        return self._locks.setdefault(entry_id, asyncio.Lock())

    def _snapshot(self) -> dict[str, Any]:
        return {"entries": [entry.to_json() for entry in self._entries.values()]}

    async def _commit(self) -> None:
        await self._store.commit(self._snapshot)


def _safe(err: BaseException) -> str:
    """An integration's own failure text, with every known secret masked, cut to a line."""
    return SECRETS.redact(str(err)).splitlines()[0][:200] if str(err) else ""


def _check_json(data: Mapping[str, Any]) -> None:
    json.dumps(data)  # raises TypeError for what storage could not hold


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
