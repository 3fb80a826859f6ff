"""Each person's agent preferences, in ``.storage/core.agent_preferences``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Final

from hub.core.storage import StorageManager, commit_item

PREFERENCES_KEY: Final = "core.agent_preferences"


@dataclass(frozen=True, slots=True)
class AgentPreferences:
    """What a person chose for their runs."""

    allow_local_fetch: bool = False
    """Let ``web_fetch`` reach addresses on the LAN, loopback and link-local (off: SSRF guard)."""

    def public(self) -> dict[str, Any]:
        """What a client sees."""
        return asdict(self)


class Preferences:
    """Every person's agent preferences."""

    def __init__(self, storage: StorageManager) -> None:
        self._store = storage.store(PREFERENCES_KEY, 1)
        self._people: dict[str, AgentPreferences] = {}

    async def load(self) -> None:
        """Read the stored preferences."""
        data = await self._store.load()
        if data is not None:
            self._people = {pid: AgentPreferences(**p) for pid, p in data["people"].items()}

    def of(self, person_id: str) -> AgentPreferences:
        """A person's preferences (the defaults until they change one)."""
        return self._people.get(person_id, AgentPreferences())

    async def update(self, person_id: str, *, allow_local_fetch: bool) -> AgentPreferences:
        """Change a person's preferences."""
        changed = replace(self.of(person_id), allow_local_fetch=allow_local_fetch)
        await commit_item(
            self._store,
            self._people,
            person_id,
            changed,
            lambda: {"people": {pid: p.public() for pid, p in self._people.items()}},
        )
        return changed
