"""The one entity type a webhook fills, its search text, and the event each delivery fires."""

from __future__ import annotations

from typing import Final

from hub.integrations.entities import (
    EntityStateRecord,
    EntityStateTypeDescriptor,
    EventTypeDescriptor,
    canonical_json,
)
from hub.integrations.manifest import FieldDescriptor

VALUE_TYPE: Final = "value"
RECEIVED: Final = "webhook.received"


def value_text(record: EntityStateRecord) -> str:
    """What search finds a posted value by: its name, id and state, then one line per attribute."""
    state = "unknown" if record.state is None else record.state
    lines = [f"{record.name} ({record.external_id}): {state}"]
    for key, value in sorted(record.attributes.items()):
        if value is None:
            continue
        lines.append(f"{key}: {value if isinstance(value, str) else canonical_json(value)}")
    return "\n".join(lines)


# The English here is the fallback: GET /api/entity-types shows a person the words of
# translations/<lang>.json under "entity.<key>" (and the event's under "event").
VALUE: Final = EntityStateTypeDescriptor(
    key=VALUE_TYPE,
    name="Webhook value",
    rag=True,
    to_text=value_text,
)

RECEIVED_EVENT: Final = EventTypeDescriptor(
    event_type=RECEIVED,
    name="Webhook received",
    description="Fired for every accepted delivery; its entities are stored in the same request.",
    payload_schema=(
        FieldDescriptor(name="entry_id", label="Entry"),
        FieldDescriptor(name="name", label="Webhook name"),
        FieldDescriptor(name="entity_count", label="Entities received", type="number"),
        FieldDescriptor(
            name="entity_ids",
            label="Entity ids",
            description="The ids of the posted entities, in the order they were sent.",
        ),
        FieldDescriptor(
            name="event_type",
            label="Event type",
            required=False,
            description="The sender's event.type, or null when it sent no event.",
        ),
        FieldDescriptor(
            name="event_data",
            label="Event data",
            required=False,
            description="The sender's event.data object (empty when it sent none).",
        ),
    ),
)
