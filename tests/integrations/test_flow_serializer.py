"""The flow serializer: every text localized, placeholders filled safely, secrets never echoed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hub.core.redact import SECRETS
from hub.integrations.config_flow import FlowContext, FlowResult
from hub.integrations.flow_serializer import MASK, fill, mask_password, serialize_flow_result
from hub.integrations.manifest import FIELD_TYPES, FieldDescriptor, SelectOption
from hub.integrations.simple_flow import SimpleConfigFlow
from hub.integrations.translations import HUB_TRANSLATIONS, Translations
from tests.integrations.test_translations import HUB_DE, HUB_EN, write_translations

SECRET = "sk-live-9f8e7d6c5b4a"
PASSWORD = "correct-horse-battery-4321"
QR = "data:image/png;base64,iVBORw0KGgo="

DEMO_EN: dict[str, Any] = {
    "title": "Demo Service",
    "step": {"user": {"description": "Connect {account} to the hub ({missing}, {0}, {a.b}, {)."}},
    "field": {
        "mode": {"label": "Mode", "fast": "Fast", "safe": "Safe"},
        "hint": {"label": "Read this first"},
    },
    "error": {"invalid_url": "That is no URL."},
}
DEMO_DE: dict[str, Any] = {
    "title": "Demo-Dienst",
    "step": {
        "user": {"description": "Verbinde {account} mit dem Hub ({missing}, {0}, {a.b}, {)."},
        "link": {"title": "Gerät koppeln"},
    },
    "field": {
        "mode": {"label": "Modus", "fast": "Schnell", "safe": "Sicher"},
        "hint": {"label": "Zuerst lesen"},
    },
    "abort": {"already_configured": "Demo gibt es schon."},
}
# Every field type gets a label, placeholder and description in German.
for kind in FIELD_TYPES:
    DEMO_EN["field"].setdefault(kind, {"label": f"{kind} label"})
    DEMO_DE["field"].setdefault(kind, {})
    DEMO_DE["field"][kind].update(
        label=f"{kind} Bezeichnung",
        placeholder=f"{kind} Platzhalter",
        description=f"{kind} Beschreibung",
    )


def field_for(kind: str) -> FieldDescriptor:
    """One field of type ``kind`` named after it, with the keys the convention prescribes."""
    extra: dict[str, Any] = {}
    if kind == "select":
        extra = {
            "options": (
                SelectOption("fast", "field.mode.fast"),
                SelectOption("safe", "field.mode.safe"),
            ),
            "default": "fast",
        }
    elif kind == "note":
        extra = {"image": QR, "required": False}
    elif kind == "secret":
        extra = {"default": SECRET}  # a mistake the serializer must absorb
    elif kind == "password":
        extra = {"default": PASSWORD}
    return FieldDescriptor(
        name=kind,
        label=f"field.{kind}.label",
        type=kind,  # type: ignore[arg-type]  # FIELD_TYPES holds exactly the FieldType names
        placeholder=f"field.{kind}.placeholder",
        description=f"field.{kind}.description",
        **extra,
    )


ALL_FIELDS = tuple(field_for(kind) for kind in FIELD_TYPES)


@pytest.fixture
def translations(tmp_path: Path) -> Translations:
    """The real hub files, ``demo`` in en and de, and ``bare`` with no translations."""
    demo = write_translations(tmp_path / "demo", {"en": DEMO_EN, "de": DEMO_DE})
    loaded = Translations()
    loaded.load(HUB_TRANSLATIONS, {"demo": demo, "bare": tmp_path / "bare"})
    return loaded


def serialize(
    translations: Translations,
    result: FlowResult,
    *,
    language: str = "de",
    domain: str = "demo",
    **kwargs: Any,
) -> dict[str, Any]:
    """Serialize as the flow manager would, and check the output survives JSON."""
    out = serialize_flow_result(
        result,
        flow_id="flow-1",
        domain=domain,
        language=language,
        translations=translations,
        integration_name="Demo (manifest)",
        **kwargs,
    )
    assert json.loads(json.dumps(out)) == out
    return out


def by_name(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The serialized fields keyed by name."""
    return {item["name"]: item for item in out["data_schema"]}


# Forms


