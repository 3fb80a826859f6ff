"""Every JSON body is decoded by ``parse_json``: text only, nested at most 64 deep, however sent."""

from __future__ import annotations

import json

import pytest

from hub.api.request import MAX_DEPTH, parse_json
from hub.core.errors import BadRequestError

NESTED_OK = "[" * MAX_DEPTH + "]" * MAX_DEPTH
NESTED_TOO_DEEP = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b'{"name": "plain"}', None),
        ('{"name": "Müller 𝄞"}'.encode(), None),
        (b'{"clef": "\\ud834\\udd1e"}', None),  # an escaped pair is one character
        (b'{"name": "\\\\ud800"}', None),  # an escaped backslash, then "ud800"
        (b'{"name": "x\\ud800"}', "errors.unencodable_text"),
        (b'{"name": "x\\uDFFF"}', "errors.unencodable_text"),
        (b'{"name": "x\xed\xa0\x80"}', "errors.unencodable_text"),  # the surrogate's UTF-8 bytes
        ('{"name": "x\ud800"}'.encode("utf-16", "surrogatepass"), "errors.unencodable_text"),
        ('{"name": "x\ud800"}'.encode("utf-32-le", "surrogatepass"), "errors.unencodable_text"),
        ('{"name": "x\ud800"}', "errors.unencodable_text"),  # already text
        (NESTED_OK.encode(), None),
        (NESTED_TOO_DEEP.encode(), "errors.nested_too_deep"),
        # Many brackets, but shallow: nesting, not the count of brackets, decides.
        (json.dumps([[1]] * 500).encode(), None),
        (json.dumps([{"a": "\ud800"}] * 100).encode(), "errors.unencodable_text"),
    ],
)
def test_a_body_is_refused_exactly_when_it_is_not_text_or_nests_too_deep(
    raw: bytes | str, error: str | None
) -> None:
    if error is None:
        assert parse_json(raw) == json.loads(raw)
        return
    with pytest.raises(BadRequestError) as caught:
        parse_json(raw)
    assert caught.value.key == error


def test_the_refusal_names_where_the_surrogate_is() -> None:
    with pytest.raises(BadRequestError) as caught:
        parse_json(b'{"a": [{"b": "ok"}, {"c": "\xed\xbf\xbf"}]}')
    assert str(caught.value) == "a[1].c: a lone surrogate (\\udfff) is not text"
