"""Webhook: outside systems post JSON to an entry's URL to upsert entities and fire an event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from hub.integrations.entities import (
    EntityStateRecord,
    EntityStateSyncResult,
    EntityStateTypeDescriptor,
    EventTypeDescriptor,
)
from hub.integrations.integration import Integration, SetupContext, WebhookPayloadError
from hub.integrations.webhooks import WebhookDelivery, WebhookVerification

from .config_flow import SECRET, WebhookConfigFlow
from .entities import RECEIVED, RECEIVED_EVENT, VALUE, VALUE_TYPE
from .mapping import MappedBody, MappedEntity, MappingError, compile_mapping
from .payload import PostedEntity, WebhookBody, parse_body
from .presets import PRESET_INFO, Preset, preset_of


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

    def webhook_verification(self, ctx: SetupContext) -> WebhookVerification | None:
        """The preset's scheme with the entry's secret; ``hub`` keeps the hub's own signing setting."""
        preset = preset_of(ctx.data)
        if preset == "hub":
            return None
        data = ctx.data
        encoding: Literal["hex", "base64"] = (
            "base64" if data.get("signature_encoding") == "base64" else "hex"
        )
        custom = preset == "custom"
        return WebhookVerification(
            scheme=PRESET_INFO[preset].scheme,
            secret=str(ctx.secrets.get(SECRET) or ""),
            delivery_id_header=_header(data, "delivery_id_header") if custom else None,
            event_header=_header(data, "event_header") if custom else None,
            signature_header=_header(data, "signature_header") if custom else None,
            signature_prefix=str(data.get("signature_prefix") or "") if custom else "",
            signature_encoding=encoding,
        )

    async def async_handle_webhook_delivery(
        self, ctx: SetupContext, delivery: WebhookDelivery
    ) -> EntityStateSyncResult | None:
        """``hub``: the hub's own body; any other preset: its mapping, then the event."""
        if preset_of(ctx.data) == "hub":
            return await self.async_handle_webhook(ctx, delivery.payload)
        mapped = map_delivery(ctx.data, delivery, {})
        if ctx.events is not None:
            ctx.events.emit(RECEIVED, mapped_data(ctx, mapped))
        records = tuple(_mapped_record(entity) for entity in mapped.entities)
        return EntityStateSyncResult(records=records, full=False, entity_types=(VALUE_TYPE,))

    async def async_preview_webhook(
        self, ctx: SetupContext, delivery: WebhookDelivery, options: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """What the unsaved ``options`` (the entry's fields) make of ``delivery``; applies nothing."""
        merged = {**ctx.data, **options}
        if preset_of(merged) == "hub":
            body = parse_body(delivery.payload)
            entities = [_record(entity).model_dump(mode="json") for entity in body.entities]
            event = received_data(ctx, body)
        else:
            mapped = map_delivery(ctx.data, delivery, options)
            entities = [
                _mapped_record(entity).model_dump(mode="json") for entity in mapped.entities
            ]
            event = mapped_data(ctx, mapped)
        return {"entities": entities, "event": {"type": RECEIVED, "data": event}}


def map_delivery(
    data: Mapping[str, Any], delivery: WebhookDelivery, options: Mapping[str, Any]
) -> MappedBody:
    """The entry's mapping (its preset's, with the entry's and then ``options``' overrides) applied."""
    merged = {**data, **options}
    preset: Preset = preset_of(merged)
    try:
        compiled = compile_mapping(PRESET_INFO[preset].mapping.merged(merged))
    except MappingError as err:
        raise WebhookPayloadError(str(err)) from None
    mapped = compiled.apply(delivery.payload, delivery.headers)
    if mapped.event_type is None and preset == "custom":
        header = _header(merged, "event_header")
        kind = delivery.headers.get(header) if header else None
        if kind:
            mapped = MappedBody(mapped.entities, kind[:100], mapped.event_data)
    return mapped


def mapped_data(ctx: SetupContext, mapped: MappedBody) -> dict[str, Any]:
    """The ``webhook.received`` payload for a mapped body: the same keys as for the hub's own."""
    return {
        "entry_id": ctx.entry_id,
        "name": str(ctx.data.get("name") or ctx.domain),
        "entity_count": len(mapped.entities),
        "entity_ids": [entity.id for entity in mapped.entities],
        "event_type": mapped.event_type,
        "event_data": mapped.event_data,
    }


def _header(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def _mapped_record(entity: MappedEntity) -> EntityStateRecord:
    # The mapping checked the id, name, state and attributes as the record would.
    return EntityStateRecord.model_construct(
        entity_type=VALUE_TYPE,
        external_id=entity.id,
        name=entity.name,
        state=entity.state,
        attributes=entity.attributes,
    )


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
