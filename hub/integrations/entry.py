"""A config entry: one configured instance of an integration, as stored and as shown."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final, TypedDict

from hub.core.bus import EventType
from hub.core.errors import ENTRY_NOT_FOUND, NotFoundError, Param


class EntryState(enum.StrEnum):
    """Where an entry is in its lifecycle."""

    NOT_LOADED = "not_loaded"
    LOADED = "loaded"
    SETUP_ERROR = "setup_error"
    SETUP_RETRY = "setup_retry"
    MIGRATION_ERROR = "migration_error"
    REAUTH_REQUIRED = "reauth_required"


class EntryNotFoundError(NotFoundError):
    """No config entry with that id."""

    code = ENTRY_NOT_FOUND


class ConfigEntryEventData(TypedDict):
    """What the bus says about an entry: never its data or secrets."""

    entry_id: str
    domain: str
    title: str
    state: str


EVENT_ENTRY_CREATED: Final = EventType[ConfigEntryEventData]("config_entry.created")
EVENT_ENTRY_UPDATED: Final = EventType[ConfigEntryEventData]("config_entry.updated")
EVENT_ENTRY_REMOVED: Final = EventType[ConfigEntryEventData]("config_entry.removed")
EVENT_ENTRY_STATE: Final = EventType[ConfigEntryEventData]("config_entry.state_changed")


class EntrySettings(TypedDict, total=False):
    """An admin's settings on an entry, as ``ConfigEntries.set_settings`` takes them (``None``: unset)."""

    sync_interval: int | None
    required_tier: str | None
    webhook_signing: str | None


class EntryRecords(TypedDict, total=False):
    """What the hub notes on an entry as it runs, as ``ConfigEntries.note`` takes them."""

    health: EntryHealth | None
    last_sync: Mapping[str, Any] | None
    listener: Mapping[str, Any] | None
    entities_seeded: bool


@dataclass(frozen=True, slots=True)
class EntryHealth:
    """The entry's last ``async_health`` answer (its detail and params already redacted)."""

    status: str
    detail: str
    checked_at: str
    key: str | None = None
    """The detail's translation key in the integration's files; ``detail`` is its English text."""
    params: Mapping[str, Param] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """As stored and as shown; ``key`` and ``params`` only when the detail has a key."""
        stored: dict[str, Any] = {
            "status": self.status,
            "detail": self.detail,
            "checked_at": self.checked_at,
        }
        if self.key is not None:
            stored.update(key=self.key, params=dict(self.params))
        return stored


SEEDED_KEY: Final = "initial_entities_seeded"
"""The stored and public name of ``ConfigEntry.entities_seeded``."""


