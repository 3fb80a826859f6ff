"""Every text the hub ships in English has a German twin with the same placeholders, addressing the
reader as "du" throughout: the hub's own sentences, every bundled integration's and the web UI's."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import pytest

ROOT: Final = Path(__file__).resolve().parents[1]
HUB: Final = ROOT / "hub" / "translations"
BUNDLED: Final = ROOT / "integrations"
UI: Final = ROOT / "www" / "i18n"

PLACEHOLDER: Final = re.compile(r"\{(\w+)\}")
# The formal address (Sie, Ihr, Ihnen …). "ihr"/"ihre" in lower case is the third person ("her",
# "their") and stays; a capitalized one mid-sentence can only be the formal "you".
FORMAL: Final = re.compile(r"\b(?:Sie|Ihnen|Ihr|Ihre|Ihren|Ihrem|Ihrer|Ihres)\b")
SENTENCE_START: Final = re.compile(r"(?:^|[.!?:;]\s+|[„\"(]\s*)$")

INTEGRATIONS: Final = sorted(
    path.parent.parent.name for path in BUNDLED.glob("*/translations/en.json")
)
UI_NAMESPACES: Final = sorted(path.stem for path in (UI / "en").glob("*.json"))


def flat(node: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Every ``(dotted.key, text)`` of a translation file."""
    for key, value in node.items():
        if isinstance(value, dict):
            yield from flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def table(path: Path) -> dict[str, str]:
    """A translation file as a flat table."""
    return dict(flat(json.loads(path.read_text("utf-8"))))


def pairs() -> list[tuple[str, Path, Path]]:
    """Each shipped English file with the path its German twin must have, by a readable name."""
    found = [("hub", HUB / "en.json", HUB / "de.json")]
    found += [
        (
            domain,
            BUNDLED / domain / "translations" / "en.json",
            BUNDLED / domain / "translations" / "de.json",
        )
        for domain in INTEGRATIONS
    ]
    found += [
        (f"www/{ns}", UI / "en" / f"{ns}.json", UI / "de" / f"{ns}.json") for ns in UI_NAMESPACES
    ]
    return found


PAIRS: Final = pairs()
IDS: Final = [name for name, _, _ in PAIRS]


def test_every_place_that_ships_wording_is_checked() -> None:
    assert {"helpers", "openproject", "system_monitor", "text_tools", "webhook"} <= set(
        INTEGRATIONS
    )
    assert {"app", "chat", "dashboards", "entities", "settings", "wizard"} <= set(UI_NAMESPACES)
    assert sorted(path.stem for path in (UI / "de").glob("*.json")) == UI_NAMESPACES


@pytest.mark.parametrize(("name", "english", "german"), PAIRS, ids=IDS)
def test_german_has_every_english_key_and_no_other(name: str, english: Path, german: Path) -> None:
    assert german.exists(), f"{name}: {german.relative_to(ROOT)} is missing"
    en, de = table(english), table(german)
    assert sorted(en.keys() - de.keys()) == [], f"{name}: keys without German text"
    assert sorted(de.keys() - en.keys()) == [], f"{name}: German keys English does not have"


@pytest.mark.parametrize(("name", "english", "german"), PAIRS, ids=IDS)
def test_german_fills_the_same_placeholders(name: str, english: Path, german: Path) -> None:
    en, de = table(english), table(german)
    differ = {
        key: (sorted(set(PLACEHOLDER.findall(en[key]))), sorted(set(PLACEHOLDER.findall(de[key]))))
        for key in en.keys() & de.keys()
        if set(PLACEHOLDER.findall(en[key])) != set(PLACEHOLDER.findall(de[key]))
    }
    assert differ == {}, f"{name}: placeholders (English, German) differ"


@pytest.mark.parametrize(("name", "english", "german"), PAIRS, ids=IDS)
def test_german_says_du_never_sie(name: str, english: Path, german: Path) -> None:
    formal = {
        key: text
        for key, text in table(german).items()
        for match in FORMAL.finditer(text)
        # "Sie" opening a sentence may be "they"; anywhere else it is the formal "you".
        if not (match[0] == "Sie" and SENTENCE_START.search(text[: match.start()]))
    }
    assert formal == {}, f"{name}: the formal address; the hub says du"


@pytest.mark.parametrize(("name", "english", "german"), PAIRS, ids=IDS)
def test_no_text_is_empty(name: str, english: Path, german: Path) -> None:
    for path in (english, german):
        empty = [
            key
            for key, text in table(path).items()
            if not isinstance(text, str) or not text.strip()
        ]
        assert empty == [], f"{path.relative_to(ROOT)}: keys without text"


def test_the_formal_check_catches_the_formal_address() -> None:
    assert FORMAL.search("Geben Sie Ihr Passwort ein.")
    assert not FORMAL.search("Gib dein Passwort ein; ihre Daten bleiben.")
