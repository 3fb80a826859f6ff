"""Config entries: configured instances of integrations, stored with their secrets encrypted."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from secrets import token_hex, token_urlsafe
from typing import Any, Final

from hub.core.bus import EventBus
from hub.core.crypto import Keyring
from hub.core.disk import DiskFaultError
from hub.core.errors import TOO_MANY_ENTRIES, HubError, StorageError
from hub.core.storage import StorageManager
from hub.integrations.entry import (
    EVENT_ENTRY_CREATED,
    EVENT_ENTRY_REMOVED,
    EVENT_ENTRY_UPDATED,
    ConfigEntry,
    EntryNotFoundError,
    EntryState,
)
from hub.integrations.entry_lifecycle import SETUP_TIMEOUT, EntryLifecycle
from hub.integrations.integration import SetupContext
from hub.integrations.registry import IntegrationRegistry

_LOGGER = logging.getLogger(__name__)

ENTRIES_KEY: Final = "core.config_entries"
ENTRIES_VERSION: Final = 1
WEBHOOK_FIELD: Final = "webhook_token"
"""The keyring field of an entry's webhook token, kept apart from the integration's own fields."""


class TooManyEntriesError(HubError):
    """The person already owns as many entries as ``integrations.max_entries_per_person`` allows."""

    code = TOO_MANY_ENTRIES
    http_status = 403


class ConfigEntries(EntryLifecycle):
    """Every config entry: stored, encrypted, set up, retried, reloaded and removed."""

    # One object rather than a store plus a delegating lifecycle: the two halves call each other
    # (create sets up, update reloads, migration updates) and share one lock and state per entry.

    def __init__(
        self,
        storage: StorageManager,
        keyring: Keyring,
        registry: IntegrationRegistry,
        bus: EventBus,
        *,
        setup_timeout: float = SETUP_TIMEOUT,
        max_per_person: int | None = None,
    ) -> None:
        super().__init__(registry, setup_timeout=setup_timeout)
        self.max_per_person = max_per_person
        """How many entries one person may own; global entries (admins' only) are not counted."""
        self._store = storage.store(ENTRIES_KEY, ENTRIES_VERSION)
        self._keyring = keyring
        self._bus = bus
        self._entries = {}
        self._webhook_tokens: dict[str, str] = {}
        self.context_extras: Callable[[ConfigEntry], Mapping[str, Any]] | None = None
        """Adds what later layers hand integrations (``writer``, ``events``) to every context."""

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
        if entry is None:
            return False
        # Decrypted even for a disabled entry: that registers the token for redaction, so the
        # access log of a sender still posting to it after a restart shows ``token=***``.
        matches = hmac.compare_digest(self.webhook_token(entry).encode(), token.encode())
        return matches and not entry.disabled

    def check_room(self, owner: str | None) -> None:
        """Raise ``TooManyEntriesError`` if ``owner`` may not add another entry of their own."""
        if owner is None or self.max_per_person is None:
            return
        owned = sum(1 for entry in self._entries.values() if entry.owner == owner)
        if owned >= self.max_per_person:
            raise TooManyEntriesError(
                f"you have {owned} config entries, the most one person may have;"
                " remove one you no longer use first"
            )

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
        self.check_room(owner)
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
        # Removal destroys what cannot come back (entities before the entry, so a crash never
        # leaves orphans; then its data key). A full or read-only disk must refuse before any
        # of that: this write of the unchanged file fails then, with nothing touched.
        await self._commit()
        await self.unload(entry)
        try:
            hooks = [h(entry) for h in self.on_remove]
            await self._run_hooks("removal", entry, hooks, stop_on=DiskFaultError)
            position = list(self._entries).index(entry_id)
            del self._entries[entry_id]
            try:
                await self._commit()
            except StorageError:
                kept = list(self._entries.items())
                kept.insert(position, (entry_id, entry))  # entries keep their order
                self._entries = dict(kept)
                raise
        except StorageError:
            await self.setup(entry)  # the disk refused: the entry runs again as it did
            raise
        self._webhook_tokens.pop(entry_id, None)
        self._forget_runtime(entry_id)
        await self._keyring.forget_owner(entry_id)
        _LOGGER.info("Removed config entry %s (%s)", entry_id, entry.domain)
        self._bus.fire(EVENT_ENTRY_REMOVED, entry.event_data())

    async def transfer(self, entry_id: str, owner: str) -> ConfigEntry:
        """Hand a person's entry to another person: unloaded, saved as theirs, set up again."""
        entry = self.require(entry_id)
        previous, updated_at = entry.owner, entry.updated_at
        # Unloaded first so nothing it contributed is projected for the old owner meanwhile.
        await self.unload(entry)
        entry.owner, entry.updated_at = owner, _now()
        try:
            await self._commit()
        except StorageError:
            entry.owner, entry.updated_at = previous, updated_at
            await self.setup(entry)  # the disk refused: it runs again as it did
            raise
        _LOGGER.info("Handed config entry %s (%s) to %s", entry_id, entry.domain, owner)
        self._bus.fire(EVENT_ENTRY_UPDATED, entry.event_data())
        await self.setup(entry)
        return entry

    async def set_disabled(self, entry_id: str, disabled: bool) -> ConfigEntry:
        """Disable (unload, and keep unloaded across restarts) or enable (set up) an entry."""
        entry = self.require(entry_id)
        if entry.disabled == disabled:
            return entry
        previous = entry.updated_at
        entry.disabled = disabled
        entry.updated_at = _now()
        try:
            # On disk first: if the disk refuses, the entry keeps running (or stays off) as it was.
            await self._commit()
        except StorageError:
            entry.disabled, entry.updated_at = not disabled, previous
            raise
        if disabled:
            await self.unload(entry)
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

    async def set_setting(self, entry_id: str, key: str, value: Any) -> ConfigEntry:
        """Record an admin's setting on the entry (``None`` removes it), on disk before returning."""
        entry = self.require(entry_id)
        before, updated_at = entry.extra.get(key), entry.updated_at
        if value is None:
            entry.extra.pop(key, None)
        else:
            entry.extra[key] = value
        entry.updated_at = _now()
        try:
            await self._commit()
        except StorageError:  # the disk refused: the setting stays what it was (and is enforced)
            if before is None:
                entry.extra.pop(key, None)
            else:
                entry.extra[key] = before
            entry.updated_at = updated_at
            raise
        self._bus.fire(EVENT_ENTRY_UPDATED, entry.event_data())
        return entry

    # Internals

    def _snapshot(self) -> dict[str, Any]:
        return {"entries": [entry.to_json() for entry in self._entries.values()]}

    async def _commit(self) -> None:
        await self._store.commit(self._snapshot)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
