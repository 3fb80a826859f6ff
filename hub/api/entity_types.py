"""``GET /api/entity-types``: every entity type and device the caller may see, in their language.

One request gives the UI all it needs to name and show entities - type names, units, classes,
state and attribute labels, actions with their labels - and the devices to group them by, so a
page asks once, alongside its ``subscribe_entities`` snapshot, not once per type.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.api.access import principal_of, visible_entry_ids
from hub.api.request import language_of
from hub.api.state import CONFIG_ENTRIES, ENTITIES, REGISTRY, TRANSLATIONS
from hub.entities.localized import localized_device, localized_type


async def list_entity_types(request: web.Request) -> web.Response:
    """The types of the integrations with an entry the caller may see, and those entries' devices."""
    app = request.app
    translations = app[TRANSLATIONS]
    language = language_of(request, translations, None, None)
    entry_ids = visible_entry_ids(app, principal_of(request))
    entries = app[CONFIG_ENTRIES]
    domain_of = {
        entry_id: entry.domain
        for entry_id in entry_ids
        if (entry := entries.get(entry_id)) is not None
    }
    service = app[ENTITIES]
    registry = app[REGISTRY]
    types: list[dict[str, Any]] = []
    integrations: dict[str, str] = {}
    for domain in sorted(set(domain_of.values())):
        loaded = registry.get(domain)
        if loaded is None:
            continue  # its entities stay listed; the UI shows them with their raw type
        localize = translations.localizer(domain, language)
        integrations[domain] = translations.title(domain, language, loaded.manifest.name)
        for descriptor in service.types.declared(domain).values():
            types.append(localized_type(domain, descriptor, localize))
    devices = [
        localized_device(
            device,
            domain_of[device.entry_id],
            translations.localizer(domain_of[device.entry_id], language),
        )
        for device in await service.devices(domain_of)
    ]
    return web.json_response(
        {"language": language, "integrations": integrations, "types": types, "devices": devices}
    )


def register(app: web.Application) -> None:
    """Add the entity types route."""
    app.router.add_get("/api/entity-types", list_entity_types)
