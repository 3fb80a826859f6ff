"""manifest.yaml and field descriptors: the spec's examples load, and every mistake reads clearly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from hub.core.errors import HubError
from hub.integrations.manifest import (
    FIELD_TYPES,
    FieldDescriptor,
    FieldType,
    FrontendContributions,
    IntegrationManifest,
    ManifestError,
    SelectOption,
    Tier,
    load_manifest,
    parse_tier,
    tier_name,
)

MINIMAL = """\
domain: text_tools
name: Text Tools
version: "0.1.0"
integration_type: tool
config_flow: false
single_instance: true
iot_class: local_in_process
codeowners:
  - "@you"
documentation: https://example.com/docs
"""

MYSERVICE = """\
domain: myservice
name: My Service
version: "0.1.0"
integration_type: service
config_flow: true
single_instance: true
iot_class: cloud_polling
codeowners:
  - "@you"
documentation: https://example.com/myservice
"""

BASE = "domain: foo\nname: Foo\n"
"""Two valid lines, so a key added after them sits on line 3."""


def write(tmp_path: Path, text: str, domain: str = "foo") -> Path:
    path = tmp_path / "integrations" / domain / "manifest.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def load(tmp_path: Path, text: str) -> IntegrationManifest:
    return load_manifest(write(tmp_path, text))


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    message = info.value.message
    assert "Traceback" not in message
    assert "errors.pydantic.dev" not in message
    assert message.startswith(str(path))
    return message.replace(str(path), "M")


# --- the specification's manifests ---------------------------------------------------------------


def test_minimal_manifest_loads_with_documented_defaults(tmp_path: Path) -> None:
    manifest = load(tmp_path, MINIMAL)
    assert manifest.domain == "text_tools"
    assert manifest.name == "Text Tools"
    assert manifest.version == "0.1.0"
    assert manifest.codeowners == ("@you",)
    assert manifest.documentation == "https://example.com/docs"
    assert manifest.trust_tier == "trusted"
    assert manifest.required_tier == 0
    assert manifest.required_tier is Tier.UNREGULATED
    assert manifest.requirements == manifest.provides == ()
    assert manifest.dependencies == manifest.after_dependencies == ()
    assert manifest.config_schema_version == 1
    assert manifest.quality_scale == "experimental"
    assert manifest.issue_tracker is None
    assert manifest.frontend == FrontendContributions()
    assert manifest.frontend.model_dump() == {
        "renderers": (),
        "panels": (),
        "slash_commands": (),
        "cards": (),
    }


def test_myservice_manifest_loads(tmp_path: Path) -> None:
    manifest = load(tmp_path, MYSERVICE)
    assert (manifest.domain, manifest.integration_type) == ("myservice", "service")
    assert manifest.config_flow is True
    assert manifest.single_instance is True
    assert manifest.iot_class == "cloud_polling"


def test_only_domain_and_name_are_needed(tmp_path: Path) -> None:
    manifest = load(tmp_path, BASE)
    assert manifest.version == "0.0.0"
    assert manifest.integration_type == "tool"
    assert manifest.config_flow is False
    assert manifest.single_instance is True
    assert manifest.iot_class == "local_in_process"


def test_manifest_dumps_to_json_for_the_ui(tmp_path: Path) -> None:
    manifest = load(tmp_path, BASE + "required_tier: internal\n")
    dumped = json.loads(json.dumps(manifest.model_dump(mode="json")))
    assert dumped["required_tier"] == 2
    assert dumped["frontend"] == {"renderers": [], "panels": [], "slash_commands": [], "cards": []}
    assert IntegrationManifest.model_validate(dumped) == manifest


def test_keys_left_empty_mean_none(tmp_path: Path) -> None:
    manifest = load(tmp_path, BASE + "codeowners:\nrequirements:\nfrontend:\n")
    assert manifest.codeowners == manifest.requirements == ()
    assert manifest.frontend.cards == ()


# --- each field's validation --------------------------------------------------------------------


@pytest.mark.parametrize("domain", ["My-Service", "1password", "_private", "foo.bar", ""])
def test_domain_must_be_lowercase_identifier(tmp_path: Path, domain: str) -> None:
    message = error_of(tmp_path, f"domain: '{domain}'\nname: Foo\n")
    assert message.startswith(f"M, line 1: domain: '{domain}' is not a valid domain")


def test_missing_domain_and_name_are_both_reported(tmp_path: Path) -> None:
    assert error_of(tmp_path, "version: '1.0'\n").splitlines() == [
        "M: domain: missing (every manifest needs it)",
        "M: name: missing (every manifest needs it)",
    ]


def test_empty_file_is_a_manifest_missing_its_keys(tmp_path: Path) -> None:
    assert "M: domain: missing" in error_of(tmp_path, "# nothing yet\n")


@pytest.mark.parametrize(
    ("key", "valid", "typo", "listed"),
    [
        ("integration_type", ["tool", "service", "knowledge"], "servce", "'tool', 'service' or"),
        ("trust_tier", ["trusted", "untrusted"], "trustd", "'trusted' or 'untrusted'"),
        (
            "iot_class",
            ["local_in_process", "local_polling", "local_push", "cloud_polling", "cloud_push"],
            "cloud",
            "'local_in_process', 'local_polling', 'local_push', 'cloud_polling' or 'cloud_push'",
        ),
        (
            "quality_scale",
            ["internal", "experimental", "beta", "stable"],
            "alpha",
            "'internal', 'experimental', 'beta' or 'stable'",
        ),
    ],
)
def test_each_choice_accepts_its_values_and_lists_them_on_a_typo(
    tmp_path: Path, key: str, valid: list[str], typo: str, listed: str
) -> None:
    for value in valid:
        assert getattr(load(tmp_path, BASE + f"{key}: {value}\n"), key) == value
    message = error_of(tmp_path, BASE + f"{key}: {typo}\n")
    assert message.startswith(f"M, line 3: {key}: '{typo}' is not allowed (use ")
    assert listed in message


@pytest.mark.parametrize(
    ("written", "tier"),
    [
        ("unregulated", Tier.UNREGULATED),
        ("regulated", Tier.REGULATED),
        ("internal", Tier.INTERNAL),
        ("Internal", Tier.INTERNAL),
        ("REGULATED", Tier.REGULATED),
        ("0", Tier.UNREGULATED),
        ("1", Tier.REGULATED),
        ("2", Tier.INTERNAL),
    ],
)
def test_required_tier_by_name_in_any_case_or_number(
    tmp_path: Path, written: str, tier: Tier
) -> None:
    manifest = load(tmp_path, BASE + f"required_tier: {written}\n")
    assert manifest.required_tier == tier
    assert manifest.required_tier >= 0  # the gate compares it with a provider's tier as an int
    assert manifest.model_dump(mode="json")["required_tier"] == int(tier)


def test_a_typod_tier_names_the_valid_tiers(tmp_path: Path) -> None:
    message = error_of(tmp_path, "domain: foo\nname: Foo\nversion: '1.0'\nrequired_tier: internl\n")
    assert message == (
        "M, line 4: required_tier: 'internl' is not a tier (use unregulated, regulated or internal)"
    )


@pytest.mark.parametrize("written", ["3", "-1", "true", "~"])
def test_required_tier_rejects_numbers_out_of_range_and_booleans(
    tmp_path: Path, written: str
) -> None:
    message = error_of(tmp_path, BASE + f"required_tier: {written}\n")
    assert "M, line 3: required_tier:" in message
    assert "is not a tier (use unregulated, regulated or internal" in message


def test_tier_helpers_round_trip_names() -> None:
    assert [tier_name(tier) for tier in Tier] == ["unregulated", "regulated", "internal"]
    assert tier_name(2) == "internal"
    assert parse_tier(" Regulated ") is Tier.REGULATED
    with pytest.raises(ValueError, match="'secret' is not a tier"):
        parse_tier("secret")


def test_unknown_key_suggests_the_right_one_with_its_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, "domain: foo\nintegraton_type: tool\nname: Foo\n")
    assert message == "M, line 2: integraton_type: unknown key (did you mean 'integration_type'?)"


def test_unknown_key_far_from_any_field_lists_the_known_keys(tmp_path: Path) -> None:
    message = error_of(tmp_path, BASE + "colour: blue\n")
    assert message.startswith("M, line 3: colour: unknown key (known keys: domain, name, version")


def test_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    message = error_of(tmp_path, "domain: foo\nname: Foo\ndomain: bar\n")
    assert message == "M, line 3: domain: key appears twice (first on line 1)"


def test_duplicate_nested_key_names_its_path(tmp_path: Path) -> None:
    text = BASE + "frontend:\n  cards: []\n  cards: []\n"
    assert (
        error_of(tmp_path, text) == "M, line 5: frontend.cards: key appears twice (first on line 4)"
    )


def test_a_key_yaml_reads_as_a_bool_or_number_must_be_quoted(tmp_path: Path) -> None:
    assert (
        error_of(tmp_path, BASE + "yes: true\n") == "M, line 3: yes: a key must be text (quote it)"
    )


def test_yaml_anchors_and_merges_work(tmp_path: Path) -> None:
    card = "    - &card {key: a, name: A, icon: x, card: {type: entities}}\n"
    text = BASE + "frontend:\n  cards:\n" + card + "    - <<: *card\n      key: b\n"
    assert [c.key for c in load(tmp_path, text).frontend.cards] == ["a", "b"]
    assert "name: Input should be a valid string" in error_of(
        tmp_path, BASE.replace("Foo", "&n [*n]")
    )


def test_bad_yaml_names_line_and_column(tmp_path: Path) -> None:
    message = error_of(tmp_path, "domain: foo\nname: [Foo\nversion: '1'\n")
    assert message.startswith("M, line 3, column ")
    assert "not valid YAML" in message


@pytest.mark.parametrize("text", ["- domain: foo\n", "just a sentence\n", "42\n"])
def test_a_manifest_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    message = error_of(tmp_path, text)
    assert message == "M, line 1: a manifest must be a mapping of keys (domain:, name:, ...)"


def test_a_missing_file_is_a_manifest_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="cannot be read") as info:
        load_manifest(tmp_path / "nowhere" / "manifest.yaml")
    assert isinstance(info.value, HubError)
    assert info.value.code == "manifest_invalid"


def test_several_mistakes_are_one_line_each_in_file_order(tmp_path: Path) -> None:
    text = "domain: foo\nname: Foo\nquality_scale: gold\niot_klass: cloud_push\nrequired_tier: 7\n"
    lines = error_of(tmp_path, text).splitlines()
    assert [line.split(":")[0] for line in lines] == ["M, line 3", "M, line 4", "M, line 5"]
    assert "did you mean 'iot_class'?" in lines[1]


def test_an_unquoted_version_is_refused_rather_than_changed(tmp_path: Path) -> None:
    message = error_of(tmp_path, BASE + "version: 0.10\n")
    assert message.startswith('M, line 3: version: must be quoted (version: "1.0")')


def test_config_schema_version_starts_at_one(tmp_path: Path) -> None:
    assert load(tmp_path, BASE + "config_schema_version: 3\n").config_schema_version == 3
    assert "M, line 3: config_schema_version:" in error_of(
        tmp_path, BASE + "config_schema_version: 0\n"
    )


def test_requirements_need_a_distribution_name(tmp_path: Path) -> None:
    good = ["aiofoo", "aiofoo>=1.2,<2", "foo-bar[speedups]==1.0", "zeroconf; python_version>'3.10'"]
    manifest = load(tmp_path, BASE + f"requirements: {json.dumps(good)}\n")
    assert manifest.requirements == tuple(good)
    message = error_of(tmp_path, BASE + "requirements:\n  - aiofoo\n  - 'pip install x'\n")
    assert message.startswith(
        "M, line 5: requirements[1]: 'pip install x' is not a valid requirement"
    )


def test_dependencies_must_be_domains_and_not_the_integration_itself(tmp_path: Path) -> None:
    manifest = load(tmp_path, BASE + "dependencies: [http]\nafter_dependencies: [recorder]\n")
    assert (manifest.dependencies, manifest.after_dependencies) == (("http",), ("recorder",))
    assert error_of(tmp_path, BASE + "dependencies: [http, foo]\n") == (
        "M, line 3: dependencies: an integration cannot depend on itself ('foo')"
    )
    assert "cannot depend on itself" in error_of(tmp_path, BASE + "after_dependencies: [foo]\n")
    assert "'Http' is not a valid domain" in error_of(tmp_path, BASE + "dependencies: [Http]\n")
    assert "'http' appears twice" in error_of(tmp_path, BASE + "dependencies: [http, http]\n")


def test_provides_names_capabilities(tmp_path: Path) -> None:
    manifest = load(tmp_path, BASE + "provides: [web_search, web_fetch]\n")
    assert manifest.provides == ("web_search", "web_fetch")
    assert "is not a valid capability name" in error_of(tmp_path, BASE + "provides: [web-search]\n")


@pytest.mark.parametrize("key", ["documentation", "issue_tracker"])
def test_links_must_be_http_urls(tmp_path: Path, key: str) -> None:
    url = "https://github.com/me/foo/issues"
    assert getattr(load(tmp_path, BASE + f"{key}: {url}\n"), key) == url
    message = error_of(tmp_path, BASE + f"{key}: github.com/me/foo\n")
    assert (
        message == f"M, line 3: {key}: 'github.com/me/foo' is not a valid URL (http:// or https://)"
    )


# --- frontend contributions ---------------------------------------------------------------------

FRONTEND = (
    BASE
    + """\
