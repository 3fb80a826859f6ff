"""Expressions over a run's context and placeholders in text."""

from __future__ import annotations

import pytest

from hub.workflows.expressions import (
    MAX_RENDERED,
    ExpressionError,
    compile_expression,
    evaluate,
    placeholders,
    render,
    truthy,
)

CONTEXT = {
    "trigger": {"type": "event", "data": {"room": "kitchen", "level": 42, "tags": ["a", "b"]}},
    "workflow": {"id": "w1", "name": "Lights"},
    "steps": [],
}


def test_an_expression_reads_the_context() -> None:
    assert evaluate("trigger.data.level", CONTEXT) == 42
    assert evaluate("trigger.data.level > `40`", CONTEXT) is True
    assert evaluate("length(trigger.data.tags)", CONTEXT) == 2
    assert evaluate("trigger.missing", CONTEXT) is None


def test_an_expression_that_does_not_parse_says_where() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("trigger.data[")
    assert caught.value.expression == "trigger.data["
    assert "column" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_empty_expression_is_refused() -> None:
    with pytest.raises(ExpressionError):
        compile_expression("  ")


def test_a_type_error_at_run_time_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError, match="length"):
        evaluate("length(trigger.data.level)", CONTEXT)


def test_compiling_is_cached() -> None:
    assert compile_expression("workflow.name") is compile_expression("workflow.name")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        (False, False),
        ("", False),
        ([], False),
        ({}, False),
        (0, True),
        ("x", True),
        ([0], True),
        ({"a": None}, True),
        (True, True),
    ],
)
def test_truth_is_jmespaths(value: object, expected: bool) -> None:
    assert truthy(value) is expected


def test_placeholders_are_found_in_order() -> None:
    assert placeholders("Hi {{ workflow.name }}, {{trigger.data.room}}!") == [
        "workflow.name",
        "trigger.data.room",
    ]
    assert placeholders("{{ {r: trigger.data.room} }}") == ["{r: trigger.data.room}"]
    assert placeholders("no placeholders") == []


def test_render_puts_values_in() -> None:
    text = "{{ workflow.name }} in {{ trigger.data.room }}: {{ trigger.data.tags }} {{ nothing }}|"
    assert render(text, CONTEXT) == 'Lights in kitchen: ["a","b"] |'
    assert render("level {{ trigger.data.level }}", CONTEXT) == "level 42"


def test_render_is_capped() -> None:
    context = {"trigger": {"big": "x" * (MAX_RENDERED * 2)}}
    assert len(render("{{ trigger.big }}{{ trigger.big }}", context)) == MAX_RENDERED


def test_render_raises_on_a_bad_placeholder() -> None:
    with pytest.raises(ExpressionError):
        render("{{ trigger[ }}", CONTEXT)
