"""The bundled Webhook integration: its body format, and deliveries posted to a real hub."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hub.api.state import BUS
from hub.integrations.entities import EntityStateRecord
from hub.integrations.integration import WebhookPayloadError
from integrations.webhook import _record
from integrations.webhook.entities import VALUE, value_text
from integrations.webhook.payload import MAX_ENTITIES, PostedEntity, PostedEvent, parse_body
from tests.bundled.conftest import BundledHub, translations

GARAGE = {
    "entities": [
        {
            "id": "garage_door",
            "name": "Garage door",
            "state": "open",
            "attributes": {"battery": 87, "last_opened_by": "alice"},
        },
        {"id": "garage_temperature", "name": "Garage temperature", "state": 6.5},
    ],
    "event": {"type": "door_opened", "data": {"by": "alice"}},
}


# The body format, without a hub


def test_a_full_body_and_a_single_entity_body() -> None:
    body = parse_body(GARAGE)
    assert body.entities == (
        PostedEntity(
            "garage_door", "Garage door", "open", {"battery": 87, "last_opened_by": "alice"}
        ),
        PostedEntity("garage_temperature", "Garage temperature", 6.5),
    )
    assert body.event == PostedEvent("door_opened", {"by": "alice"})

    single = parse_body({"id": "porch_light", "state": True})
    assert single.entities == (PostedEntity("porch_light", "porch_light", True),)
    assert single.event is None, "the name defaults to the id"

    only_event = parse_body({"event": {"type": "doorbell"}})
    assert only_event.entities == ()
    assert only_event.event == PostedEvent("doorbell", {})
    assert parse_body({"entities": []}).entities == ()


def entities(*items: Any) -> dict[str, Any]:
    """A body holding ``items`` as its entities."""
    return {"entities": list(items)}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([1, 2], "body: must be a JSON object, not a list"),
        ("hello", "body: must be a JSON object, not a string"),
        ({}, 'body: is empty; send "entities", "event" or one entity\'s "id"'),
        ({"entity": []}, "body: unknown key 'entity' (allowed: entities, event)"),
        ({"id": "a", "entities": []}, 'body: either one entity (with "id")'),
        ({"entities": {"id": "a"}}, "entities: must be a list, not an object"),
        (
            entities(*({"id": f"e{n}"} for n in range(MAX_ENTITIES + 1))),
            "entities: holds 501 entities; send at most 500 per request",
        ),
        (entities("garage_door"), "entities[0]: must be an object, not a string"),
        (entities({"name": "Door"}), "entities[0].id: is missing"),
        (entities({"id": ""}), "entities[0].id: must not be empty"),
        (entities({"id": "   "}), "entities[0].id: must not be empty"),
        (entities({"id": 7}), "entities[0].id: must be a string, not a number"),
        (entities({"id": "x" * 201}), "entities[0].id: is 201 characters long; at most 200"),
        (
            entities({"id": "a"}, {"id": "b"}, {"id": "a"}),
            "entities[2].id: 'a' appears twice (first at entities[0])",
        ),
        (entities({"id": "a", "name": 5}), "entities[0].name: must be a string, not a number"),
        (
            entities({"id": "a"}, {"id": "b"}, {"id": "c"}, {"id": "d", "state": {"on": True}}),
            "entities[3].state: must be a string, number, boolean or null, not an object",
        ),
        (
            entities({"id": "a", "state": [1]}),
            "entities[0].state: must be a string, number, boolean or null, not a list",
        ),
        (entities({"id": "a", "state": float("nan")}), "entities[0].state: must be a finite"),
        (
            entities({"id": "a", "attributes": [1]}),
            "entities[0].attributes: must be an object, not a list",
        ),
        (
            entities({"id": "a", "attributes": {"t": float("inf")}}),
            "entities[0].attributes['t'] is inf, which JSON cannot represent",
        ),
        (
            entities({"id": "a", "atributes": {}}),
            "entities[0]: unknown key 'atributes' (allowed: id, name, state, attributes)",
        ),
        ({"id": "a", "state": {}}, "state: must be a string, number, boolean or null"),
        ({"id": "a", "colour": "red"}, "body: unknown key 'colour'"),
        ({"event": "doorbell"}, "event: must be an object, not a string"),
        ({"event": {}}, "event.type: is missing"),
        ({"event": {"type": ""}}, "event.type: must not be empty"),
        ({"event": {"type": "a", "data": 3}}, "event.data: must be an object, not a number"),
        ({"event": {"type": "a", "when": 3}}, "event: unknown key 'when' (allowed: type, data)"),
    ],
)
def test_a_bad_body_is_refused_with_the_place_and_the_problem(body: Any, message: str) -> None:
    with pytest.raises(WebhookPayloadError) as caught:
        parse_body(body)
    assert str(caught.value).startswith(message)


def test_search_text_names_the_value_and_its_attributes() -> None:
    record = EntityStateRecord(
        entity_type="value",
        external_id="garage_door",
        name="Garage door",
        state="open",
        attributes={"battery": 87, "last_opened_by": "alice", "note": None, "zones": ["a", "b"]},
    )
    assert value_text(record) == (
        'Garage door (garage_door): open\nbattery: 87\nlast_opened_by: alice\nzones: ["a","b"]'
    )
    assert VALUE.rag is True
    assert VALUE.render_text(record) == value_text(record)


def test_the_description_documents_the_webhook_format() -> None:
    english = translations("webhook", "en")
    assert "/webhooks/integration/" in english["description"], "the format is documented"


# Deliveries to a real hub


async def webhook_entry(hub: BundledHub, name: str = "Garage sensors") -> str:
    """A new webhook entry's id."""
    return await hub.create_entry("webhook", {"name": name})


