"""Translations: resolution order, regional and English fallback, broken files, language negotiation."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.integrations.translations import (
    HUB_TRANSLATIONS,
    Translations,
    negotiate,
    normalize_tag,
    parse_accept_language,
)

HUB_EN: dict[str, Any] = json.loads((HUB_TRANSLATIONS / "en.json").read_text("utf-8"))
HUB_DE: dict[str, Any] = json.loads((HUB_TRANSLATIONS / "de.json").read_text("utf-8"))

DEMO_EN = {
    "title": "Demo Service",
    "field": {
        "api_key": {"label": "API key", "description": "Stored encrypted."},
        "name": {"label": "Name"},
    },
    "error": {"required": "Demo needs this.", "auth_failed": "The demo key was refused."},
}
DEMO_DE = {
    "title": "Demo-Dienst",
    "field": {"api_key": {"label": "API-Schlüssel"}, "name": {"label": "Name"}},
    "error": {"required": "Demo braucht das."},
}
DEMO_DE_AT = {"field": {"name": {"label": "Bezeichnung"}}}


def write_translations(folder: Path, files: dict[str, Any]) -> Path:
    """Write ``folder/translations/<lang>.json`` for each entry (a str is written verbatim)."""
    target = folder / "translations"
    target.mkdir(parents=True, exist_ok=True)
    for lang, content in files.items():
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        (target / f"{lang}.json").write_text(text, "utf-8")
    return folder


def flat(node: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every dotted key of a translation file with its value."""
    for key, value in node.items():
        if isinstance(value, dict):
            yield from flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


@pytest.fixture
def translations(tmp_path: Path) -> Translations:
    """The real hub files, ``demo`` in en, de and de-AT, and ``bare`` with no translations at all."""
    demo = write_translations(
        tmp_path / "demo", {"en": DEMO_EN, "de": DEMO_DE, "de-AT": DEMO_DE_AT}
    )
    (tmp_path / "bare").mkdir()
    loaded = Translations()
    loaded.load(HUB_TRANSLATIONS, {"demo": demo, "bare": tmp_path / "bare"})
    return loaded


# Resolution


def test_german_requested_and_present(translations: Translations) -> None:
    assert translations.lookup("demo", "de", "field.api_key.label") == "API-Schlüssel"


def test_german_requested_but_missing_falls_back_to_english(translations: Translations) -> None:
    assert translations.lookup("demo", "de", "field.api_key.description") == "Stored encrypted."
    assert translations.lookup("demo", "fr", "field.api_key.label") == "API key"


def test_regional_tag_then_its_language(translations: Translations) -> None:
    assert translations.lookup("demo", "de-AT", "field.name.label") == "Bezeichnung"
    assert translations.lookup("demo", "de-AT", "field.api_key.label") == "API-Schlüssel"
    assert translations.lookup("demo", "de-CH", "field.api_key.label") == "API-Schlüssel"
    assert translations.lookup("demo", "de_at", "field.name.label") == "Bezeichnung"


def test_unknown_key_is_returned_raw(translations: Translations) -> None:
    assert translations.lookup("demo", "de", "field.nope.label") == "field.nope.label"
    assert translations.lookup("demo", "💥", "field.nope.label") == "field.nope.label"
    assert Translations().lookup("demo", "de", "error.required") == "error.required"


def test_integration_overrides_a_hub_common_key(translations: Translations) -> None:
    assert translations.lookup("demo", "de", "error.required") == "Demo braucht das."
    assert translations.lookup("demo", "en", "error.required") == "Demo needs this."
    assert translations.lookup("bare", "de", "error.required") == HUB_DE["error"]["required"]


def test_hub_common_key_when_the_integration_lacks_it(translations: Translations) -> None:
    expected = HUB_DE["error"]["connection_failed"]
    assert translations.lookup("demo", "de", "error.connection_failed") == expected
    assert translations.lookup(None, "de", "abort.already_configured").startswith("{integration}")
    assert (
        translations.lookup("unknown_domain", "en", "error.unknown") == HUB_EN["error"]["unknown"]
    )


