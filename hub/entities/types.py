"""What integrations declare about their entity types, read once per domain: views and categories."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from hub.entities.listing import iso_millis
from hub.entities.query import categorised_types
from hub.entities.schema import EntityRow
from hub.entities.store import TypeInfo
from hub.integrations.entities import EntityStateTypeDescriptor
from hub.integrations.registry import IntegrationRegistry

_LOGGER = logging.getLogger(__name__)


class EntityTypes:
    """The loaded integrations' entity type declarations, cached per domain."""

    def __init__(self, registry: IntegrationRegistry) -> None:
        self._registry = registry
        self._types: dict[str, dict[str, EntityStateTypeDescriptor]] = {}
        self._infos: dict[str, dict[str, TypeInfo]] = {}

    def declared(self, domain: str) -> dict[str, EntityStateTypeDescriptor]:
        """The types ``domain`` declares; none when it is not loaded or its declaration fails."""
        cached = self._types.get(domain)
        if cached is None:
            loaded = self._registry.get(domain)
            cached = {}
            if loaded is not None:
                try:
                    cached = dict(loaded.integration.entity_types())
                except Exception:  # a broken declaration means no types, not a crash
                    _LOGGER.exception("entity_types() of %s failed", domain)
            self._types[domain] = cached
        return cached

    def descriptor(self, domain: str, entity_type: str) -> EntityStateTypeDescriptor | None:
        """The integration's declaration of an entity type, if it is still loaded."""
        return self.declared(domain).get(entity_type)

    def infos(self, domain: str) -> Mapping[str, TypeInfo]:
        """What the apply path needs of each of ``domain``'s types."""
        infos = self._infos.get(domain)
        if infos is None:
            infos = {
                key: TypeInfo(visible_default=d.visible_default, rag=d.rag, to_text=d.to_text)
                for key, d in self.declared(domain).items()
            }
            self._infos[domain] = infos
        return infos

    def categorised(self, category: str | None) -> dict[tuple[str, str], str]:
        """``(domain, type) → category`` of every loaded type, when a listing filters by category."""
        if category is None:
            return {}  # no category filter: the declarations are not needed
        declared = ((domain, self.declared(domain)) for domain in self._registry.domains)
        return categorised_types(declared)

    def loaded(self) -> dict[tuple[str, str], EntityStateTypeDescriptor]:
        """``(domain, type) → declaration`` of every loaded integration's types."""
        return {
            (domain, key): descriptor
            for domain in self._registry.domains
            for key, descriptor in self.declared(domain).items()
        }

    def view(self, row: EntityRow) -> dict[str, Any]:
        """The JSON a client sees for an entity."""
        descriptor = self.descriptor(row.domain, row.entity_type)
        return {
            "id": row.id,
            "entry_id": row.entry_id,
            "domain": row.domain,
            "entity_type": row.entity_type,
            "external_id": row.external_id,
            "name": row.name,
            "state": row.state,
            "attributes": row.attributes,
            "parent_id": row.parent_id,
            "device_id": row.device_id,
            "visible": row.visible,
            "category": descriptor.category if descriptor else None,
            "device_class": descriptor.device_class if descriptor else None,
            "state_class": descriptor.state_class if descriptor else None,
            "unit": descriptor.unit if descriptor else None,
            "actions": [
                action.model_dump(mode="json")
                for action in (descriptor.actions if descriptor else ())
            ],
            "created_at": _iso(row.created_at),
            "updated_at": _iso(row.updated_at),
            "last_changed": _iso(row.last_changed),
        }


_iso = iso_millis  # the listings' SQL writes the same text