def test_a_form_with_every_field_type_is_localized(translations: Translations) -> None:
    result = FlowResult.form(
        step_id="user",
        data_schema=ALL_FIELDS,
        errors={"text": "invalid_url", "base": "connection_failed"},
        description_placeholders={"account": "alice@example.org"},
    )
    out = serialize(translations, result)

    assert out["type"] == "form"
    assert (out["flow_id"], out["domain"], out["language"], out["step_id"]) == (
        "flow-1",
        "demo",
        "de",
        "user",
    )
    assert (
        out["title"] == "Demo-Dienst einrichten"
    )  # the hub's generic title, the integration's name
    assert (
        out["description"] == "Verbinde alice@example.org mit dem Hub ({missing}, {0}, {a.b}, {)."
    )
    assert out["description_placeholders"] == {"account": "alice@example.org"}
    fields = by_name(out)
    assert list(fields) == list(FIELD_TYPES)
    for kind, item in fields.items():
        assert item["label"] == f"{kind} Bezeichnung"
        assert item["placeholder"] == f"{kind} Platzhalter"
        assert item["description"] == f"{kind} Beschreibung"
        assert item["type"] == kind
        assert item["is_secret"] is (kind in {"password", "secret"})
    assert fields["select"]["options"] == [
        {"value": "fast", "label": "Schnell"},
        {"value": "safe", "label": "Sicher"},
    ]
    assert fields["select"]["default"] == "fast"
    assert fields["note"]["image"] == QR


def test_errors_are_localized_and_their_keys_kept(translations: Translations) -> None:
    result = FlowResult.form(
        step_id="user",
        data_schema=ALL_FIELDS,
        errors={"text": "invalid_url", "base": "connection_failed", "number": "no_such_error"},
    )
    out = serialize(translations, result)
    assert out["errors"] == {
        "text": HUB_DE["error"]["invalid_url"],  # the hub's German before demo's English
        "base": HUB_DE["error"]["connection_failed"],
        "number": "error.no_such_error",
    }
    assert out["error_keys"] == {
        "text": "invalid_url",
        "base": "connection_failed",
        "number": "no_such_error",
    }
    english = serialize(translations, result, language="en")
    assert english["errors"]["text"] == "That is no URL."  # the integration's own wording wins


def test_none_stays_none_and_unknown_keys_stay_raw(translations: Translations) -> None:
    plain = FieldDescriptor(name="plain", label="field.plain.label")
    out = serialize(translations, FlowResult.form(step_id="user", data_schema=[plain]))
    item = by_name(out)["plain"]
    assert (item["label"], item["placeholder"], item["description"]) == (
        "field.plain.label",
        None,
        None,
    )
    assert out["errors"] == {}
    assert out["error_keys"] == {}


def test_missing_placeholders_do_not_raise(translations: Translations) -> None:
    out = serialize(translations, FlowResult.form(step_id="user", data_schema=ALL_FIELDS))
    assert out["description"] == "Verbinde {account} mit dem Hub ({missing}, {0}, {a.b}, {)."
    assert fill("{a} {b} {{c}} {a.__class__} {", {"a": "1"}) == "1 {b} {{c}} {a.__class__} {"


def test_step_titles_fall_back(translations: Translations) -> None:
    def title(step_id: str, domain: str = "demo", language: str = "de") -> str:
        flow = FlowResult.form(step_id=step_id, data_schema=ALL_FIELDS[:1])
        return str(serialize(translations, flow, domain=domain, language=language)["title"])

    assert title("link") == "Gerät koppeln"  # the integration's own step title
    assert title("reconfigure") == "Demo-Dienst neu konfigurieren"
    assert title("user", language="en") == "Set up Demo Service"
    assert title("confirm") == "Demo-Dienst"  # no step title anywhere: the integration's title
    assert title("user", domain="bare") == "Demo (manifest) einrichten"
    assert title("confirm", domain="bare") == "Demo (manifest)"


def test_a_reconfigure_step_gets_the_hub_description(translations: Translations) -> None:
    out = serialize(translations, FlowResult.form(step_id="reconfigure", data_schema=ALL_FIELDS))
    expected = HUB_DE["step"]["reconfigure"]["description"].replace("{integration}", "Demo-Dienst")
    assert out["description"] == expected


# Secrets


def test_secret_and_password_defaults_are_always_removed(translations: Translations) -> None:
    out = serialize(translations, FlowResult.form(step_id="user", data_schema=ALL_FIELDS))
    fields = by_name(out)
    assert "default" not in fields["secret"]
    assert "default" not in fields["password"]
    assert "masked" not in fields["password"]
    assert "has_value" not in fields["password"]
    text = json.dumps(out, ensure_ascii=False)
    assert SECRET not in text
    assert PASSWORD not in text


