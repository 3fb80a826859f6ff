"""Removing a person and what is theirs: entries (removed or handed to an admin), then the rest.

The person is signed out and barred first, so nothing new of theirs appears meanwhile; then their
config entries go the way ``DELETE /api/config-entries/{id}`` takes them (or move to an admin), then
what other parts of the hub keep per person (dashboards, sub-agents, conversations, preferences),
and last the account. Each step is durable on its own and a retry carries on where a refusing disk
stopped it: a person half removed stays listed and barred, never orphans running unlisted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from hub.auth.service import AuthService
from hub.core.errors import PERSON_HAS_ENTRIES, BadRequestError
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.entry import ConfigEntry, owned_by

_LOGGER = logging.getLogger(__name__)

Forget = Callable[[str], Awaitable[None]]

DELETE: Final = "delete"


class PersonHasEntriesError(BadRequestError):
    """The person has config entries and the request said neither to delete nor to hand them on."""

    code = PERSON_HAS_ENTRIES


@dataclass(frozen=True, slots=True)
class Removed:
    """What a removal did."""

    person_id: str
    entries_removed: int
    entries_transferred: int
    transferred_to: str | None

    def body(self) -> dict[str, object]:
        """The JSON answer."""
        return {
            "id": self.person_id,
            "removed": True,
            "entries_removed": self.entries_removed,
            "entries_transferred": self.entries_transferred,
            "transferred_to": self.transferred_to,
        }


class PersonRemoval:
    """Removes a person with everything of theirs; ``forget`` holds what later layers keep per person."""

    def __init__(self, auth: AuthService, entries: ConfigEntries) -> None:
        self._auth = auth
        self._entries = entries
        self.forget: list[Forget] = []
        """Called with the person's id after their entries: dashboards, agents, chats, preferences."""

    def entries_of(self, person_id: str) -> list[ConfigEntry]:
        """The person's own config entries (global ones belong to the household and stay)."""
        return [e for e in self._entries.entries() if owned_by(e, person_id)]

    async def remove(
        self, person_id: str, *, entries: str | None = None, transfer_to: str | None = None
    ) -> Removed:
        """Remove a person; ``entries="delete"`` removes their entries, ``transfer_to`` hands them on."""
        person = self._auth.check_removable(person_id)
        owned = self.entries_of(person_id)
        if entries is not None and entries != DELETE:
            raise BadRequestError("entries: the only choice is 'delete' (or give transfer_to)")
        if entries is not None and transfer_to is not None:
            raise BadRequestError("choose entries=delete or transfer_to, not both")
        if owned and entries is None and transfer_to is None:
            raise PersonHasEntriesError(
                f"{person.username} has {len(owned)} config entries: "
                "say entries=delete, or transfer_to an admin's id"
            )
        if transfer_to is not None:
            self._check_heir(person_id, transfer_to)
        await self._auth.begin_removal(person_id)
        for entry in owned:
            if transfer_to is not None:
                await self._entries.transfer(entry.entry_id, transfer_to)
            else:
                await self._entries.remove(entry.entry_id)
        for forget in self.forget:
            await forget(person_id)
        await self._auth.finish_removal(person_id)
        _LOGGER.info(
            "Removed person %s with %d entries (%s)",
            person.username,
            len(owned),
            f"handed to {transfer_to}" if transfer_to else "removed",
        )
        moved = len(owned) if transfer_to is not None else 0
        return Removed(person_id, len(owned) - moved, moved, transfer_to)

    def _check_heir(self, person_id: str, heir_id: str) -> None:
        heir = next((p for p in self._auth.people() if p.person_id == heir_id), None)
        if heir is None or heir_id == person_id or not heir.is_admin or heir.removing:
            raise BadRequestError(f"transfer_to: {heir_id!r} is not another admin")
