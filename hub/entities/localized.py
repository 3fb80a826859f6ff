"""Entity types and devices as a reader sees them: in their language, from the integration's words.

Pure: a descriptor (or a stored device) and a ``Localizer`` in, JSON out. The words live in the
integration's ``translations/<lang>.json`` under ``entity.<translation_key>`` and
``device.<translation_key>``; whatever is missing falls back to the English the integration
declared, so an integration without translations keeps working as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.integrations.entities import DeviceInfo, EntityStateTypeDescriptor
from hub.integrations.manifest import FieldDescriptor
from hub.integrations.translations import Localizer


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """A stored device: its id, the entry that made it, and what the integration said about it."""

    id: int
    entry_id: str
    info: DeviceInfo


def _own(localize: Localizer, key: str, fallback: str) -> str:
    # Only the integration's own files: a hub-wide key must never name another domain's thing.
    text = localize.get_own(key)
    return fallback if text is None else text


def _own_table(localize: Localizer, prefix: str) -> dict[str, str]:
    """Every ``prefix.<name>`` the integration translates, most specific language winning."""
    found: dict[str, str] = {}
    for table in reversed(localize.own):  # English first, so the reader's language overwrites it
        for key, text in table.items():
            if key.startswith(prefix):
                found[key[len(prefix) :]] = text
    return found


def _field(field: FieldDescriptor, localize: Localizer, base: str) -> dict[str, Any]:
    out = field.model_dump(mode="json")
    out["label"] = _own(localize, f"{base}.field.{field.name}", field.label)
    return out


def localized_type(
    domain: str, descriptor: EntityStateTypeDescriptor, localize: Localizer
) -> dict[str, Any]:
    """One entity type for the UI: its name, unit, classes, attribute and state labels, actions."""
    base = f"entity.{descriptor.text_key}"
    attributes = {field.name: field.label for field in descriptor.attributes}
    attributes.update(_own_table(localize, f"{base}.attribute."))
    return {
        "domain": domain,
        "key": descriptor.key,
        "translation_key": descriptor.text_key,
        "name": _own(localize, f"{base}.name", descriptor.name),
        "source_name": descriptor.name,
        "unit": descriptor.unit,
        "device_class": descriptor.device_class,
        "state_class": descriptor.state_class,
        "category": descriptor.category,
        "attributes": attributes,
        "states": _own_table(localize, f"{base}.state."),
        "actions": [
            {
                "name": action.name,
                "label": _own(localize, f"{base}.action.{action.name}", action.label),
                "fields": [_field(field, localize, base) for field in action.fields],
            }
            for action in descriptor.actions
        ],
    }


def localized_device(device: DeviceRow, domain: str, localize: Localizer) -> dict[str, Any]:
    """One device for the UI; its name translated when the integration gave it a translation key."""
    info = device.info
    name = info.name
    if info.translation_key is not None:
        name = _own(localize, f"device.{info.translation_key}.name", name or info.identifier)
    return {
        "id": device.id,
        "entry_id": device.entry_id,
        "domain": domain,
        "name": name,
        "manufacturer": info.manufacturer,
        "model": info.model,
        "sw_version": info.sw_version,
        "hw_version": info.hw_version,
        "configuration_url": info.configuration_url,
    }
