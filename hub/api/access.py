"""Who may see and change what: the one place REST routes and websocket commands ask."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from hub.api.state import CONFIG_ENTRIES, ENTITIES
from hub.auth.principal import Principal
from hub.core.bus import Event
from hub.core.errors import ForbiddenError, UnauthorizedError
from hub.entities.schema import EntityRow
from hub.entities.service import EntityNotFoundError
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.entry import (
    EVERYONE,
    ConfigEntry,
    EntryNotFoundError,
    audience,
    may_manage,
    visible_entries,
    visible_to,
)

PRINCIPAL_KEY: Final = web.RequestKey("principal", Principal)
"""Where the auth middleware leaves the caller on a request."""


def principal_of(request: web.Request) -> Principal:
    """The caller; the middleware guarantees one on every protected route."""
    principal = request.get(PRINCIPAL_KEY)
    if not isinstance(principal, Principal):
        raise UnauthorizedError("sign in first")
    return principal


def require_admin(principal: Principal) -> None:
    """Only admins manage global entries, the catalog and people."""
    if not principal.is_admin:
        raise ForbiddenError("only an admin may do this", key="errors.admin_only")


def visible_entry_ids(app: web.Application, principal: Principal) -> list[str]:
    """The entries whose entities, syncs and flows the caller may see."""
    entries = app[CONFIG_ENTRIES].entries()
    return [entry.entry_id for entry in visible_entries(entries, principal.person_id)]


def entry_for(
    app: web.Application, principal: Principal, entry_id: str, *, manage: bool
) -> ConfigEntry:
    """The entry if the caller may see it (else the same 404 as a missing one); ``manage`` also
    requires the right to change it: an admin for a global entry, the owner for a user entry."""
    entry = app[CONFIG_ENTRIES].get(entry_id)
    if entry is None or not visible_to(entry, principal.person_id):
        raise EntryNotFoundError(f"no config entry {entry_id!r}")
    if manage:
        require_manager(principal, entry)
    return entry


async def entity_for(
    app: web.Application, principal: Principal, entity_id: int, *, manage: bool
) -> EntityRow:
    """The entity if its entry is visible to the caller (else the same 404 as a missing one)."""
    row = await app[ENTITIES].get(entity_id)
    entry = app[CONFIG_ENTRIES].get(row.entry_id)
    if entry is None or not visible_to(entry, principal.person_id):
        raise EntityNotFoundError(f"no entity {entity_id}")
    if manage:
        require_manager(principal, entry)
    return row


def require_manager(principal: Principal, entry: ConfigEntry) -> None:
    """Changing a visible entry: the household's (global) ones are the admins' to change."""
    if not may_manage(entry, principal.person_id, is_admin=principal.is_admin):
        require_admin(principal)


# Events

ADMINS: Final = "@admins"
"""The audience of the hub's own events (start, stop), which concern no entry and no person."""


def audience_keys(principal: Principal) -> frozenset[str]:
    """The audiences whose events the caller may see: everyone's, their own, and admins' if one."""
    keys = {EVERYONE, principal.person_id}
    if principal.is_admin:
        keys.add(ADMINS)
    return frozenset(keys)


class EventAudience:
    """Whose an event is: the one rule the event log and every websocket event ask.

    A user entry's events and a person's own events are that person's alone, admins included; a
    global entry's events are everyone's; the hub's own events are the admins'. An entry that is
    gone is remembered from its removal, so its last events still reach only whom they did.
    """

    def __init__(self, entries: ConfigEntries) -> None:
        self._entries = entries
        self._removed: dict[str, str | None] = {}

    def __call__(self, event: Event[Mapping[str, Any]]) -> str | None:
        """The event's audience key (see ``audience_keys``), or ``None`` when it is no one's."""
        data = event.data
        entry_id, person = data.get("entry_id"), data.get("person_id")
        person = person if isinstance(person, str) and person else None
        if not isinstance(entry_id, str):
            return ADMINS if person is None else person
        entry = self._entries.get(entry_id)
        # The entry's audience is the one visibility rule (``hub.integrations.entry.audience``).
        key = self._removed.get(entry_id) if entry is None else audience(entry)
        if key == EVERYONE and person is not None:
            return person  # a person's own event about a household entry is still theirs
        return key

    async def remember(self, entry: ConfigEntry) -> None:
        """Keep a removed entry's audience for the events its removal still fires."""
        self._removed[entry.entry_id] = audience(entry)


EVENT_AUDIENCE: Final = web.AppKey("event_audience", EventAudience)
