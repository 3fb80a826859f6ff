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
