"""Work packages and rooms that are things of the world (``world_kind``), and notes that are not.

Each sync reads ``records.json`` next to this file (a list of ``[type, external_id, name]``) as the
complete set, so a test renames or deletes an entity by rewriting the file and syncing.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from hub.integrations.entities import (
    EntityStateRecord,
    EntityStateSyncResult,
    EntityStateTypeDescriptor,
    RelationTypeDescriptor,
)
from hub.integrations.integration import Integration, SetupContext

RECORDS = Path(__file__).resolve().parent / "records.json"
TYPES = {
    "work_package": EntityStateTypeDescriptor(
        key="work_package", name="Work package", world_kind="task"
    ),
    "room": EntityStateTypeDescriptor(key="room", name="Room", world_kind="place"),
    "note": EntityStateTypeDescriptor(key="note", name="Note"),
}


def _read() -> list[list[str]]:
    if not RECORDS.exists():
        return []
    data: list[list[str]] = json.loads(RECORDS.read_text())
    return data


class WorldShelf(Integration):
    """Syncs whatever ``records.json`` holds; registers one transitive relation of its own."""

    def entity_types(self) -> dict[str, EntityStateTypeDescriptor]:
        return dict(TYPES)

    def relation_types(self) -> dict[str, RelationTypeDescriptor]:
        key = f"{self.domain}:blocks"
        return {
            key: RelationTypeDescriptor(
                key=key, name="blocks", description="Must be done first.", is_transitive=True
            )
        }

    async def async_sync_entities(self, ctx: SetupContext) -> EntityStateSyncResult:
        rows = await asyncio.to_thread(_read)
        return EntityStateSyncResult(
            records=tuple(
                EntityStateRecord(entity_type=kind, external_id=key, name=name)
                for kind, key, name in rows
            ),
            full=True,
            entity_types=tuple(TYPES),
        )


INTEGRATION = WorldShelf()
