"""check_json: a plain-JSON deep copy of what an integration hands over, or an error naming where."""

from __future__ import annotations

import enum
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.integrations.entities import check_json

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=30,
)


@given(JSON)
def test_plain_json_comes_back_equal_and_unhooked(value: Any) -> None:
    copy = check_json(value, "data")
    assert copy == value
    if isinstance(value, dict | list) and value:
        assert copy is not value


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Name(str):
    pass


def test_what_json_would_write_differently_is_converted() -> None:
    copy = check_json(
        {"t": (1, 2), "c": Colour.RED, "l": Level.HIGH, "n": Name("x"), "f": 1.5}, "data"
    )
    assert copy == {"t": [1, 2], "c": "red", "l": 3, "n": "x", "f": 1.5}
    assert [type(copy[key]) for key in ("c", "l", "n")] == [str, int, str]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": [1, {"b": math.inf}]}, "data['a'][1]['b'] is inf, which JSON cannot represent"),
        ({"a": {1: "x"}}, "data['a'] has the key 1; JSON keys must be str"),
        ({"a": [{1, 2}]}, "data['a'][0] is a set, not a JSON value"),
        ([[[]]] * 2 + [float("nan")], "data[2] is nan, which JSON cannot represent"),
    ],
)
def test_what_json_cannot_write_is_named_where_it_is(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("[", r"\[").replace("]", r"\]")):
        check_json(value, "data")


def test_a_cycle_is_refused_not_recursed_forever() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(ValueError, match="nested more than 64 levels deep"):
        check_json(loop, "data")
