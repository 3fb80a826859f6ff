"""Every bundled integration that ships German wording has it for every English key."""

from __future__ import annotations

import pytest

from tests.bundled.conftest import BUNDLED, flat_keys, translations

GERMAN = sorted(path.parent.parent.name for path in BUNDLED.glob("*/translations/de.json"))


def test_the_german_bundled_integrations_are_found() -> None:
    assert {"helpers", "openproject", "system_monitor", "webhook"} <= set(GERMAN)


@pytest.mark.parametrize("domain", GERMAN)
def test_german_translations_cover_every_english_key(domain: str) -> None:
    assert flat_keys(translations(domain, "de")) == flat_keys(translations(domain, "en"))
