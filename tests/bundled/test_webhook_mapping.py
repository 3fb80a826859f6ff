"""Webhook mappings and presets against real published bodies, without a hub."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hub.integrations.integration import WebhookPayloadError
from integrations.webhook.mapping import (
    MAX_ENTITIES,
    MAX_EXPRESSION_LENGTH,
    MappingError,
    MappingSpec,
    compile_mapping,
    parse_attributes,
)
from integrations.webhook.presets import PRESET_INFO, new_secret

EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "octokit-webhooks-examples"


def example(name: str) -> dict[str, Any]:
    """One vendored GitHub example body (``push``, ``issues.opened``, ...)."""
    body: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return body


# Every vendored example: (file, the X-GitHub-Event header GitHub sends it with, the state, url)
GITHUB = [
    ("push", "push", "push", "/commit/6113728f27ae82c7b1a177c8d03f9e96e0adf246"),
    ("ping", "ping", "ping", "https://github.com/Octocoders/Hello-World"),
    ("issues.opened", "issues", "issues.opened", "/Hello-World/issues/1"),
    ("pull_request.opened", "pull_request", "pull_request.opened", "/Hello-World/pull/2"),
    ("release.published", "release", "release.published", "/releases/tag/0.0.1"),
    ("workflow_run.completed", "workflow_run", "workflow_run.completed", "/actions/runs/"),
    ("star.created", "star", "star.created", "https://github.com/Codertocat/Hello-World"),
]


@pytest.mark.parametrize(("name", "event", "state", "url"), GITHUB)
def test_the_github_preset_maps_each_published_example(
    name: str, event: str, state: str, url: str
) -> None:
    body = example(name)
    mapped = compile_mapping(PRESET_INFO["github"].mapping).apply(body, {"x-github-event": event})
    [repository] = mapped.entities
    assert repository.id == body["repository"]["full_name"]
    assert repository.name == repository.id
    assert repository.state == state, "the repository's state is its last event"
    assert repository.attributes["sender"] == body["sender"]["login"]
    assert repository.attributes["event"] == event
    assert url in repository.attributes["url"]
    assert mapped.event_type == event
    assert mapped.event_data["repository"] == repository.id
    assert mapped.event_data["sender"] == body["sender"]["login"]
    assert mapped.event_data["action"] == body.get("action")


def test_the_github_push_names_the_ref_and_the_head_commit() -> None:
    mapped = compile_mapping(PRESET_INFO["github"].mapping).apply(
        example("push"), {"x-github-event": "push"}
    )
    attributes = mapped.entities[0].attributes
    assert attributes["ref"] == "refs/heads/master"
    assert attributes["head_commit"] == "Initial commit"
    assert "action" not in attributes, "what the body lacks is left out, not stored as null"


def test_the_issue_title_is_kept() -> None:
    mapped = compile_mapping(PRESET_INFO["github"].mapping).apply(
        example("issues.opened"), {"x-github-event": "issues"}
    )
    assert mapped.entities[0].attributes["title"] == "Spelling error in the README file"


def test_an_org_wide_github_event_makes_the_event_but_no_entity() -> None:
    mapped = compile_mapping(PRESET_INFO["github"].mapping).apply(
        {"action": "member_added", "sender": {"login": "octocat"}},
        {"x-github-event": "organization"},
    )
    assert mapped.entities == ()
    assert mapped.event_type == "organization"


@pytest.mark.parametrize("header", ["x-gitea-event", "x-forgejo-event"])
def test_the_gitea_preset_reads_the_event_from_gitea_or_forgejo(header: str) -> None:
    # Gitea and Forgejo send GitHub's body shapes under their own event header.
    mapped = compile_mapping(PRESET_INFO["gitea"].mapping).apply(
        example("issues.opened"), {header: "issues"}
    )
    assert mapped.entities[0].state == "issues.opened"
    assert mapped.event_type == "issues"


def test_standard_webhooks_and_stripe_take_the_type_and_data() -> None:
    standard = compile_mapping(PRESET_INFO["standard_webhooks"].mapping).apply(
        {
            "type": "invoice.paid",
            "timestamp": "2022-11-03T20:26:10.344522Z",
            "data": {"id": "invoice_WF7WtCLFFtd8ubcTgboSFNql", "status": "paid", "amount": 1000},
        },
        {},
    )
    assert standard.entities == ()
    assert standard.event_type == "invoice.paid"
    assert standard.event_data["status"] == "paid"

    stripe = compile_mapping(PRESET_INFO["stripe"].mapping).apply(
        {
            "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
            "object": "event",
            "type": "payment_intent.succeeded",
            "data": {"object": {"id": "pi_3MtwBwLkdIwHu7ix28a3tqPa", "amount": 2000}},
        },
        {},
    )
    assert stripe.event_type == "payment_intent.succeeded"
    assert stripe.event_data == {"id": "pi_3MtwBwLkdIwHu7ix28a3tqPa", "amount": 2000}


def test_a_list_expression_makes_one_entity_per_item() -> None:
    spec = MappingSpec(
        entities="commits[*]",
        entity_id="id",
        entity_name="message",
        entity_state="author.username",
        entity_attributes=parse_attributes('{"url": "url", "added": "length(added)"}'),
        event_type="header('x-github-event')",
    )
    body = example("push")
    body["commits"].append({**body["commits"][0], "id": "second", "added": ["a", "b"]})
    mapped = compile_mapping(spec).apply(body, {"x-github-event": "push"})
    assert [entity.id for entity in mapped.entities] == [body["commits"][0]["id"], "second"]
    assert mapped.entities[0].name == "Initial commit"
    assert mapped.entities[0].state == "Codertocat"
    assert mapped.entities[1].attributes["added"] == 2
    assert mapped.event_type == "push"


def test_a_mapping_is_compiled_once_per_spec() -> None:
    spec = PRESET_INFO["github"].mapping.merged({"entity_state": "action"})
    assert compile_mapping(spec) is compile_mapping(spec)


def test_an_entry_override_replaces_only_the_part_it_names() -> None:
    merged = PRESET_INFO["github"].mapping.merged({"entity_state": "  action ", "entities": ""})
    assert merged.entity_state == "action"
    assert merged.entity_id == "repository.full_name"
    assert merged.entities is None, "an empty field keeps the preset's part"


@pytest.mark.parametrize(
    ("spec", "field", "key"),
    [
        (MappingSpec(entity_id="repository.["), "entity_id", "invalid_expression"),
        (MappingSpec(event_type="a" * (MAX_EXPRESSION_LENGTH + 1)), "event_type", "expression_too_long"),
        (
            MappingSpec(entity_id="id", entity_attributes=(("x", "a[?"),)),
            "entity_attributes",
            "invalid_expression",
        ),
    ],
)  # fmt: skip
def test_a_bad_expression_is_named(spec: MappingSpec, field: str, key: str) -> None:
    with pytest.raises(MappingError) as caught:
        compile_mapping(spec)
    assert (caught.value.field, caught.value.key) == (field, key)
    assert str(caught.value).startswith(f"{field}: ")


@pytest.mark.parametrize("text", ["[1]", "not json", '{"a": 1}', '{"": "x"}'])
def test_attributes_must_be_an_object_of_expressions(text: str) -> None:
    with pytest.raises(MappingError) as caught:
        parse_attributes(text)
    assert caught.value.key == "invalid_attributes"


@pytest.mark.parametrize(
    ("spec", "body", "message"),
    [
        (
            MappingSpec(entity_id="repository.full_name"),
            {"zen": "Keep it logically awesome."},
            "entity_id: 'repository.full_name' found nothing (null), not a non-empty string",
        ),
        (
            MappingSpec(entity_id="repository"),
            example("push"),
            "entity_id: 'repository' found an object, not a non-empty string",
        ),
        (
            MappingSpec(entities="commits", entity_id="id"),
            {"commits": {"id": 1}},
            "entities: 'commits' found an object, not a list",
        ),
        (
            MappingSpec(entities="items", entity_id="id"),
            {"items": [{"id": "a"}, {"id": 7}, {}]},
            "entity_id: 'id' found nothing (null) (item 2), not a non-empty string",
        ),
        (
            MappingSpec(entities="items", entity_id="k"),
            {"items": [{"k": "a"}, {"k": "a"}]},
            "entity_id: 'k' found 'a' twice (items 0 and 1)",
        ),
        (
            MappingSpec(entity_id="id", entity_state="tags"),
            {"id": "x", "tags": ["a"]},
            "entity_state: 'tags' found a list of 1, not a string, number, boolean or null",
        ),
        (
            MappingSpec(event_type="type", event_data="data"),
            {"type": "x", "data": [1, 2]},
            "event_data: 'data' found a list of 2, not an object",
        ),
        (
            MappingSpec(entities="items", entity_id="id"),
            {"items": [{"id": str(n)} for n in range(10_000)]},
            f"entities: 'items' found 10000 items; at most {MAX_ENTITIES} entities per delivery",
        ),
    ],
)
def test_a_body_the_mapping_cannot_use_names_the_expression_and_what_it_found(
    spec: MappingSpec, body: Any, message: str
) -> None:
    with pytest.raises(WebhookPayloadError) as caught:
        compile_mapping(spec).apply(body, {})
    assert str(caught.value) == message


def test_a_made_secret_is_a_standard_webhooks_secret() -> None:
    import base64

    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24
    assert new_secret() != secret