def test_a_stored_password_is_masked_and_a_secret_only_flagged(translations: Translations) -> None:
    masked = {"password": mask_password(PASSWORD), "secret": SECRET, "text": "ignored"}
    out = serialize(
        translations, FlowResult.form(step_id="user", data_schema=ALL_FIELDS), masked=masked
    )
    fields = by_name(out)
    assert fields["password"]["masked"] == MASK + "4321"
    assert fields["password"]["has_value"] is True
    assert fields["secret"]["has_value"] is True
    assert "masked" not in fields["secret"]
    assert "masked" not in fields["text"]
    assert "has_value" not in fields["text"]
    text = json.dumps(out, ensure_ascii=False)
    assert SECRET not in text
    assert PASSWORD not in text


def test_a_whole_password_passed_as_mask_shows_only_its_end(translations: Translations) -> None:
    result = FlowResult.form(step_id="user", data_schema=ALL_FIELDS)
    out = serialize(translations, result, masked={"password": PASSWORD})
    assert by_name(out)["password"]["masked"] == MASK + "4321"
    assert PASSWORD not in json.dumps(out, ensure_ascii=False)


@pytest.mark.parametrize(
    ("password", "mask"),
    [("hunter2", MASK), ("", MASK), ("12345678", MASK + "5678"), (PASSWORD, MASK + "4321")],
)
def test_mask_password(password: str, mask: str) -> None:
    assert mask_password(password) == mask


def test_known_secrets_in_placeholders_are_redacted(translations: Translations) -> None:
    SECRETS.add(SECRET)
    result = FlowResult.form(
        step_id="user",
        data_schema=ALL_FIELDS,
        description_placeholders={"account": f"https://me:{SECRET}@demo.example"},
    )
    out = serialize(translations, result)
    assert SECRET not in json.dumps(out, ensure_ascii=False)
    assert out["description_placeholders"]["account"] == "https://me:***@demo.example"


# Abort and create_entry


def test_abort_reason_is_localized(translations: Translations) -> None:
    out = serialize(translations, FlowResult.abort(reason="single_instance_allowed"))
    assert out == {
        "type": "abort",
        "flow_id": "flow-1",
        "domain": "demo",
        "language": "de",
        "reason": "single_instance_allowed",
        "description": "Demo-Dienst kann nur einmal eingerichtet werden.",
    }
    overridden = serialize(translations, FlowResult.abort(reason="already_configured"))
    assert overridden["description"] == "Demo gibt es schon."
    english = serialize(translations, FlowResult.abort(reason="unknown_error"), language="en")
    assert english["description"] == HUB_EN["abort"]["unknown_error"]
    unknown = serialize(translations, FlowResult.abort(reason="gone_fishing"))
    # A reason without a sentence gets the general one, never its bare key.
    assert (unknown["reason"], unknown["description"]) == (
        "gone_fishing",
        HUB_DE["abort"]["unknown"],
    )


def test_create_entry_carries_the_entry_id_and_never_the_data(translations: Translations) -> None:
    result = FlowResult.create_entry(
        title="https://demo.example",
        data={"base_url": "https://demo.example", "api_key": SECRET, "nested": {"pw": PASSWORD}},
    )
    out = serialize(translations, result, entry_id="entry-7")
    assert out == {
        "type": "create_entry",
        "flow_id": "flow-1",
        "domain": "demo",
        "language": "de",
        "title": "https://demo.example",
        "entry_id": "entry-7",
    }
    text = json.dumps(out, ensure_ascii=False)
    assert SECRET not in text
    assert PASSWORD not in text


def test_correlation_id_only_when_given(translations: Translations) -> None:
    result = FlowResult.abort(reason="unknown_error")
    assert "correlation_id" not in serialize(translations, result)
    assert serialize(translations, result, correlation_id="c0ffee")["correlation_id"] == "c0ffee"


# A real flow


class Demo(SimpleConfigFlow):
    """A single form with a required name and a secret key."""

    SCHEMA = (
        FieldDescriptor(name="name", label="field.text.label"),
        FieldDescriptor(name="api_key", label="field.secret.label", type="secret"),
    )


async def test_a_simple_flow_form_in_german(translations: Translations) -> None:
    context = FlowContext(domain="demo", scope="user", owner_sub="alice")
    result = await Demo(context).async_handle_step("user", {"name": " ", "api_key": ""})
    out = serialize(translations, result)
    assert out["error_keys"] == {"name": "required", "api_key": "required"}
    assert out["errors"] == {
        "name": HUB_DE["error"]["required"],
        "api_key": HUB_DE["error"]["required"],
    }
    assert [item["label"] for item in out["data_schema"]] == [
        "text Bezeichnung",
        "secret Bezeichnung",
    ]
