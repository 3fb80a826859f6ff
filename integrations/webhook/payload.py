"""The webhook body: one strict parser whose error names the exact place (``entities[3].state``).

The format (README.md in this folder shows it with curl)::

    {
      "entities": [
        {"id": "garage_door", "name": "Garage door", "state": "open", "attributes": {"battery": 87}}
      ],
      "event": {"type": "door_opened", "data": {"by": "alice"}}
    }

Both keys are optional, but a body needs at least one. A single entity object
(``{"id": "garage_door", "state": "open"}``) is accepted as the whole body too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from hub.integrations.entities import StateValue, check_json
from hub.integrations.integration import WebhookPayloadError

MAX_ENTITIES: Final = 500
MAX_ID_LENGTH: Final = 200
MAX_NAME_LENGTH: Final = 200
MAX_EVENT_TYPE_LENGTH: Final = 100

BODY_KEYS: Final = ("entities", "event")
ENTITY_KEYS: Final = ("id", "name", "state", "attributes")
EVENT_KEYS: Final = ("type", "data")


@dataclass(frozen=True, slots=True)
class PostedEntity:
    """One entity as the sender posted it."""

    id: str
    name: str
    state: StateValue
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PostedEvent:
    """The sender's own event: a ``type`` it chose and free ``data``."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WebhookBody:
    """A checked body: the entities to upsert and the event to pass on, if any."""

    entities: tuple[PostedEntity, ...] = ()
    event: PostedEvent | None = None


def parse_body(payload: object) -> WebhookBody:
    """Check a parsed JSON body; ``WebhookPayloadError`` names the first problem and where it is."""
    if not isinstance(payload, Mapping):
        raise WebhookPayloadError(
            f"body: must be a JSON object, not {_json_kind(payload)} "
            '(send {"entities": [...], "event": {...}} or one entity {"id": ..., "state": ...})'
        )
    if "id" in payload:
        if any(key in payload for key in BODY_KEYS):
            raise WebhookPayloadError(
                'body: either one entity (with "id") or "entities"/"event", not both'
            )
        return WebhookBody(entities=(_entity(payload, ""),))
    _no_unknown_keys(payload, BODY_KEYS, "body")
    if not payload:
        raise WebhookPayloadError('body: is empty; send "entities", "event" or one entity\'s "id"')
    entities = _entities(payload["entities"]) if "entities" in payload else ()
    event = _event(payload["event"]) if "event" in payload else None
    return WebhookBody(entities=entities, event=event)


def _entities(value: object) -> tuple[PostedEntity, ...]:
    if not isinstance(value, list):
        raise WebhookPayloadError(f"entities: must be a list, not {_json_kind(value)}")
    if len(value) > MAX_ENTITIES:
        raise WebhookPayloadError(
            f"entities: holds {len(value)} entities; send at most {MAX_ENTITIES} per request"
        )
    parsed: list[PostedEntity] = []
    first_seen: dict[str, int] = {}
    for index, item in enumerate(value):
        where = f"entities[{index}]"
        entity = _entity(item, where)
        if entity.id in first_seen:
            raise WebhookPayloadError(
                f"{where}.id: {entity.id!r} appears twice (first at entities[{first_seen[entity.id]}])"
            )
        first_seen[entity.id] = index
        parsed.append(entity)
    return tuple(parsed)


def _entity(value: object, where: str) -> PostedEntity:
    """One entity at ``where`` (``entities[3]``, or ``""`` when it is the whole body)."""
    if not isinstance(value, Mapping):
        raise WebhookPayloadError(f"{where}: must be an object, not {_json_kind(value)}")
    _no_unknown_keys(value, ENTITY_KEYS, where or "body")
    if "id" not in value:
        raise WebhookPayloadError(f"{_at(where, 'id')}: is missing")
    entity_id = _text(value["id"], _at(where, "id"), MAX_ID_LENGTH)
    name = entity_id
    if value.get("name") is not None:
        name = _text(value["name"], _at(where, "name"), MAX_NAME_LENGTH)
    state = _state(value.get("state"), _at(where, "state"))
    attributes = _object(value.get("attributes"), _at(where, "attributes"))
    return PostedEntity(id=entity_id, name=name, state=state, attributes=attributes)


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _event(value: object) -> PostedEvent:
    if not isinstance(value, Mapping):
        raise WebhookPayloadError(f"event: must be an object, not {_json_kind(value)}")
    _no_unknown_keys(value, EVENT_KEYS, "event")
    if "type" not in value:
        raise WebhookPayloadError("event.type: is missing")
    kind = _text(value["type"], "event.type", MAX_EVENT_TYPE_LENGTH)
    return PostedEvent(type=kind, data=_object(value.get("data"), "event.data"))


def _text(value: object, where: str, limit: int) -> str:
    if not isinstance(value, str):
        raise WebhookPayloadError(f"{where}: must be a string, not {_json_kind(value)}")
    if not value.strip():
        raise WebhookPayloadError(f"{where}: must not be empty")
    if len(value) > limit:
        raise WebhookPayloadError(f"{where}: is {len(value)} characters long; at most {limit}")
    return value


def _state(value: object, where: str) -> StateValue:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        # Python's JSON parser lets NaN and Infinity through; no database or chart can use them.
        if not math.isfinite(value):
            raise WebhookPayloadError(f"{where}: must be a finite number, not {value}")
        return value
    raise WebhookPayloadError(
        f"{where}: must be a string, number, boolean or null, not {_json_kind(value)}"
    )


def _object(value: object, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise WebhookPayloadError(f"{where}: must be an object, not {_json_kind(value)}")
    try:
        checked: dict[str, Any] = check_json(value, where)
    except ValueError as err:
        raise WebhookPayloadError(str(err)) from None
    return checked


def _no_unknown_keys(value: Mapping[Any, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = [key for key in value if key not in allowed]
    if unknown:
        raise WebhookPayloadError(
            f"{where}: unknown key {str(unknown[0])!r} (allowed: {', '.join(allowed)})"
        )


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"
