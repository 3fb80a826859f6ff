"""Secret redaction: every wire form of a secret is masked, with thousands of secrets registered."""

from __future__ import annotations

import secrets
from base64 import b64encode
from urllib.parse import quote

from aiohttp import encode_basic_auth

from hub.core.redact import MASK, SecretRegistry

KEY = "op-key-7c4e19a2b5d30f86"


def test_the_basic_header_of_a_secret_is_masked_whatever_the_user_name() -> None:
    registry = SecretRegistry()
    registry.add(KEY)
    for user in ("apikey", "a", "ab", "abc", "someone@example.org"):
        header = encode_basic_auth(user, KEY)
        shown = registry.redact(f"echo: Authorization: {header}; done")
        assert shown == "echo: Authorization: Basic ***; done", user
    bare = b64encode(f"{{'token': '{KEY}'}}".encode()).decode()  # base64 of a document with it
    assert registry.redact(f"blob={bare}") == f"blob={MASK}"


def test_bearer_and_percent_encoded_forms_are_masked() -> None:
    registry = SecretRegistry()
    spiky = "p@ss/word+with=odd&chars"
    registry.add(KEY)
    registry.add(spiky)
    assert registry.redact(f"Authorization: Bearer {KEY}") == "Authorization: Bearer ***"
    assert registry.redact(f"GET /x?token={quote(spiky, safe='')} 200") == "GET /x?token=*** 200"


def test_discarding_a_secret_forgets_its_wire_forms_too() -> None:
    registry = SecretRegistry()
    registry.add(KEY)
    registry.add(KEY)
    header = encode_basic_auth("apikey", KEY)
    registry.discard(KEY)
    assert registry.redact(header) == "Basic ***", "still registered once"
    registry.discard(KEY)
    assert registry.redact(header) == header
    assert registry.redact(KEY) == KEY
    assert len(registry) == 0


def test_thousands_of_secrets_are_each_masked_and_other_text_is_left_alone() -> None:
    registry = SecretRegistry()
    values = [secrets.token_urlsafe(24) for _ in range(5_000)]
    for value in values:
        registry.add(value)
    line = "2025-01-01 12:00:00 INFO hub.entities.sync: entry 0123456789abcdef synced 42 in 0.1 s"
    assert registry.redact(line) == line
    for value in values[::500]:
        header = encode_basic_auth("apikey", value)
        assert registry.redact(f"{line} key={value} {header}") == f"{line} key=*** Basic ***"


def test_a_secret_that_cannot_be_encoded_is_still_masked_as_text() -> None:
    registry = SecretRegistry()
    registry.add("lone\ud800surrogate")
    assert registry.redact("x lone\ud800surrogate y") == "x *** y"