@dataclass(frozen=True, slots=True, eq=False)
class ConfigEntry:
    """One configured instance; ``secrets``, ``webhook_token`` and ``webhook_signing`` are ciphertext.

    Frozen: a change builds the next entry (``dataclasses.replace``) and swaps it in once stored.
    """

    entry_id: str
    domain: str
    title: str
    scope: str
    owner: str | None
    data: Mapping[str, Any]
    secrets: Mapping[str, str]
    version: int
    created_at: str
    updated_at: str
    webhook_token: str
    disabled: bool = False
    state: EntryState = EntryState.NOT_LOADED
    reason: str | None = None
    sync_interval: int | None = None
    """An admin's own seconds between syncs, in place of the iot class's default."""
    required_tier: str | None = None
    """An admin's override of the manifest's ``required_tier`` (read fail-closed by governance)."""
    webhook_signing: str | None = None
    """The sealed webhook signing secret; never shown to a client, not even as ciphertext."""
    health: EntryHealth | None = None
    last_sync: Mapping[str, Any] | None = None
    listener: Mapping[str, Any] | None = None
    """The comms listener's last state (``hub.comms.listeners``): running, backing off or stopped."""
    entities_seeded: bool = False
    """Whether ``async_initial_entities`` has been applied once."""

    def to_json(self) -> dict[str, Any]:
        """What ``.storage/core.config_entries`` holds (version 2: no ``extra`` bag)."""
        return {
            "entry_id": self.entry_id,
            "domain": self.domain,
            "title": self.title,
            "scope": self.scope,
            "owner": self.owner,
            "data": dict(self.data),
            "secrets": dict(self.secrets),
            "version": self.version,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "webhook_token": self.webhook_token,
            "disabled": self.disabled,
            "state": str(self.state),
            "reason": self.reason,
            "sync_interval": self.sync_interval,
            "required_tier": self.required_tier,
            "webhook_signing": self.webhook_signing,
            "health": self.health.to_json() if self.health is not None else None,
            "last_sync": dict(self.last_sync) if self.last_sync is not None else None,
            "listener": dict(self.listener) if self.listener is not None else None,
            SEEDED_KEY: self.entities_seeded,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConfigEntry:
        """Read what ``to_json`` wrote; ``KeyError``/``TypeError``/``ValueError`` if it is damaged."""
        health = data.get("health")
        return cls(
            entry_id=data["entry_id"],
            domain=data["domain"],
            title=data["title"],
            scope=data["scope"],
            owner=data["owner"],
            data=dict(data["data"]),
            secrets=dict(data["secrets"]),
            version=data["version"],
            created_at=data["created_at"],
            updated_at=data["updated_at"],
            webhook_token=data["webhook_token"],
            disabled=data.get("disabled", False),
            state=EntryState(data["state"]),
            reason=data.get("reason"),
            sync_interval=data.get("sync_interval"),
            required_tier=data.get("required_tier"),
            webhook_signing=data.get("webhook_signing"),
            health=EntryHealth(**health) if health is not None else None,
            last_sync=data.get("last_sync"),
            listener=data.get("listener"),
            entities_seeded=bool(data.get(SEEDED_KEY, False)),
        )

    def as_public(self) -> dict[str, Any]:
        """What a client may see: no secret values, no webhook token, no signing secret."""
        # The optional keys appear only once set, as clients have always seen them.
        optional = {
            "sync_interval": self.sync_interval,
            "required_tier": self.required_tier,
            "health": self.health.to_json() if self.health is not None else None,
            "last_sync": dict(self.last_sync) if self.last_sync is not None else None,
            "listener": dict(self.listener) if self.listener is not None else None,
            SEEDED_KEY: self.entities_seeded or None,
        }
        return {
            "entry_id": self.entry_id,
            "domain": self.domain,
            "title": self.title,
            "scope": self.scope,
            "owner": self.owner,
            "data": dict(self.data),
            "secret_fields": sorted(self.secrets),
            "version": self.version,
            "state": str(self.state),
            "reason": self.reason,
            "disabled": self.disabled,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            **{key: value for key, value in optional.items() if value is not None},
            "webhook_signed": bool(self.webhook_signing),
        }

    def event_data(self) -> ConfigEntryEventData:
        """The entry as the bus tells it."""
        return ConfigEntryEventData(
            entry_id=self.entry_id, domain=self.domain, title=self.title, state=str(self.state)
        )


def migrate_entries(version: int, minor_version: int, data: Any) -> Any:
    """Storage migration: version 1 kept hub-owned state in an untyped ``extra`` bag; 2 types it."""
    if version == 1:
        data = {**data, "entries": [_lift_extra(entry) for entry in data["entries"]]}
    return data


def _lift_extra(stored: Mapping[str, Any]) -> dict[str, Any]:
    """A version-1 entry with what its ``extra`` held moved to the typed fields of version 2."""
    entry = {key: value for key, value in stored.items() if key != "extra"}
    extra: Mapping[str, Any] = stored.get("extra") or {}
    interval = extra.get("sync_interval")
    tier = extra.get("required_tier")
    entry.update(
        # What the old code would not have used (a non-integer interval) stays unused; a tier
        # nobody can read is kept as text, so governance still reads it fail-closed.
        sync_interval=interval if type(interval) is int else None,
        required_tier=None if tier is None else str(tier),
        webhook_signing=extra.get("webhook_signing") or None,
        health=extra.get("health"),
        last_sync=extra.get("last_sync"),
    )
    entry[SEEDED_KEY] = bool(extra.get(SEEDED_KEY, False))
    return entry


# Who may see an entry. This is the one place that reads an entry's scope and owner to decide it:
# REST, the websocket, the event log and the agent's assembler all ask the functions below.

EVERYONE: Final = "*"
"""The audience of a global entry: every person."""


def audience(entry: ConfigEntry) -> str | None:
    """Who may see ``entry`` and all of it: ``EVERYONE`` (global), its owner alone (user), or no one."""
    if entry.scope == "global":
        return EVERYONE
    if entry.scope == "user":
        return entry.owner
    return None  # a scope this hub does not know is nobody's, never everybody's


def visible_to(entry: ConfigEntry, person_id: str | None) -> bool:
    """Whether ``person_id`` may see ``entry``: a global one always, a user one only as its owner.

    Being an admin changes nothing here: another person's own entries stay theirs alone.
    """
    seen_by = audience(entry)
    return seen_by == EVERYONE or (seen_by is not None and seen_by == person_id)


def owned_by(entry: ConfigEntry, person_id: str | None) -> bool:
    """Whether ``entry`` is ``person_id``'s own (a user entry of theirs), not the household's."""
    seen_by = audience(entry)
    return seen_by not in (None, EVERYONE) and seen_by == person_id


def may_manage(entry: ConfigEntry, person_id: str | None, *, is_admin: bool) -> bool:
    """Whether ``person_id`` may change ``entry``: a visible one of their own, or any visible
    household (global) entry when they are an admin."""
    if not visible_to(entry, person_id):
        return False
    return is_admin or audience(entry) != EVERYONE


def visible_entries(entries: Iterable[ConfigEntry], person_id: str | None) -> list[ConfigEntry]:
    """The entries ``person_id`` may see (``visible_to``), in the order given."""
    return [entry for entry in entries if visible_to(entry, person_id)]


def contribution_owner(entry: ConfigEntry) -> str | None:
    """Who owns what an entry contributes (surfaces, agents): its person, or ``None`` for everyone."""
    seen_by = audience(entry)
    return None if seen_by == EVERYONE else seen_by


def last_of_its_scope(entry: ConfigEntry, remaining: Iterable[ConfigEntry]) -> bool:
    """Whether no other entry of the domain holds its contributions in the same scope."""
    owner = contribution_owner(entry)
    return not any(
        other.entry_id != entry.entry_id
        and other.domain == entry.domain
        and contribution_owner(other) == owner
        for other in remaining
    )


def drop_contributions(
    items: MutableMapping[str, Any], entry: ConfigEntry, remaining: Iterable[ConfigEntry]
) -> bool:
    """Remove what ``entry``'s domain contributed in its scope, if no other entry holds it.

    ``items`` maps slugs to surfaces or agents (anything with ``source_domain`` and ``owner``);
    whether anything was removed.
    """
    if not last_of_its_scope(entry, remaining):
        return False
    owner = contribution_owner(entry)
    doomed = [
        slug
        for slug, item in items.items()
        if item.source_domain == entry.domain and item.owner == owner
    ]
    for slug in doomed:
        del items[slug]
    return bool(doomed)
