"""JMESPath expressions over a run's context, and ``{{ expression }}`` placeholders in text.

JMESPath is a query language with no side effects: an expression can read the context and build
values from it, never call code. ``jmespath`` is imported on first use, so start-up stays fast.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

MAX_RENDERED: Final = 4_000
"""A rendered text is cut here: a placeholder may pick a whole event's data."""

_PLACEHOLDER: Final = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


class ExpressionError(ValueError):
    """An expression that does not compile or cannot be evaluated; ``str()`` says why (English)."""

    def __init__(self, expression: str, message: str) -> None:
        super().__init__(message)
        self.expression = expression


@lru_cache(maxsize=1024)
def _compiled(text: str) -> Any:
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        return jmespath.compile(text)
    except JMESPathError as error:
        raise ExpressionError(text, _describe(error)) from None
    except (ValueError, TypeError, RecursionError) as error:
        raise ExpressionError(text, f"invalid expression: {error}") from None


def compile_expression(text: str) -> Any:
    """The parsed expression (cached); raises ExpressionError when ``text`` does not parse."""
    if not text.strip():
        raise ExpressionError(text, "the expression is empty")
    return _compiled(text)


def evaluate(text: str, context: Mapping[str, Any]) -> Any:
    """The value of the expression ``text`` over ``context``."""
    from jmespath.exceptions import JMESPathError

    parsed = compile_expression(text)
    try:
        return parsed.search(context)
    except JMESPathError as error:
        raise ExpressionError(text, _describe(error)) from None
    except (ValueError, TypeError, RecursionError) as error:
        raise ExpressionError(text, f"cannot evaluate: {error}") from None


def truthy(value: Any) -> bool:
    """JMESPath's truth: everything but null, false, "" and an empty list or object."""
    if value is None or value is False:
        return False
    if isinstance(value, str | list | dict | tuple):
        return len(value) > 0
    return True


def placeholders(text: str) -> list[str]:
    """The expressions inside the ``{{ … }}`` placeholders of ``text``, stripped, in order."""
    return [match.group(1).strip() for match in _PLACEHOLDER.finditer(text)]


def render(text: str, context: Mapping[str, Any]) -> str:
    """``text`` with each placeholder replaced by its value: a string as is, null as "", anything
    else as compact JSON; the result is at most MAX_RENDERED characters."""

    def replace(match: re.Match[str]) -> str:
        return _as_text(evaluate(match.group(1).strip(), context))

    return _PLACEHOLDER.sub(replace, text)[:MAX_RENDERED]


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _describe(error: Exception) -> str:
    # jmespath's messages span lines with a caret under the position: one line, with the column.
    lines = str(error).strip().splitlines()
    message = lines[0].rstrip(":") if lines else type(error).__name__
    position = getattr(error, "lex_position", None)
    if isinstance(position, int) and "column" not in message:
        message = f"{message} (at column {position})"
    return message
