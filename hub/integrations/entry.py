"""A config entry: one configured instance of an integration, as stored and as shown."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final, TypedDict

from hub.core.bus import EventType
from hub.core.errors import ENTRY_NOT_FOUND, NotFoundError


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


PRIVATE_EXTRAS: Final = frozenset({"webhook_signing"})
"""Hub-owned entry state that never goes to a client (ciphertext, even if unreadable)."""


@dataclass(slots=True, eq=False)
class ConfigEntry:
    """One configured instance; ``secrets`` and ``webhook_token`` hold ciphertext only."""

    entry_id: str
    domain: str
    title: str
    scope: str
    owner: str | None
    data: dict[str, Any]
    secrets: dict[str, str]
    version: int
    created_at: str
    updated_at: str
    webhook_token: str
    disabled: bool = False
    state: EntryState = EntryState.NOT_LOADED
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Persisted state other parts of the hub keep on the entry (health, last sync, ...)."""

    def to_json(self) -> dict[str, Any]:
        """What ``.storage/core.config_entries`` holds."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConfigEntry:
        """Read what ``to_json`` wrote."""
        return cls(**{**data, "state": EntryState(data["state"])})

    def as_public(self) -> dict[str, Any]:
        """What a client may see: no secret values, no webhook token."""
        return {
            "entry_id": self.entry_id,
            "domain": self.domain,
            "title": self.title,
            "scope": self.scope,
            "owner": self.owner,
            "data": self.data,
            "secret_fields": sorted(self.secrets),
            "version": self.version,
            "state": str(self.state),
            "reason": self.reason,
            "disabled": self.disabled,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            **{k: v for k, v in self.extra.items() if k not in PRIVATE_EXTRAS},
            "webhook_signed": bool(self.extra.get("webhook_signing")),
        }

    def event_data(self) -> ConfigEntryEventData:
        """The entry as the bus tells it."""
        return ConfigEntryEventData(
            entry_id=self.entry_id, domain=self.domain, title=self.title, state=str(self.state)
        )


def visible_entries(entries: Iterable[ConfigEntry], owner: str | None) -> list[ConfigEntry]:
    """Global entries and the ``owner``'s own; another person's user entries stay invisible."""
    return [e for e in entries if e.scope == "global" or (owner is not None and e.owner == owner)]


def contribution_owner(entry: ConfigEntry) -> str | None:
    """Who owns what an entry contributes (surfaces, agents): its person, or ``None`` for everyone."""
    return entry.owner if entry.scope == "user" else None


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
