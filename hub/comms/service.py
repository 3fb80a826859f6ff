"""Comms as one service: the parts built together, tied to the entries' lifecycle, started and stopped."""

from __future__ import annotations

from typing import Any

from hub.comms.contacts import Contacts
from hub.comms.drafts import Drafts
from hub.comms.inbox import Inbox
from hub.comms.ingest import Ingest, comms_entity_types
from hub.comms.listeners import Listeners
from hub.comms.rules import RulesStore
from hub.comms.triage import AskModel, Triage
from hub.config import HubConfig
from hub.core.bus import EventBus
from hub.core.database import Database
from hub.core.scheduler import Scheduler
from hub.core.storage import StorageManager
from hub.entities.service import EntityService
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.entry import ConfigEntry
from hub.integrations.integration import Integration
from hub.integrations.registry import IntegrationRegistry


class Comms:
    """Ingestion, listeners, the inbox, triage, contacts and drafts of every message account."""

    def __init__(
        self,
        database: Database,
        bus: EventBus,
        storage: StorageManager,
        entries: ConfigEntries,
        registry: IntegrationRegistry,
        entities: EntityService,
        scheduler: Scheduler,
        config: HubConfig,
        ask_model: AskModel | None,
    ) -> None:
        self._entries = entries
        self._registry = registry
        self.inbox = Inbox(database, bus)
        self.ingest = Ingest(entries, registry, entities, scheduler, config.scheduler, config.comms)
        self.ingest.after_apply = self.inbox.sweep_now
        self.listeners = Listeners(entries, self.ingest, config.comms)
        self.contacts = Contacts(database, bus)
        self.rules = RulesStore(storage)
        self.drafts = Drafts(database, bus, entries, registry, self.inbox)
        self.triage = Triage(
            bus, entries, registry, self.inbox, self.contacts, self.rules, self.drafts, ask_model
        )

    def attach(self) -> None:
        """Hook into the entries' lifecycle; call once, before entries are set up."""
        self._entries.after_setup.append(self._after_setup)
        self._entries.before_unload.append(self._before_unload)
        self._entries.on_remove.append(self.drafts.forget_entry)

    async def start(self) -> None:
        """Start taking messages into the inbox and triaging them (a crash's leftovers first)."""
        await self.drafts.recover()
        self.inbox.start(self._message_types())
        self.triage.start()

    async def stop(self) -> None:
        """Stop listeners, pulls, triage and the inbox's sweeps."""
        await self.listeners.stop()
        await self.ingest.stop()
        await self.triage.stop()
        await self.inbox.stop()

    async def thread_drafts(
        self, key: str, person_id: str, *, is_admin: bool
    ) -> list[dict[str, Any]]:
        """The drafts of a thread the person may see, as the API shows them."""
        drafts = await self.drafts.find(person_id, thread_key=key)
        return [self.drafts.view(draft, person_id, is_admin=is_admin) for draft in drafts]

    async def _after_setup(self, entry: ConfigEntry, integration: Integration) -> None:
        self.inbox.set_types(self._message_types())
        await self.ingest.after_setup(entry, integration)
        await self.listeners.after_setup(entry, integration)

    async def _before_unload(self, entry: ConfigEntry) -> None:
        await self.listeners.before_unload(entry)
        await self.ingest.before_unload(entry)

    def _message_types(self) -> list[tuple[str, str]]:
        return [
            (domain, key)
            for domain, keys in comms_entity_types(self._registry).items()
            for key in keys
        ]
