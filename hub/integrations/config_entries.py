"""Config entries: configured instances of integrations, stored with their secrets encrypted."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from secrets import token_hex, token_urlsafe
from typing import Any, Final, Unpack

from hub.core.bus import EventBus
from hub.core.committed import CommittedItems, with_item
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
    EntryRecords,
    EntrySettings,
    EntryState,
    migrate_entries,
)
from hub.integrations.entry_lifecycle import SETUP_TIMEOUT, EntryLifecycle
from hub.integrations.integration import SetupContext
from hub.integrations.location import HomeSource, no_home
from hub.integrations.registry import IntegrationRegistry

_LOGGER = logging.getLogger(__name__)

ENTRIES_KEY: Final = "core.config_entries"
ENTRIES_VERSION: Final = 2
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
        self._store = storage.store(ENTRIES_KEY, ENTRIES_VERSION, migrate=migrate_entries)
        self._keyring = keyring
        self._bus = bus
        self._state = CommittedItems[str, ConfigEntry](self._store, _encode)
        self._webhook_tokens: dict[str, str] = {}
        self.context_extras: Callable[[ConfigEntry], Mapping[str, Any]] | None = None
        """Adds what later layers hand integrations (``writer``, ``events``) to every context."""
        self.home_source: HomeSource = no_home
        """The hub's home location, read live by every context (``ctx.home_location()``)."""

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
        # What ran last time says nothing about this start; the reason of a failure is kept.
        self._state.reset(
            {entry.entry_id: replace(entry, state=EntryState.NOT_LOADED) for entry in entries}
        )

    @property
    def _entries(self) -> dict[str, ConfigEntry]:
        """What memory serves; swapped whole, never changed in place."""
        return self._state.value

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
            home_source=lambda: self.home_source(),
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

    # Changing: each change is a function from the stored entry to the next one (``None``:
    # absent), committed by ``CommittedItems``: served only once it is on disk.

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
        try:
            await self._commit_change(entry_id, lambda _: entry)
        except StorageError:
            await self._keyring.forget_owner(entry_id)  # the data key of an entry that never was
            raise
        _LOGGER.info("Created config entry %s (%s, %s)", entry_id, domain, scope)
        self._bus.fire(EVENT_ENTRY_CREATED, entry.event_data())
        await self.setup(entry)
        return self.require(entry_id)

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
        """Change an entry; in ``secret_changes`` an empty value clears, another replaces."""
        self.require(entry_id)
        changes = secret_changes or {}
        sealed = {
            name: await self._keyring.encrypt(entry_id, name, value)
            for name, value in changes.items()
            if value != ""
        }
        cleared = {name for name, value in changes.items() if value == ""}
        now = _now()

        def change(entry: ConfigEntry) -> ConfigEntry:
            kept = {k: v for k, v in entry.secrets.items() if k not in cleared}
            return replace(
                entry,
                title=entry.title if title is None else title,
                data=entry.data if data is None else dict(data),
                version=entry.version if version is None else version,
                secrets={**kept, **sealed},
                updated_at=now,
            )

        updated = await self._commit_edit(entry_id, change)
        self._bus.fire(EVENT_ENTRY_UPDATED, updated.event_data())
        if reload:
            await self.reload(entry_id)
        return self.require(entry_id)

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
            await self._commit_change(entry_id, lambda _: None)
        except StorageError:
            await self.setup(self.require(entry_id))  # the disk refused: it runs again as it did
            raise
        self._webhook_tokens.pop(entry_id, None)
        self._forget_runtime(entry_id)
        await self._keyring.forget_owner(entry_id)
        _LOGGER.info("Removed config entry %s (%s)", entry_id, entry.domain)
        self._bus.fire(EVENT_ENTRY_REMOVED, entry.event_data())

    async def transfer(self, entry_id: str, owner: str) -> ConfigEntry:
        """Hand a person's entry to another person: unloaded, saved as theirs, set up again."""
        entry = self.require(entry_id)
        now = _now()
        # Unloaded first so nothing it contributed is projected for the old owner meanwhile.
        await self.unload(entry)
        try:
            moved = await self._commit_edit(
                entry_id, lambda current: replace(current, owner=owner, updated_at=now)
            )
        except StorageError:
            await self.setup(self.require(entry_id))  # the disk refused: it runs again as it did
            raise
        _LOGGER.info("Handed config entry %s (%s) to %s", entry_id, entry.domain, owner)
        self._bus.fire(EVENT_ENTRY_UPDATED, moved.event_data())
        await self.setup(moved)
        return self.require(entry_id)

    async def set_disabled(self, entry_id: str, disabled: bool) -> ConfigEntry:
        """Disable (unload, and keep unloaded across restarts) or enable (set up) an entry."""
        entry = self.require(entry_id)
        if entry.disabled == disabled:
            return entry
        now = _now()
        # On disk first: if the disk refuses, the entry keeps running (or stays off) as it was.
        changed = await self._commit_edit(
            entry_id, lambda current: replace(current, disabled=disabled, updated_at=now)
        )
        if disabled:
            await self.unload(changed)
        self._bus.fire(EVENT_ENTRY_UPDATED, changed.event_data())
        if not disabled:
            await self.setup(changed)
        return self.require(entry_id)

    def note(self, entry_id: str, **records: Unpack[EntryRecords]) -> None:
        """Record hub-owned state on the entry (saved soon, not at once: it can be recomputed)."""
        if entry_id in self._entries:
            self._state.change_soon(
                lambda entries: with_item(
                    entries, entry_id, lambda entry: entry and replace(entry, **records)
                )
            )

    async def set_settings(self, entry_id: str, **settings: Unpack[EntrySettings]) -> ConfigEntry:
        """Record an admin's settings on the entry (``None`` unsets one), on disk before returning."""
        self.require(entry_id)
        now = _now()
        # Refused by the disk, the settings stay what they were, and are enforced as such.
        changed = await self._commit_edit(
            entry_id, lambda entry: replace(entry, **settings, updated_at=now)
        )
        self._bus.fire(EVENT_ENTRY_UPDATED, changed.event_data())
        return changed

    # Internals

    def _snapshot(self) -> Any:
        return self._state.snapshot()

    async def _commit(self) -> None:
        await self._state.commit()

    async def _commit_change(self, entry_id: str, change: Change) -> ConfigEntry | None:
        """Commit ``change`` of one entry, served once on disk; refused, memory is untouched."""
        return await self._state.change_item(entry_id, change)

    async def _commit_edit(
        self, entry_id: str, edit: Callable[[ConfigEntry], ConfigEntry]
    ) -> ConfigEntry:
        """``_commit_change`` of an existing entry; ``EntryNotFoundError`` if it went meanwhile."""
        changed = await self._commit_change(
            entry_id, lambda entry: None if entry is None else edit(entry)
        )
        if changed is None:
            raise EntryNotFoundError(f"no config entry {entry_id!r}")
        return changed

    def _swap(self, entry_id: str, change: Change) -> None:
        self._state.swap(lambda entries: with_item(entries, entry_id, change))


Change = Callable[[ConfigEntry | None], ConfigEntry | None]
"""The next version of one entry from its current one; ``None`` for an absent entry."""


def _encode(entries: Mapping[str, ConfigEntry]) -> dict[str, Any]:
    return {"entries": [entry.to_json() for entry in entries.values()]}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
