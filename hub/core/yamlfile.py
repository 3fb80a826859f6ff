"""YAML files people edit by hand: parsed with the line of every key, errors that name file, line and key."""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from hub.core.errors import HubError

Loc = tuple[Any, ...]
Lines = dict[Loc, int]

MAX_DEPTH: Final = 64
"""How deep lists and mappings may nest: no real file comes close, and the parser's recursion
(libyaml's in C, then the walk below) would crash the process on a file nested some thousands deep."""
_OPEN = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def parse_mapping(
    text: str, path: Path, error: type[HubError], not_a_mapping: str
) -> tuple[dict[str, Any], Lines]:
    """Parse ``text`` as a mapping and record each key's line; ``error`` says what is wrong, and where.

    An empty document is an empty mapping; any other non-mapping raises ``not_a_mapping``.
    """
    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_cls(text)
    try:
        _check_depth(text, path, error, loader_cls)
        node = loader.get_single_node()
        if node is None or node.tag == "tag:yaml.org,2002:null":
            return {}, {}
        if node.tag != "tag:yaml.org,2002:map":
            line = node.start_mark.line + 1
            raise error(f"{path}, line {line}: {not_a_mapping}")
        # Walk the nodes before constructing: construction inlines `<<:` merges into the mapping,
        # where a key overriding a merged one would look like a duplicate.
        lines = _key_lines(node, path, error)
        try:
            data = loader.construct_document(node)
        except yaml.YAMLError:
            raise
        # PyYAML's constructors trust what their resolver matched, and a value that only looks
        # right (`2024-13-01`, an int of 5,000 digits, `!!bool x`, `!!timestamp 08`) fails them
        # with whatever Python raises; a person's file must get the error below, not a traceback.
        except Exception as err:  # noqa: BLE001  # turned into the typed error, with the line
            where = _unconstructable(node, loader_cls)
            raise error(f"{path}{where} ({_one_line(err)})") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error(f"{path}{where}: not valid YAML: {_one_line(err.problem or err)}") from None
    except yaml.reader.ReaderError as err:  # a character YAML does not allow
        # libyaml counts the position in UTF-8 bytes, PyYAML's reader in characters.
        if loader_cls is yaml.SafeLoader:
            line = text.count("\n", 0, err.position) + 1
        else:
            line = text.encode().count(b"\n", 0, err.position) + 1
        char = f"#x{err.character:04x}" if isinstance(err.character, int) else repr(err.character)
        raise error(f"{path}, line {line}: not valid YAML: {char}: {err.reason}") from None
    except yaml.YAMLError as err:
        raise error(f"{path}: not valid YAML: {_one_line(err)}") from None
    finally:
        loader.dispose()
    return data, lines


def _one_line(problem: object) -> str:
    return " ".join(str(problem).split())


def _unconstructable(root: yaml.Node, loader_cls: Any) -> str:
    """``, line N: key.path: <what>`` of the first value PyYAML's constructors cannot build."""
    constructor = loader_cls("")
    try:
        pending: list[tuple[yaml.Node, Loc]] = [(root, ())]
        seen: set[int] = set()
        while pending:
            node, loc = pending.pop(0)
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, yaml.MappingNode):
                pending += [(value, (*loc, key.value)) for key, value in node.value]
            elif isinstance(node, yaml.SequenceNode):
                pending += [(item, (*loc, index)) for index, item in enumerate(node.value)]
            else:
                try:
                    constructor.construct_object(node)
                except yaml.YAMLError:
                    continue
                except Exception:  # noqa: BLE001  # the value parse_mapping is reporting
                    kind = node.tag.rsplit(":", 1)[-1]
                    value = reprlib.repr(node.value)
                    where = f", line {node.start_mark.line + 1}: {dotted(loc) or '(top level)'}"
                    return f"{where}: {value} is not a valid YAML {kind}"
        return ": not valid YAML"
    finally:
        constructor.dispose()


def _check_depth(text: str, path: Path, error: type[HubError], loader_cls: Any) -> None:
    """Refuse nesting deeper than ``MAX_DEPTH`` from the event stream, which the parser reads flat."""
    depth = 0
    for event in yaml.parse(text, Loader=loader_cls):
        if isinstance(event, _OPEN):
            depth += 1
            if depth > MAX_DEPTH:
                where = f", line {event.start_mark.line + 1}" if event.start_mark else ""
                raise error(f"{path}{where}: nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, _CLOSE):
            depth -= 1


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
        if isinstance(part, str) and not part.isprintable():  # a line break would split the line
            text += f"[{part!r}]"
        else:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