def test_hub_in_the_language_beats_the_integration_in_english(translations: Translations) -> None:
    # demo says auth_failed only in English; a German reader gets the hub's German wording.
    assert translations.lookup("demo", "de", "error.auth_failed") == HUB_DE["error"]["auth_failed"]
    assert translations.lookup("demo", "fr", "error.auth_failed") == "The demo key was refused."


def test_title_of_an_integration(translations: Translations) -> None:
    assert translations.title("demo", "de", "Demo (manifest)") == "Demo-Dienst"
    assert translations.title("demo", "fr", "Demo (manifest)") == "Demo Service"
    assert translations.title("bare", "de", "Bare (manifest)") == "Bare (manifest)"


def test_languages(translations: Translations) -> None:
    assert translations.languages() == {"en", "de"}
    assert translations.languages("demo") == {"en", "de", "de-AT"}
    assert translations.languages("bare") == {"en", "de"}


def test_lookup_chain_is_built_once(translations: Translations) -> None:
    assert translations.localizer("demo", "de") is translations.localizer("demo", "de")


def test_load_replaces_what_was_loaded(translations: Translations, tmp_path: Path) -> None:
    other = write_translations(tmp_path / "other", {"en": {"title": "Other"}})
    translations.load(HUB_TRANSLATIONS, {"other": other})
    assert translations.lookup("demo", "de", "field.api_key.label") == "field.api_key.label"
    assert translations.title("other", "de", "x") == "Other"


# Broken files


def test_invalid_json_is_logged_and_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = write_translations(
        tmp_path / "demo",
        {
            "en": DEMO_EN,
            "de": '{"title": "Demo-Dienst",',
            "fr": '["not", "an", "object"]',
            "it": '{"title": "Demo", "count": 3, "list": ["a"]}',
            "not a language": {"title": "x"},
        },
    )
    (folder / "translations" / "es.json").write_bytes(b"\xff\xfe\x00garbage")
    translations = Translations()
    with caplog.at_level(logging.WARNING, logger="hub.integrations.translations"):
        translations.load(HUB_TRANSLATIONS, {"demo": folder})

    warned = {Path(m.split(":", 1)[0]).name for m in caplog.messages}
    assert warned == {"de.json", "fr.json", "it.json", "es.json", "not a language.json"}
    assert "line 1" in caplog.text  # where the JSON breaks, never what it holds
    assert translations.languages("demo") == {"en", "de", "it"}  # de from the hub
    assert translations.lookup("demo", "de", "field.api_key.label") == "API key"
    assert translations.lookup("demo", "it", "title") == "Demo"
    assert translations.lookup("demo", "it", "count") == "count"


def test_a_missing_folder_is_no_translations(tmp_path: Path) -> None:
    translations = Translations()
    translations.load(tmp_path / "nowhere", {"demo": tmp_path / "nowhere" / "demo"})
    assert translations.languages("demo") == set()
    assert translations.lookup("demo", "de", "error.required") == "error.required"


# The hub's own files


def test_hub_files_cover_the_common_keys_in_both_languages() -> None:
    required = {
        "error.required",
        "error.invalid_number",
        "error.invalid_option",
        "error.invalid_url",
        "error.connection_failed",
        "error.auth_failed",
        "error.unknown",
        "abort.already_configured",
        "abort.single_instance_allowed",
        "abort.entry_not_found",
        "abort.reauth_successful",
        "abort.reconfigure_successful",
        "abort.unknown",
        "abort.unknown_error",
        "abort.integration_disabled",
        "abort.no_config_flow",
        "step.user.title",
        "step.reconfigure.title",
        "step.reauth.title",
    }
    en, de = dict(flat(HUB_EN)), dict(flat(HUB_DE))
    assert required <= en.keys()
    assert en.keys() == de.keys()
    assert "title" not in en  # a hub-wide title would shadow no integration, but confuse readers
    braces = re.compile(r"\{(\w+)\}")
    for key, text in en.items():
        assert isinstance(text, str), key
        assert isinstance(de[key], str), key
        assert text.strip(), key
        assert de[key].strip(), key
        assert set(braces.findall(text)) == set(braces.findall(de[key])), key
        words = braces.sub("", text).strip(" :;")  # "{command}: {problems}" has none
        if words and key not in {"wizard.optional"}:  # the same word in both languages
            assert text != de[key], f"{key} is not translated"