async def test_the_form_asks_for_a_name_and_the_sender(hub: BundledHub) -> None:
    form = await hub.start_flow("webhook")
    shown = [field["name"] for field in form["data_schema"] if not field.get("show_when")]
    assert shown == ["name", "preset"], "the rest is shown only for a signed preset"
    assert form["data_schema"][1]["default"] == "hub", "today's format unless chosen otherwise"
    assert form["data_schema"][0]["label"] == "Name"
    german = await hub.start_flow("webhook", language="de")
    assert german["title"] == "Webhook hinzufügen"
    empty = await hub.submit(form["flow_id"], {"name": "  "})
    assert empty["error_keys"] == {"name": "required"}


async def test_a_delivery_stores_its_entities_and_fires_one_event(hub: BundledHub) -> None:
    entry_id = await webhook_entry(hub)
    async with hub.app[BUS].subscribe("webhook.*", "entity.*") as events:
        status, answer = await hub.post(hub.webhook_path(entry_id), GARAGE)
        assert status == 200, answer
        assert answer["ok"] is True
        seen = [await asyncio.wait_for(events.get(), 2) for _ in range(3)]

    received = next(event for event in seen if event.type == "webhook.received")
    assert dict(received.data) == {
        "entry_id": entry_id,
        "name": "Garage sensors",
        "entity_count": 2,
        "entity_ids": ["garage_door", "garage_temperature"],
        "event_type": "door_opened",
        "event_data": {"by": "alice"},
    }
    assert received.origin == "integration.webhook"
    assert sorted(event.type for event in seen) == [
        "entity.created",
        "entity.created",
        "webhook.received",
    ]

    stored = {e["external_id"]: e for e in await hub.entities(entry_id=entry_id)}
    assert set(stored) == {"garage_door", "garage_temperature"}
    door = stored["garage_door"]
    assert (door["name"], door["state"], door["entity_type"]) == ("Garage door", "open", "value")
    assert door["attributes"] == {"battery": 87, "last_opened_by": "alice"}
    assert stored["garage_temperature"]["state"] == 6.5

    status, found = await hub.get("/api/entities/search", params={"q": "alice"})
    assert status == 200, found
    assert [r["entity"]["external_id"] for r in found["results"]] == ["garage_door"]


async def test_a_later_delivery_updates_one_entity_and_leaves_the_others(
    hub: BundledHub,
) -> None:
    entry_id = await webhook_entry(hub)
    await hub.post(hub.webhook_path(entry_id), GARAGE)
    status, _ = await hub.post(hub.webhook_path(entry_id), {"id": "garage_door", "state": "closed"})
    assert status == 200

    stored = {e["external_id"]: e for e in await hub.entities(entry_id=entry_id)}
    assert stored["garage_door"]["state"] == "closed"
    assert stored["garage_door"]["name"] == "garage_door", "each delivery replaces the record"
    assert stored["garage_door"]["attributes"] == {}
    assert stored["garage_temperature"]["state"] == 6.5, "a delivery never deletes"


async def test_a_bad_body_gets_a_400_naming_the_problem_and_changes_nothing(
    hub: BundledHub,
) -> None:
    entry_id = await webhook_entry(hub)
    bad = {
        "entities": [
            {"id": "a", "state": 1},
            {"id": "b", "state": 2},
            {"id": "c", "state": 3},
            {"id": "d", "state": {"nested": True}},
        ],
        "event": {"type": "batch"},
    }
    async with hub.app[BUS].subscribe("webhook.*", "entity.*") as events:
        status, answer = await hub.post(hub.webhook_path(entry_id), bad)
        assert status == 400
        assert answer["error"]["message"] == (
            "entities[3].state: must be a string, number, boolean or null, not an object"
        )
        await asyncio.sleep(0.05)
        assert events.pending() == 0, "no event for a refused delivery"
    assert await hub.entities(entry_id=entry_id) == [], "not even the three good entities"


async def test_the_token_guards_the_url(hub: BundledHub) -> None:
    entry_id = await webhook_entry(hub)
    other = await webhook_entry(hub, "Other")
    body = {"id": "x", "state": 1}
    status, _ = await hub.post(f"/webhooks/integration/{entry_id}?token=guess", body)
    assert status == 404
    status, _ = await hub.post(f"/webhooks/integration/{entry_id}", body)
    assert status == 404
    wrong_entry = hub.webhook_path(other).replace(other, entry_id)
    status, _ = await hub.post(wrong_entry, body)
    assert status == 404, "another entry's token does not open this one"
    status, _ = await hub.post(hub.webhook_path(other), body)
    assert status == 200
    assert await hub.entities(entry_id=entry_id) == []
    assert len(await hub.entities(entry_id=other)) == 1


def test_a_posted_entity_becomes_the_record_validation_would_build() -> None:
    body = parse_body(
        {
            "entities": [
                *GARAGE["entities"],
                {"id": "flag", "state": False, "attributes": {"deep": {"list": [1, 2.5, None]}}},
                {"id": "nothing"},
            ]
        }
    )
    for entity in body.entities:
        built = _record(entity)
        checked = EntityStateRecord(
            entity_type="value",
            external_id=entity.id,
            name=entity.name,
            state=entity.state,
            attributes=entity.attributes,
        )
        assert built == checked
        assert built.model_fields_set == checked.model_fields_set
        assert built.content_hash() == checked.content_hash()
