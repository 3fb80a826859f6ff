"""Webhook presets on a real hub: the flow and its one-time secret, signed deliveries, mapping, preview."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
import uuid
from typing import Any

import pytest

from hub.api.state import BUS, CONFIG_ENTRIES
from tests.bundled.conftest import BundledHub
from tests.bundled.test_webhook_mapping import GITHUB, example


def compact(body: Any) -> bytes:
    """A body as senders put it on the wire: compact JSON."""
    return json.dumps(body, separators=(",", ":")).encode()


def github_headers(
    secret: str, raw: bytes, event: str, delivery: str | None = None
) -> dict[str, str]:
    """The headers GitHub sends: the event, a delivery GUID and ``sha256=<hex HMAC of the body>``."""
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/044aadd",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": f"sha256={digest}",
    }


def shown_secret(form: dict[str, Any]) -> str:
    """The secret the one-time page shows (in its description)."""
    found = re.search(r"whsec_[A-Za-z0-9+/=]+", form["description"])
    assert found, form["description"]
    return found.group(0)


async def made_entry(
    hub: BundledHub, preset: str, name: str = "Repositories", **fields: Any
) -> tuple[str, str]:
    """A webhook entry with ``preset`` whose secret the hub made; its id and that secret."""
    form = await hub.start_flow("webhook")
    page = await hub.submit(form["flow_id"], {"name": name, "preset": preset, **fields})
    assert (page["type"], page["step_id"]) == ("form", "secret"), page
    secret = shown_secret(page)
    done = await hub.submit(form["flow_id"], {"secret": secret})
    assert done["type"] == "create_entry", done
    return str(done["entry_id"]), secret


async def send(
    hub: BundledHub, entry_id: str, raw: bytes, headers: dict[str, str]
) -> tuple[int, Any]:
    resp = await hub.client.post(hub.webhook_path(entry_id), data=raw, headers=headers)
    return resp.status, await resp.json()


# The flow


async def test_the_made_secret_is_shown_once_and_must_be_pasted_back(hub: BundledHub) -> None:
    form = await hub.start_flow("webhook")
    page = await hub.submit(form["flow_id"], {"name": "Code", "preset": "github"})
    first = shown_secret(page)
    assert [field["name"] for field in page["data_schema"]] == ["secret"]

    wrong = await hub.submit(form["flow_id"], {"secret": "whsec_guess"})
    assert wrong["error_keys"] == {"secret": "secret_mismatch"}
    second = shown_secret(wrong)
    assert second != first, "a failed paste shows a new secret; the first is gone"
    stale = await hub.submit(form["flow_id"], {"secret": first})
    assert stale["error_keys"] == {"secret": "secret_mismatch"}

    third = shown_secret(stale)
    done = await hub.submit(form["flow_id"], {"secret": third})
    assert done["type"] == "create_entry", done

    entries = hub.app[CONFIG_ENTRIES]
    entry = entries.require(done["entry_id"])
    assert entry.data == {"name": "Code", "preset": "github"}, "the secret is not in the data"
    assert third not in json.dumps(entry.data)
    status, listed = await hub.get(f"/api/config-entries/{done['entry_id']}")
    assert status == 200
    assert third not in json.dumps(listed), "never shown again"


async def test_a_pasted_secret_needs_no_second_page_and_stripe_needs_one(hub: BundledHub) -> None:
    form = await hub.start_flow("webhook")
    done = await hub.submit(
        form["flow_id"], {"name": "Billing", "preset": "stripe", "secret": "whsec_from_stripe"}
    )
    assert done["type"] == "create_entry", done

    form = await hub.start_flow("webhook")
    refused = await hub.submit(form["flow_id"], {"name": "Billing", "preset": "stripe"})
    assert refused["error_keys"] == {"secret": "secret_from_sender"}
    german = await hub.start_flow("webhook", language="de")
    answer = await hub.submit(german["flow_id"], {"name": "Billing", "preset": "stripe"})
    assert "Stripe erzeugt" in answer["errors"]["secret"]


async def test_the_custom_preset_checks_its_header_and_expressions(hub: BundledHub) -> None:
    form = await hub.start_flow("webhook")
    answer = await hub.submit(
        form["flow_id"],
        {"name": "Kuma", "preset": "custom", "secret": "s3cret", "entity_id": "monitor.["},
    )
    assert answer["error_keys"] == {
        "signature_header": "required",
        "entity_id": "invalid_expression",
    }
    answer = await hub.submit(form["flow_id"], {"signature_header": "X-Signature", "entity_id": ""})
    assert answer["error_keys"] == {"entity_id": "mapping_empty"}


# Signed deliveries


async def test_each_published_github_example_is_stored_signed_as_github_signs(
    hub: BundledHub,
) -> None:
    entry_id, secret = await made_entry(hub, "github")
    for name, event, state, _ in GITHUB:
        raw = compact(example(name))
        async with hub.app[BUS].subscribe("webhook.*") as events:
            status, answer = await send(hub, entry_id, raw, github_headers(secret, raw, event))
            assert status == 200, (name, answer)
            received = await asyncio.wait_for(events.get(), 2)
        assert received.data["event_type"] == event
        repository = example(name)["repository"]["full_name"]
        assert received.data["entity_ids"] == [repository]
        stored = {e["external_id"]: e for e in await hub.entities(entry_id=entry_id)}
        assert stored[repository]["state"] == state, name

    stored = {e["external_id"]: e for e in await hub.entities(entry_id=entry_id)}
    assert set(stored) == {"Codertocat/Hello-World", "Octocoders/Hello-World"}
    assert stored["Codertocat/Hello-World"]["attributes"]["sender"] == "Codertocat"


async def test_a_wrong_signature_is_refused_and_a_repeat_applies_nothing(hub: BundledHub) -> None:
    entry_id, secret = await made_entry(hub, "github")
    raw = compact(example("push"))
    status, _ = await send(hub, entry_id, raw, github_headers("not the secret", raw, "push"))
    assert status == 401
    assert await hub.entities(entry_id=entry_id) == []

    headers = github_headers(secret, raw, "push", delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958")
    status, answer = await send(hub, entry_id, raw, headers)
    assert (status, answer.get("duplicate")) == (200, None), answer
    status, answer = await send(hub, entry_id, raw, headers)
    assert (status, answer.get("duplicate")) == (200, True)


async def test_a_gitea_delivery_is_checked_and_mapped(hub: BundledHub) -> None:
    entry_id, secret = await made_entry(hub, "gitea")
    raw = compact(example("issues.opened"))
    signature = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Forgejo-Event": "issues",
        "X-Forgejo-Delivery": str(uuid.uuid4()),
        "X-Forgejo-Signature": signature,
    }
    status, answer = await send(hub, entry_id, raw, headers)
    assert status == 200, answer
    [entity] = await hub.entities(entry_id=entry_id)
    assert entity["state"] == "issues.opened"


async def test_a_stripe_event_becomes_the_webhook_event(hub: BundledHub) -> None:
    secret = "whsec_test_secret_from_stripe"
    form = await hub.start_flow("webhook")
    done = await hub.submit(
        form["flow_id"], {"name": "Billing", "preset": "stripe", "secret": secret}
    )
    entry_id = done["entry_id"]
    body = {
        "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_3MtwBwLkdIwHu7ix28a3tqPa", "amount": 2000}},
    }
    raw = compact(body)
    stamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), f"{stamp}.".encode() + raw, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "Stripe-Signature": f"t={stamp},v1={signature}"}
    async with hub.app[BUS].subscribe("webhook.*") as events:
        status, answer = await send(hub, entry_id, raw, headers)
        assert status == 200, answer
        received = await asyncio.wait_for(events.get(), 2)
    assert received.data["event_type"] == "payment_intent.succeeded"
    assert received.data["event_data"]["amount"] == 2000
    assert received.data["entity_count"] == 0


CUSTOM = {
    "name": "Sensors",
    "preset": "custom",
    "secret": "custom-secret",
    "signature_header": "X-Signature",
    "signature_prefix": "sha256=",
    "signature_encoding": "hex",
    "delivery_id_header": "X-Delivery",
    "entities": "readings[*]",
    "entity_id": "sensor",
    "entity_state": "value",
    "entity_attributes": '{"unit": "unit"}',
    "event_type": "kind",
}


def custom_headers(raw: bytes) -> dict[str, str]:
    digest = hmac.new(b"custom-secret", raw, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Signature": f"sha256={digest}",
        "X-Delivery": str(uuid.uuid4()),
    }


async def test_a_custom_mapping_and_what_it_refuses(hub: BundledHub) -> None:
    form = await hub.start_flow("webhook")
    done = await hub.submit(form["flow_id"], CUSTOM)
    assert done["type"] == "create_entry", done
    entry_id = done["entry_id"]

    body = {
        "kind": "batch",
        "readings": [
            {"sensor": "garage", "value": 6.5, "unit": "°C"},
            {"sensor": "attic", "value": 19, "unit": "°C"},
        ],
    }
    raw = compact(body)
    status, answer = await send(hub, entry_id, raw, custom_headers(raw))
    assert status == 200, answer
    stored = {e["external_id"]: e for e in await hub.entities(entry_id=entry_id)}
    assert stored["garage"]["state"] == 6.5
    assert stored["attic"]["attributes"] == {"unit": "°C"}

    huge = compact({"kind": "flood", "readings": [{"sensor": str(n)} for n in range(10_000)]})
    status, answer = await send(hub, entry_id, huge, custom_headers(huge))
    assert status == 400
    assert "at most 1000 entities per delivery" in answer["error"]["message"]

    unusable = compact({"kind": "x", "readings": [{"value": 1}]})
    status, answer = await send(hub, entry_id, unusable, custom_headers(unusable))
    assert status == 400
    assert answer["error"]["message"] == (
        "entity_id: 'sensor' found nothing (null) (item 0), not a non-empty string"
    )
    assert len(await hub.entities(entry_id=entry_id)) == 2, "nothing of a refused body is stored"


# Preview and reconfigure


async def test_preview_shows_what_an_unsaved_mapping_makes_of_the_last_delivery(
    hub: BundledHub,
) -> None:
    entry_id, secret = await made_entry(hub, "github")
    raw = compact(example("push"))
    status, _ = await send(hub, entry_id, raw, github_headers(secret, raw, "push"))
    assert status == 200
    path = f"/api/config-entries/{entry_id}/webhook/preview"

    status, answer = await hub.post(path, {"options": {}})
    assert status == 200, answer
    [entity] = answer["preview"]["entities"]
    assert (entity["external_id"], entity["state"]) == ("Codertocat/Hello-World", "push")

    unsaved = {"entities": "commits[*]", "entity_id": "id", "entity_state": "message"}
    status, answer = await hub.post(path, {"options": unsaved})
    assert status == 200, answer
    [commit] = answer["preview"]["entities"]
    assert commit["state"] == "Initial commit"
    assert answer["preview"]["event"]["data"]["event_type"] == "push"
    assert len(await hub.entities(entry_id=entry_id)) == 1, "a preview applies nothing"

    status, answer = await hub.post(path, {"options": {"entity_id": "nothing.here"}})
    assert status == 400
    assert "'nothing.here' found nothing (null)" in answer["error"]["message"]
    status, answer = await hub.post(path, {"options": {"entity_id": "a.["}})
    assert status == 400
    assert answer["error"]["message"].startswith("entity_id: 'a.[': ")


async def test_reconfigure_edits_the_mapping_and_can_make_a_new_secret(hub: BundledHub) -> None:
    entry_id, secret = await made_entry(hub, "github")
    status, form = await hub.post(f"/api/config-entries/{entry_id}/reconfigure", {})
    assert status == 200, form
    values = {field["name"]: field.get("default") for field in form["data_schema"]}
    assert (values["preset"], values["name"]) == ("github", "Repositories")
    done = await hub.submit(form["flow_id"], {"entity_state": "sender.login"})
    assert done["type"] == "create_entry", done

    raw = compact(example("push"))
    status, _ = await send(hub, entry_id, raw, github_headers(secret, raw, "push"))
    assert status == 200, "the secret left empty stays as it was"
    [entity] = await hub.entities(entry_id=entry_id)
    assert entity["state"] == "Codertocat"

    status, form = await hub.post(f"/api/config-entries/{entry_id}/reconfigure", {})
    page = await hub.submit(form["flow_id"], {"new_secret": True})
    assert page["step_id"] == "secret"
    rotated = shown_secret(page)
    done = await hub.submit(form["flow_id"], {"secret": rotated})
    assert done["type"] == "create_entry", done
    status, _ = await send(hub, entry_id, raw, github_headers(secret, raw, "push"))
    assert status == 401, "the old secret no longer signs"
    status, _ = await send(hub, entry_id, raw, github_headers(rotated, raw, "push"))
    assert status == 200


@pytest.mark.parametrize("preset", ["hub"])
async def test_the_hub_preset_keeps_the_hubs_own_format(hub: BundledHub, preset: str) -> None:
    form = await hub.start_flow("webhook")
    done = await hub.submit(form["flow_id"], {"name": "Garage", "preset": preset})
    assert done["type"] == "create_entry", "no secret page: the hub's own signing setting applies"
    status, _ = await hub.post(hub.webhook_path(done["entry_id"]), {"id": "door", "state": "open"})
    assert status == 200


async def test_a_standard_webhooks_delivery_signed_by_the_reference_library(
    hub: BundledHub,
) -> None:
    from datetime import UTC, datetime

    from standardwebhooks import Webhook

    entry_id, secret = await made_entry(hub, "standard_webhooks", name="Billing")
    sender = Webhook(secret)  # the made secret is a whsec_ secret the library takes as it is
    raw = compact(
        {
            "type": "invoice.paid",
            "timestamp": "2022-11-03T20:26:10.344522Z",
            "data": {"id": "invoice_WF7WtCLFFtd8ubcTgboSFNql", "status": "paid"},
        }
    )
    message_id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
    now = datetime.now(tz=UTC)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": sender.sign(message_id, now, raw.decode()),
    }
    async with hub.app[BUS].subscribe("webhook.*") as events:
        status, answer = await send(hub, entry_id, raw, headers)
        assert status == 200, answer
        received = await asyncio.wait_for(events.get(), 2)
    assert received.data["event_type"] == "invoice.paid"
    assert received.data["event_data"] == {
        "id": "invoice_WF7WtCLFFtd8ubcTgboSFNql",
        "status": "paid",
    }
    status, answer = await send(hub, entry_id, raw, headers)
    assert (status, answer.get("duplicate")) == (200, True), "the same webhook-id is not run twice"