# Negotiation

AVAILABLE = {"en", "de"}


def test_explicit_choice_wins() -> None:
    chosen = negotiate(explicit="de", person="en", accept_language="en", available=AVAILABLE)
    assert chosen == "de"
    assert (
        negotiate(explicit="de-AT", person=None, accept_language=None, available=AVAILABLE) == "de"
    )
    assert negotiate(explicit="DE", person=None, accept_language=None, available=AVAILABLE) == "de"


def test_person_setting_when_the_explicit_choice_is_not_available() -> None:
    chosen = negotiate(explicit="fr", person="de", accept_language="en", available=AVAILABLE)
    assert chosen == "de"


def test_accept_language_by_quality() -> None:
    def pick(header: str, available: set[str] = AVAILABLE) -> str:
        return negotiate(explicit=None, person="fr", accept_language=header, available=available)

    assert pick("de-CH,de;q=0.9,en;q=0.5") == "de"
    assert pick("fr;q=0.9, en;q=0.4, de;q=0.95") == "de"
    assert pick("en;q=0.8, de;q=0.8") == "en"  # equal weights keep the header's order
    assert pick("de;q=0, en;q=0.1") == "en"  # q=0 means "not this one"
    assert pick("zh-Hant-TW, en;q=0.1", {"en", "zh-Hant"}) == "zh-Hant"
    assert pick("pt, en;q=0.5", {"en", "pt-BR"}) == "pt-BR"  # a bare language finds its region
    assert pick("fr, it") == "en"


@pytest.mark.parametrize(
    ("explicit", "person", "header"),
    [
        ("💥", "", ";;q=x,,*,de;q=abc,\x00"),
        ("../../etc/passwd", "d", "de;q=nan, de;q=inf, de;q=-1, de;q=2"),
        ("x" * 10_000, "en-" + "a" * 50, "a" * 100_000),
        (None, None, "*"),
        ("", None, ""),
    ],
)
def test_garbage_never_raises(explicit: str | None, person: str | None, header: str) -> None:
    chosen = negotiate(
        explicit=explicit, person=person, accept_language=header, available=AVAILABLE
    )
    assert chosen == "en"


def test_negotiate_with_nothing_available_returns_the_default() -> None:
    assert negotiate(explicit="de", person=None, accept_language="de", available=set()) == "en"
    chosen = negotiate(
        explicit=None, person=None, accept_language="fr", available={"de"}, default="de"
    )
    assert chosen == "de"


def test_parse_accept_language() -> None:
    assert parse_accept_language("de-CH,de;q=0.9,en;q=0.5") == ["de-CH", "de", "en"]
    assert parse_accept_language("en;q=0.1, *;q=0.5, fr") == ["fr", "en"]
    assert parse_accept_language(None) == []


@pytest.mark.parametrize(
    ("raw", "tag"),
    [
        ("en", "en"),
        ("pt_br", "pt-BR"),
        ("ZH-hant-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("de-", None),
        ("e", None),
        ("de.json", None),
        (3, None),
    ],
)
def test_normalize_tag(raw: object, tag: str | None) -> None:
    assert normalize_tag(raw) == tag


def test_babel_is_imported_only_when_negotiating() -> None:
    code = (
        "import sys\n"
        "from hub.integrations.translations import HUB_TRANSLATIONS, Translations, negotiate\n"
        "t = Translations(); t.load(HUB_TRANSLATIONS, {})\n"
        "t.lookup(None, 'de', 'error.required')\n"
        "print('babel' in sys.modules)\n"
        "negotiate(explicit='de', person=None, accept_language=None, available={'de'})\n"
        "print('babel' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["False", "True"]
