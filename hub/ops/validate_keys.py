"""The translation keys and flow steps an integration's code names, read from its source (no import).

Read the way ``hub.integrations.translations`` and the flow serializer resolve them: field labels,
placeholders and descriptions (``field.<name>.label``), option labels, form and menu error keys
(``error.<key>``), abort reasons (``abort.<reason>``), menu options
(``step.<step_id>.menu_options.<option>``), health sentences (``health.<name>``), device names
(``device.<key>.name``) and ``t("…")`` calls. A value the code computes at run time cannot be read
here and is left to the integration's own tests.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

_DOTTED_KEY: Final = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z0-9_][a-z0-9_-]*)+$")
_FLAT_KEY: Final = re.compile(r"^[a-z][a-z0-9_-]*$")
_FIELD_TEXTS: Final = ("label", "placeholder", "description")
_FORM_CALLS: Final = frozenset({"async_show_form", "async_show_menu", "form", "menu"})
_LOOKUP_CALLS: Final = frozenset({"t", "_"})
SKIPPED_DIRS: Final = frozenset({"tests", "__pycache__"})
"""Folders whose code never runs in the hub, so its keys are not the integration's."""


@dataclass(frozen=True, slots=True)
class Use:
    """A name found in the source: a translation key or a step id, and where."""

    name: str
    path: Path
    line: int


@dataclass(slots=True)
class References:
    """Everything one folder's code names."""

    keys: list[Use] = field(default_factory=list)
    steps: list[Use] = field(default_factory=list)
    syntax_errors: list[Use] = field(default_factory=list)


def source_files(folder: Path) -> Iterator[Path]:
    """The integration's own ``.py`` files, its tests left out."""
    for path in sorted(folder.rglob("*.py")):
        if not SKIPPED_DIRS.intersection(path.relative_to(folder).parts[:-1]):
            yield path


def references(folder: Path) -> References:
    """The keys and steps named anywhere in ``folder``'s code."""
    found = References()
    for path in source_files(folder):
        try:
            tree = ast.parse(path.read_text("utf-8"), filename=str(path))
        except (SyntaxError, UnicodeDecodeError, OSError) as err:
            line = getattr(err, "lineno", None) or 0
            found.syntax_errors.append(Use(f"cannot be read ({err})", path, line))
            continue
        _Visitor(path, _constants(tree), found).visit(tree)
    return found


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` (or ``NAME: Final = "text"``), so ``errors={"base": NAME}`` reads."""
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if (
            isinstance(target, ast.Name)
            and isinstance(value, ast.Constant)
            and isinstance(value.value, str)
        ):
            found[target.id] = value.value
    return found


class _Visitor(ast.NodeVisitor):
    def __init__(self, path: Path, constants: dict[str, str], found: References) -> None:
        self.path = path
        self.constants = constants
        self.found = found
        self.in_class = 0

    def text(self, node: ast.AST | None) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return self.constants.get(node.id)
        return None

    def key(self, name: str, node: ast.AST) -> None:
        self.found.keys.append(Use(name, self.path, getattr(node, "lineno", 0)))

    def error_keys(self, node: ast.AST | None) -> None:
        if isinstance(node, ast.Dict):
            for value in node.values:
                text = self.text(value)
                if text is not None and _FLAT_KEY.match(text):
                    self.key(f"error.{text}", value)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.in_class += 1
        self.generic_visit(node)
        self.in_class -= 1

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        # SimpleConfigFlow.validate returns an error key; so may a step's helper, but only this
        # hook's contract says its every string return is one.
        if self.in_class and node.name == "validate":
            for child in ast.walk(node):
                if isinstance(child, ast.Return):
                    text = self.text(child.value)
                    if text is not None and _FLAT_KEY.match(text):
                        self.key(f"error.{text}", child)
        saved, self.in_class = self.in_class, 0  # a nested def is not a method
        self.generic_visit(node)
        self.in_class = saved

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            # errors["base_url"] = "invalid_url", and errors = {"base": "cannot_connect"}
            if isinstance(target, ast.Subscript) and _names_errors(target.value):
                text = self.text(node.value)
                if text is not None and _FLAT_KEY.match(text):
                    self.key(f"error.{text}", node)
            elif _names_errors(target):
                self.error_keys(node.value)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = _call_name(node.func)
        keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg is not None}
        if name in ("FieldDescriptor", "SelectOption"):
            texts = [keywords.get(kw) for kw in _FIELD_TEXTS]
            if name == "SelectOption" and len(node.args) >= 2:
                texts.append(node.args[1])
            for value in texts:
                text = self.text(value)
                if text is not None and _DOTTED_KEY.match(text):
                    self.key(text, node)
        elif name in _FORM_CALLS:
            self._form(node, keywords)
        elif name == "async_abort":
            reason = self.text(keywords.get("reason"))
            if reason is not None:
                self.key(f"abort.{reason}", node)
        elif name == "HealthResult":
            text = self.text(keywords.get("key"))
            if text is not None and _DOTTED_KEY.match(text):
                self.key(text, node)
        elif name == "DeviceInfo":
            text = self.text(keywords.get("translation_key"))
            if text is not None:
                self.key(f"device.{text}.name", node)
        elif name in _LOOKUP_CALLS and node.args:
            text = self.text(node.args[0])
            if text is not None and _DOTTED_KEY.match(text):
                self.key(text, node)
        self.generic_visit(node)

    def _form(self, node: ast.Call, keywords: dict[str, ast.expr]) -> None:
        step = self.text(keywords.get("step_id"))
        if step is not None:
            self.found.steps.append(Use(step, self.path, node.lineno))
        self.error_keys(keywords.get("errors"))
        options = keywords.get("menu_options")
        if isinstance(options, ast.List | ast.Tuple):
            for element in options.elts:
                option = self.text(element)
                if option is None:
                    continue
                self.found.steps.append(Use(option, self.path, node.lineno))
                if step is not None:
                    self.key(f"step.{step}.menu_options.{option}", element)


def _names_errors(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id.endswith("errors")


def _call_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None
