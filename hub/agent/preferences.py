"""Each person's agent preferences, in ``.storage/core.agent_preferences``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any, Final

from hub.core.committed import CommittedItems
from hub.core.errors import LOCAL_FETCH_ADMIN_ONLY, ForbiddenError
from hub.core.storage import StorageManager

PREFERENCES_KEY: Final = "core.agent_preferences"


@dataclass(frozen=True, slots=True)
class AgentPreferences:
    """What a person chose for their runs."""

    allow_local_fetch: bool = False
    """Let ``web_fetch`` reach addresses on the LAN, loopback and link-local (off: SSRF guard)."""

    def public(self) -> dict[str, Any]:
        """What a client sees."""
        return asdict(self)


class LocalFetchAdminOnlyError(ForbiddenError):
    """Only an admin may let web fetch reach the LAN: it reads services that trust loopback."""

    code = LOCAL_FETCH_ADMIN_ONLY


class Preferences:
    """Every person's agent preferences; ``is_admin`` decides who may allow local fetches."""

    def __init__(
        self, storage: StorageManager, *, is_admin: Callable[[str], bool] = lambda _: False
    ) -> None:
        self._people = CommittedItems[str, AgentPreferences](
            storage.store(PREFERENCES_KEY, 1), _encode
        )
        self._is_admin = is_admin

    async def load(self) -> None:
        """Read the stored preferences."""
        data = await self._people.store.load()
        if data is not None:
            self._people.reset({pid: AgentPreferences(**p) for pid, p in data["people"].items()})

    def of(self, person_id: str) -> AgentPreferences:
        """A person's preferences (the defaults until they change one).

        ``allow_local_fetch`` holds only while the person is an admin: a value a member saved
        before the setting became admin-only, or an admin who was made a member, reads as off.
        """
        chosen = self._people.value.get(person_id, AgentPreferences())
        if chosen.allow_local_fetch and not self._is_admin(person_id):
            return replace(chosen, allow_local_fetch=False)
        return chosen

    async def forget(self, person_id: str) -> None:
        """Drop a removed person's preferences."""
        if person_id in self._people.value:
            await self._people.set_item(person_id, None)

    async def update(self, person_id: str, *, allow_local_fetch: bool) -> AgentPreferences:
        """Change a person's preferences; allowing local fetches is for admins only."""
        if allow_local_fetch and not self._is_admin(person_id):
            raise LocalFetchAdminOnlyError(
                "allow_local_fetch: only an admin may let web fetch reach addresses on the LAN"
            )
        changed = replace(self.of(person_id), allow_local_fetch=allow_local_fetch)
        await self._people.set_item(person_id, changed)
        return changed


def _encode(people: dict[str, AgentPreferences]) -> dict[str, Any]:
    return {"people": {pid: p.public() for pid, p in people.items()}}
