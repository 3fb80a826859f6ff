"""YAML files people edit by hand: parsed with the line of every key, errors that name file, line and key."""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from hub.core.errors import HubError

Loc = tuple[Any, ...]
Lines = dict[Loc, int]


def parse_mapping(
    text: str, path: Path, error: type[HubError], not_a_mapping: str
) -> tuple[dict[str, Any], Lines]:
    """Parse ``text`` as a mapping and record each key's line; ``error`` says what is wrong, and where.

    An empty document is an empty mapping; any other non-mapping raises ``not_a_mapping``.
    """
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        if node is None or node.tag == "tag:yaml.org,2002:null":
            return {}, {}
        if node.tag != "tag:yaml.org,2002:map":
            line = node.start_mark.line + 1
            raise error(f"{path}, line {line}: {not_a_mapping}")
        # Walk the nodes before constructing: construction inlines `<<:` merges into the mapping,
        # where a key overriding a merged one would look like a duplicate.
        lines = _key_lines(node, path, error)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error(f"{path}{where}: not valid YAML: {err.problem or err}") from None
    except yaml.YAMLError as err:
        raise error(f"{path}: not valid YAML: {err}") from None
    finally:
        loader.dispose()
    return data, lines


def _key_lines(root: yaml.Node, path: Path, error: type[HubError]) -> Lines:
    """The line of every key and list item; a duplicate or non-text key is an error here."""
    lines: Lines = {}
    visited: set[int] = set()

    def walk(node: yaml.Node, prefix: Loc) -> None:
        # An alias can point back at its own ancestor; walking it again would never end.
        if id(node) in visited:
            return
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, int] = {}
            for key_node, value_node in node.value:
                key, line = key_node.value, key_node.start_mark.line + 1
                where = f"{path}, line {line}: {dotted((*prefix, key))}"
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                if key_node.tag != "tag:yaml.org,2002:str":
                    # YAML reads `yes:` or `1:` as a bool or a number, which no key can match.
                    raise error(f"{where}: a key must be text (quote it)")
                if key in first:
                    raise error(f"{where}: key appears twice (first on line {first[key]})")
                first[key] = lines[(*prefix, key)] = line
                walk(value_node, (*prefix, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*prefix, index)] = item.start_mark.line + 1
                walk(item, (*prefix, index))

    walk(root, ())
    return lines


def line_of(loc: Loc, lines: Lines) -> int:
    """The line of the deepest part of ``loc`` that the file has, or 0."""
    return next((lines[loc[:end]] for end in range(len(loc), 0, -1) if loc[:end] in lines), 0)


def describe(
    err: ValidationError,
    model: type[BaseModel],
    where: Callable[[Loc], tuple[int, str]],
    *,
    missing: str = "missing",
) -> str:
    """One line per error, in file order: ``<where>: <key.path>: <what is wrong>``.

    ``where(loc)`` returns a sort key and the place to name (the file and line, or an environment
    variable); ``missing`` is what a missing top-level key is called.
    """
    described = []
    for error in err.errors():
        loc = tuple(error["loc"])
        kind, message = error["type"], str(error["msg"])
        if kind == "extra_forbidden":
            message = "unknown key" + _suggestion(model, loc)
        elif kind == "missing":
            message = missing if len(loc) == 1 else "missing"
        elif kind == "literal_error":
            expected = error["ctx"]["expected"]
            message = f"{reprlib.repr(error['input'])} is not allowed (use {expected})"
        else:
            message = message.removeprefix("Value error, ")
        order, place = where(loc)
        described.append((order, f"{place}: {dotted(loc) or '(top level)'}: {message}"))
    return "\n".join(text for _, text in sorted(described, key=lambda item: item[0]))


def _suggestion(model: type[BaseModel], loc: Loc) -> str:
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if current is None or part not in current.model_fields:
            return ""
        annotation: Any = current.model_fields[part].annotation
        if get_origin(annotation) is tuple:  # a tuple of one model, like models or cards
            annotation = get_args(annotation)[0]
        is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        current = annotation if is_model else None
    if current is None:
        return ""
    close = difflib.get_close_matches(str(loc[-1]), list(current.model_fields), n=1)
    known = ", ".join(current.model_fields)
    return f" (did you mean {close[0]!r}?)" if close else f" (known keys: {known})"


def dotted(loc: Loc) -> str:
    """``("models", 0, "tier")`` → ``models[0].tier``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
