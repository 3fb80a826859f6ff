"""Webhook: outside systems post JSON to an entry's URL to upsert entities and fire an event."""

from __future__ import annotations

from typing import Any

from hub.integrations.entities import (
    EntityStateRecord,
    EntityStateSyncResult,
    EntityStateTypeDescriptor,
    EventTypeDescriptor,
)
from hub.integrations.integration import Integration, SetupContext

from .config_flow import WebhookConfigFlow
from .entities import RECEIVED, RECEIVED_EVENT, VALUE, VALUE_TYPE
from .payload import PostedEntity, WebhookBody, parse_body


class WebhookIntegration(Integration):
    """Push only: nothing is pulled, every entity arrives in a delivery."""

    config_flow_cls = WebhookConfigFlow

    def entity_types(self) -> dict[str, EntityStateTypeDescriptor]:
        """One generic type: a scalar state with free attributes, searchable."""
        return {VALUE_TYPE: VALUE}

    def event_types(self) -> dict[str, EventTypeDescriptor]:
        """``webhook.received``, fired for every accepted delivery."""
        return {RECEIVED: RECEIVED_EVENT}

    async def async_handle_webhook(self, ctx: SetupContext, payload: Any) -> EntityStateSyncResult:
        """Check the body (a ``WebhookPayloadError`` rejects it whole), fire the event, upsert."""
        body = parse_body(payload)
        records = tuple(_record(entity) for entity in body.entities)
        if ctx.events is not None:
            ctx.events.emit(RECEIVED, received_data(ctx, body))
        # full=False: a delivery names the entities it knows about; it never deletes the others.
        return EntityStateSyncResult(records=records, full=False, entity_types=(VALUE_TYPE,))


def received_data(ctx: SetupContext, body: WebhookBody) -> dict[str, Any]:
    """The ``webhook.received`` payload: which webhook, which entities, and the sender's event."""
    event = body.event
    return {
        "entry_id": ctx.entry_id,
        "name": str(ctx.data.get("name") or ctx.domain),
        "entity_count": len(body.entities),
        "entity_ids": [entity.id for entity in body.entities],
        "event_type": None if event is None else event.type,
        "event_data": {} if event is None else event.data,
    }


def _record(entity: PostedEntity) -> EntityStateRecord:
    # ``parse_body`` checked every field as the record would (a non-empty id, a JSON scalar
    # state, attributes copied as plain JSON), naming the place in the body when one is wrong;
    # validating again would walk the attributes a second time on every delivery.
    return EntityStateRecord.model_construct(
        entity_type=VALUE_TYPE,
        external_id=entity.id,
        name=entity.name,
        state=entity.state,
        attributes=entity.attributes,
    )


INTEGRATION = WebhookIntegration()
