"""What integration code gets on its ``SetupContext``: a push writer and an event emitter."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hub.core.bus import EventBus, EventType
from hub.entities.service import EntityService
from hub.integrations.entities import EntityStateRecord, check_json


class EntryWriter:
    """The push path of one entry: ``upsert`` and ``remove`` through the shared apply path."""

    def __init__(self, service: EntityService, entry_id: str, domain: str) -> None:
        self._service = service
        self._entry_id = entry_id
        self._domain = domain

    async def upsert(self, record: EntityStateRecord) -> None:
        """Create or update one entity; returns once it is stored and announced."""
        await self._service.upsert(self._entry_id, self._domain, record)

    async def remove(self, entity_type: str, external_id: str) -> bool:
        """Delete one entity; ``False`` if there was none."""
        return await self._service.remove(self._entry_id, self._domain, entity_type, external_id)


class EntryEvents:
    """Fires an integration's declared custom events, stamped with the integration as origin and
    with the entry they come from, which decides who may see them."""

    def __init__(
        self, bus: EventBus, entry_id: str, domain: str, declared: Callable[[], set[str]]
    ) -> None:
        self._bus = bus
        self._entry_id = entry_id
        self._domain = domain
        self._declared = declared

    def emit(self, event_type: str, data: Mapping[str, Any] | None = None) -> None:
        """Fire ``event_type``; it must be one of the integration's ``event_types()``."""
        if event_type not in self._declared():
            raise ValueError(
                f"{self._domain} did not declare the event type {event_type!r} in event_types()"
            )
        payload = check_json(dict(data or {}), f"{event_type} data")
        payload["entry_id"] = self._entry_id  # who may see it follows its entry
        self._bus.fire(
            EventType[dict[str, Any]](event_type), payload, origin=f"integration.{self._domain}"
        )
