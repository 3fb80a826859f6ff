"""One module of error codes, each with a sentence in every language the hub ships."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import hub
from hub.core import errors

HUB_DIR: Final = Path(hub.__file__).resolve().parent
ERRORS_MODULE: Final = HUB_DIR / "core" / "errors.py"
LANGUAGES: Final = ("en", "de")
_CODE: Final = re.compile(r"^[a-z][a-z0-9_]*$")
_PLACEHOLDER: Final = re.compile(r"\{(\w+)\}")


def codes() -> dict[str, str]:
    """Every code constant of ``hub/core/errors.py``: its name and its value."""
    found: dict[str, str] = {}
    for node in ast.parse(ERRORS_MODULE.read_text("utf-8")).body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            and _CODE.match(node.value.value)
        ):
            found[node.target.id] = node.value.value
    return found


def table(language: str) -> dict[str, Any]:
    """The hub's translation file for ``language``."""
    data = json.loads((HUB_DIR / "translations" / f"{language}.json").read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def modules() -> Iterator[tuple[Path, ast.Module]]:
    """Every module of the hub but ``hub/core/errors.py``, parsed."""
    for path in sorted(HUB_DIR.rglob("*.py")):
        if path != ERRORS_MODULE:
            yield path, ast.parse(path.read_text("utf-8"))


def is_text(node: ast.AST | None) -> bool:
    """A literal string (where a code constant belongs instead)."""
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def stray_codes(path: Path, tree: ast.Module) -> Iterator[str]:
    """Places in one module that spell a code out instead of naming its constant."""
    where = path.relative_to(HUB_DIR.parent)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                targets = item.targets if isinstance(item, ast.Assign) else []
                if isinstance(item, ast.AnnAssign):
                    targets = [item.target]
                value = item.value if isinstance(item, ast.Assign | ast.AnnAssign) else None
                for target in targets:
                    if isinstance(target, ast.Name) and target.id == "code" and is_text(value):
                        yield f"{where}:{item.lineno}: class {node.name} code = literal"
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "code" and is_text(keyword.value):
                    yield f"{where}:{node.lineno}: code=literal"
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "code" and is_text(value):
                    yield f"{where}:{node.lineno}: {{'code': literal}}"


def used_keys() -> set[str]:
    """Every ``key="errors.…"`` the hub passes to an error."""
    keys: set[str] = set()
    for _, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "key":
                value = node.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    keys.add(value.value)
    return {key for key in keys if key.startswith(errors.ERROR_KEY_PREFIX)}


def test_the_code_constants_are_read_from_the_module() -> None:
    found = codes()
    assert found["NOT_FOUND"] == errors.NOT_FOUND
    assert found["STORAGE_FULL"] == errors.STORAGE_FULL
    assert "ERROR_KEY_PREFIX" not in found
    assert len(set(found.values())) == len(found), "two constants share a code"


def test_every_code_has_a_sentence_in_english_and_german() -> None:
    for language in LANGUAGES:
        sentences = table(language)["errors"]
        missing = sorted(code for code in codes().values() if code not in sentences)
        assert not missing, f"{language}.json lacks errors.{missing}"
        blank = sorted(key for key, text in sentences.items() if not str(text).strip())
        assert not blank, f"{language}.json has empty errors.{blank}"


def test_every_key_the_hub_raises_with_has_a_sentence_in_english_and_german() -> None:
    for language in LANGUAGES:
        sentences = table(language)["errors"]
        missing = sorted(
            key for key in used_keys() if key.removeprefix(errors.ERROR_KEY_PREFIX) not in sentences
        )
        assert not missing, f"{language}.json lacks {missing}"


def test_english_and_german_have_the_same_sentences_with_the_same_placeholders() -> None:
    english, german = table("en"), table("de")
    for section in ("errors", "validation"):
        assert set(english[section]) == set(german[section]), section
        for key, text in english[section].items():
            expected = set(_PLACEHOLDER.findall(text))
            assert set(_PLACEHOLDER.findall(german[section][key])) == expected, f"{section}.{key}"


def test_german_sentences_say_du_not_sie() -> None:
    formal = re.compile(r"\b(Sie|Ihr|Ihre|Ihnen|Ihren)\b")
    sentences = {**table("de")["errors"], **table("de")["validation"]}
    wrong = {key: text for key, text in sentences.items() if formal.search(text)}
    assert not wrong, wrong


def test_no_code_is_defined_outside_the_errors_module() -> None:
    strays = [stray for path, tree in modules() for stray in stray_codes(path, tree)]
    assert not strays, "name the constant from hub/core/errors.py instead:\n" + "\n".join(strays)


def test_the_guard_finds_a_spelled_out_code() -> None:
    source = (
        "class GoneError(HubError):\n"
        "    code = 'gone'\n"
        "raise HubError('x', code='gone')\n"
        "reply = {'code': 'gone'}\n"
    )
    strays = list(stray_codes(HUB_DIR / "x.py", ast.parse(source)))
    assert len(strays) == 3, strays