frontend:
  cards:
    - key: work_packages
      name: Work packages
      icon: task
      description: Open work packages assigned to you
      card: {type: entities, entity_type: work_package}
    - key: chart
      name: Chart
      icon: candlestick_chart
      card:
        type: iframe
        url: https://example.com/embed
  renderers:
    - {key: work_package, entity_types: [work_package], module: www/work_package.js}
  panels:
    - {key: board, title: panel.board.title, icon: view_kanban, module: www/board.js}
  slash_commands:
    - {command: wp, description: command.wp.description}
"""
)


def test_frontend_cards_with_and_without_description(tmp_path: Path) -> None:
    frontend = load(tmp_path, FRONTEND).frontend
    first, second = frontend.cards
    assert first.description == "Open work packages assigned to you"
    assert first.card == {"type": "entities", "entity_type": "work_package"}
    assert second.description is None
    assert second.card == {"type": "iframe", "url": "https://example.com/embed"}
    assert frontend.renderers[0].entity_types == ("work_package",)
    assert frontend.panels[0].module == "www/board.js"
    assert frontend.slash_commands[0].command == "wp"


def test_a_card_without_type_is_rejected(tmp_path: Path) -> None:
    text = BASE + "frontend:\n  cards:\n    - {key: a, name: A, icon: x, card: {title: T}}\n"
    assert error_of(tmp_path, text) == (
        "M, line 5: frontend.cards[0].card: a card needs a type (e.g. type: entities)"
    )


def test_unknown_keys_inside_frontend_are_rejected_with_a_suggestion(tmp_path: Path) -> None:
    text = (
        BASE
        + "frontend:\n  pannels: []\n  cards:\n    - {key: a, nmae: A, icon: x, card: {type: t}}\n"
    )
    lines = error_of(tmp_path, text).splitlines()
    assert lines[0] == "M, line 4: frontend.pannels: unknown key (did you mean 'panels'?)"
    assert "M, line 6: frontend.cards[0].name: missing" in lines
    assert "M, line 6: frontend.cards[0].nmae: unknown key (did you mean 'name'?)" in lines


def test_frontend_keys_are_unique_within_each_list(tmp_path: Path) -> None:
    card = "    - {key: a, name: A, icon: x, card: {type: t}}\n"
    assert error_of(tmp_path, BASE + "frontend:\n  cards:\n" + card + card) == (
        "M, line 4: frontend.cards: key 'a' appears twice"
    )
    command = "    - {command: wp, description: d}\n"
    message = error_of(tmp_path, BASE + "frontend:\n  slash_commands:\n" + command + command)
    assert "command 'wp' appears twice" in message


@pytest.mark.parametrize("module", ["../../etc/x.js", "/abs/x.js", "www/x.py", "a/../b.js"])
def test_frontend_modules_stay_inside_the_integration_folder(tmp_path: Path, module: str) -> None:
    text = BASE + f"frontend:\n  panels:\n    - {{key: p, title: T, icon: i, module: '{module}'}}\n"
    assert "is not a valid module path" in error_of(tmp_path, text)


# --- field descriptors --------------------------------------------------------------------------

KIND = FieldDescriptor(
    name="kind",
    label="field.kind.label",
    type="select",
    default="toggle",
    options=(
        SelectOption(value="toggle", label="field.kind.toggle"),
        SelectOption(value="number", label="field.kind.number"),
        SelectOption(value="button", label="field.kind.button"),
    ),
    description="field.kind.description",
)
QR = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5E"
    "rkJggg=="
)


def test_field_types_are_exactly_the_specifications() -> None:
    assert (
        set(get_args(FieldType))
        == set(FIELD_TYPES)
        == {
            *("text", "password", "secret", "number", "bool", "select", "note"),
            *("entity", "device", "area", "duration", "date", "time", "datetime", "color"),
        }
    )


@pytest.mark.parametrize("kind", FIELD_TYPES)
def test_every_field_type_is_accepted_and_is_secret_only_for_secrets(kind: Any) -> None:
    options = (SelectOption(value="a", label="field.x.a"),) if kind == "select" else None
    field = FieldDescriptor(name="x", label="field.x.label", type=kind, options=options)
    dumped = field.model_dump(mode="json")
    assert field.is_secret is (kind in {"password", "secret"})
    assert dumped["is_secret"] is field.is_secret
    assert dumped["type"] == kind


def test_the_specifications_select_example() -> None:
    assert [option.value for option in KIND.options or ()] == ["toggle", "number", "button"]
    assert KIND.model_dump(mode="json")["options"][0] == {
        "value": "toggle",
        "label": "field.kind.toggle",
    }


def test_the_signal_note_with_a_qr_image() -> None:
    note = FieldDescriptor(
        name="qr", label="link.instructions", type="note", required=False, image=QR
    )
    assert note.image == QR
    assert not note.is_secret
    # The QR can fail to load; the note is then shown without it.
    assert (
        FieldDescriptor(name="qr", label="link.not_linked", type="note", image=None).image is None
    )


def test_descriptors_round_trip_through_json() -> None:
    fields = [
        KIND,
        FieldDescriptor(name="api_key", label="field.api_key.label", type="secret"),
        FieldDescriptor(
            name="lights",
            label="field.lights.label",
            type="entity",
            multiple=True,
            filter={"domain": "openproject", "entity_type": "work_package"},
        ),
        FieldDescriptor(name="notes", label="l", multiline=True, placeholder="p", required=False),
    ]
    for field in fields:
        text = json.dumps(field.model_dump(mode="json"))
        assert FieldDescriptor.model_validate(json.loads(text)) == field
        assert FieldDescriptor.model_validate_json(field.model_dump_json()) == field


def test_a_dump_claiming_the_wrong_secrecy_is_refused() -> None:
    dumped = FieldDescriptor(name="api_key", label="l", type="secret").model_dump(mode="json")
    with pytest.raises(ValidationError, match="is_secret follows from type"):
        FieldDescriptor.model_validate({**dumped, "is_secret": False})


def test_select_options_keep_value_types_and_accept_positions() -> None:
    assert SelectOption("toggle", "field.kind.toggle") == SelectOption(
        value="toggle", label="field.kind.toggle"
    )
    values = [SelectOption(value=v, label="l").value for v in (3, 2.5, True, "x")]
    assert values == [3, 2.5, True, "x"]
    assert [type(v) for v in values] == [int, float, bool, str]


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ({"type": "select"}, "a select field needs options"),
        ({"type": "select", "options": ()}, "a select field needs options"),
        ({"options": (SelectOption("a", "l"),)}, "options are only for a select field, not text"),
        ({"multiple": True}, "multiple is only for entity, device, area and select, not text"),
        ({"type": "date", "multiple": True}, "multiple is only for"),
        ({"type": "password", "multiline": True}, "multiline is only for a text field"),
        ({"image": QR}, "image is only for a note field, not text"),
        ({"type": "note", "image": "javascript:alert(1)"}, "image must be a data: URL"),
        ({"filter": {"domain": "x"}}, "filter is only for entity, device and area fields"),
        ({"type": "duration", "filter": {}}, "filter is only for"),
        ({"default": object()}, "cannot be sent to the web UI"),
        ({"name": "Base URL"}, "'Base URL' is not a valid field name"),
        ({"name": "base.url"}, "is not a valid field name"),
        ({"type": "checkbox"}, "Input should be 'text'"),
        ({"lable": "x"}, "Extra inputs are not permitted"),
        ({"label": ""}, "at least 1 character"),
    ],
)
def test_a_field_that_does_not_fit_its_type_is_refused(
    arguments: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        FieldDescriptor(**{"name": "x", "label": "field.x.label", **arguments})


@pytest.mark.parametrize("kind", ["entity", "device", "area", "select"])
def test_multiple_is_for_pickers(kind: Any) -> None:
    options = KIND.options if kind == "select" else None
    field = FieldDescriptor(name="x", label="l", type=kind, multiple=True, options=options)
    assert field.multiple


def test_a_select_default_must_be_one_of_its_options() -> None:
    with pytest.raises(ValidationError, match="default 'toogle' is not one of the option values"):
        KIND.model_validate({**KIND.model_dump(), "default": "toogle"})
    many = KIND.model_validate({**KIND.model_dump(), "multiple": True, "default": ["toggle"]})
    assert many.default == ["toggle"]
    with pytest.raises(ValidationError, match="not one of the option values"):
        KIND.model_validate({**KIND.model_dump(), "multiple": True, "default": "toggle"})
    with pytest.raises(ValidationError, match="value 'toggle' appears twice"):
        FieldDescriptor(
            name="x", label="l", type="select", options=(SelectOption("toggle", "a"),) * 2
        )


def test_descriptors_are_frozen() -> None:
    with pytest.raises(ValidationError, match="frozen"):
        KIND.label = "other"
