"""``hub validate``: what the hub would refuse, or show wrongly, in an integration folder.

Each check asks the hub's own rule rather than a copy of it: the manifest schema and the loader's
import (``hub.integrations.loader``), the loader's requirement check, the flow base classes, and
key resolution through ``Translations`` (an integration's ``en.json``, then the hub's).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel

from hub.integrations.capabilities import AgentDescriptor, SkillDescriptor, SurfaceDescriptor
from hub.integrations.config_flow import STEP_PREFIX, ConfigFlow
from hub.integrations.entities import (
    EntityStateTypeDescriptor,
    EventTypeDescriptor,
    RelationTypeDescriptor,
)
from hub.integrations.integration import Integration
from hub.integrations.loader import (
    MANIFEST_FILE,
    PACKAGE_FILE,
    Candidate,
    LoadedIntegration,
    load,
    missing_requirements,
)
from hub.integrations.manifest import IntegrationManifest, ManifestError, load_manifest
from hub.integrations.simple_flow import SimpleConfigFlow
from hub.integrations.translations import (
    FALLBACK_LANGUAGE,
    HUB_TRANSLATIONS,
    TRANSLATIONS_DIR,
    Translations,
)
from hub.ops.validate_keys import references

DESCRIPTOR_HOOKS: Final[tuple[tuple[str, type[BaseModel]], ...]] = (
    ("entity_types", EntityStateTypeDescriptor),
    ("event_types", EventTypeDescriptor),
    ("relation_types", RelationTypeDescriptor),
    ("agents", AgentDescriptor),
    ("skills", SkillDescriptor),
    ("surfaces", SurfaceDescriptor),
)
"""The hooks whose answers the hub stores and sends to the web UI as JSON."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake: the integration, the file it is in, and what is wrong."""

    domain: str
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.domain}: {self.path}: {self.message}"


@dataclass(frozen=True, slots=True)
class Report:
    """What one run checked and found."""

    folders: tuple[Path, ...]
    problems: tuple[Problem, ...]


def validate(dirs: Sequence[Path]) -> Report:
    """Check every integration folder in ``dirs`` (each a folder of integrations, or one itself)."""
    folders: list[Path] = []
    problems: list[Problem] = []
    for directory in dirs:
        if not directory.is_dir():
            problems.append(Problem(directory.name or str(directory), directory, "not a folder"))
            continue
        for folder in integration_folders(directory):
            folders.append(folder)
            problems += validate_folder(folder)
    return Report(tuple(folders), tuple(problems))


def integration_folders(directory: Path) -> list[Path]:
    """``directory`` when it is an integration, else its sub-folders as the loader scans them."""
    if (directory / MANIFEST_FILE).is_file():
        return [directory]
    return [
        folder
        for folder in sorted(directory.iterdir())
        if folder.is_dir() and not folder.name.startswith((".", "_"))
    ]


def validate_folder(folder: Path) -> list[Problem]:
    """Every problem of one integration folder; an empty list when the hub would take it as is."""
    manifest_path = folder / MANIFEST_FILE
    name = folder.resolve().name  # "hub validate ." names the folder by its path
    if not manifest_path.is_file():
        return [Problem(name, manifest_path, "missing: every integration needs one")]
    problems = _Problems(name)
    manifest = _manifest(manifest_path, problems)
    if manifest is not None:
        if manifest.domain != name:
            problems.add(
                manifest_path,
                f"domain {manifest.domain!r} differs from the folder name {name!r}; "
                "the hub skips such a folder",
            )
        for requirement in missing_requirements(manifest.requirements):
            problems.add(
                manifest_path,
                f"requirement {requirement!r} is not installed here, so the integration cannot "
                "import it (the hub never installs packages)",
            )
    translations = _translations(folder, name, problems)
    loaded = None
    if manifest is not None and manifest.domain == name:
        loaded = _load(manifest, folder, problems)
    _check_keys(folder, translations, loaded, problems)
    if loaded is not None:
        _check_flow(folder, loaded, problems)
        _check_descriptors(folder, loaded.integration, translations, problems)
    return problems.items


class _Problems:
    def __init__(self, domain: str) -> None:
        self.domain = domain
        self.items: list[Problem] = []

    def add(self, path: Path, message: str) -> None:
        self.items.append(Problem(self.domain, path, message))


def _manifest(path: Path, problems: _Problems) -> IntegrationManifest | None:
    try:
        return load_manifest(path)
    except ManifestError as err:
        for line in err.message.splitlines():
            # The schema's message starts with the file's path, which the line already names.
            problems.add(path, line.removeprefix(f"{path}, ").removeprefix(f"{path}: "))
        return None


def _load(
    manifest: IntegrationManifest, folder: Path, problems: _Problems
) -> LoadedIntegration | None:
    # Dependencies count as loaded: this checks the folder alone, as an author's CI would.
    outcome = load(Candidate(manifest, folder, "external"), set(manifest.dependencies))
    if isinstance(outcome, LoadedIntegration):
        return outcome
    problems.add(folder / PACKAGE_FILE, f"{outcome.message} (the hub skips it: {outcome.reason})")
    return None


# Translations


@dataclass(frozen=True, slots=True)
class _Texts:
    """The English keys a lookup finds (the integration's, then the hub's)."""

    lookup: Translations
    domain: str
    english: frozenset[str]
    path: Path

    def has(self, key: str) -> bool:
        return self.lookup.localizer(self.domain, FALLBACK_LANGUAGE).get(key) is not None


def _translations(folder: Path, name: str, problems: _Problems) -> _Texts:
    directory = folder / TRANSLATIONS_DIR
    english_path = directory / f"{FALLBACK_LANGUAGE}.json"
    tables: dict[Path, frozenset[str]] = {}
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        keys = _flat_keys(path, problems)
        if keys is not None:
            tables[path] = keys
    english = tables.get(english_path)
    if tables and not english_path.exists():
        # Without any file, keys the code names are reported one by one (not in en.json).
        problems.add(english_path, "missing: the English texts every other language follows")
    for path, keys in tables.items():
        if path == english_path or english is None:
            continue
        for key in sorted(english - keys):
            problems.add(path, f"missing key {key!r} (en.json has it)")
        for key in sorted(keys - english):
            problems.add(path, f"extra key {key!r} (en.json has no such key)")
    lookup = Translations()
    lookup.load(HUB_TRANSLATIONS, {name: folder})
    return _Texts(lookup, name, english or frozenset(), english_path)


def _flat_keys(path: Path, problems: _Problems) -> frozenset[str] | None:
    try:
        raw = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        where = f"line {err.lineno}: {err.msg}" if isinstance(err, json.JSONDecodeError) else err
        problems.add(path, f"not readable JSON ({where})")
        return None
    if not isinstance(raw, dict):
        problems.add(path, "must be a JSON object of keys")
        return None
    keys: set[str] = set()
    stack: list[tuple[str, Mapping[str, Any]]] = [("", raw)]
    while stack:
        prefix, node = stack.pop()
        for name, value in node.items():
            if isinstance(value, dict):
                stack.append((f"{prefix}{name}.", value))
            elif isinstance(value, str):
                keys.add(f"{prefix}{name}")
            else:
                problems.add(path, f"{prefix}{name}: a {type(value).__name__}, not text")
    return frozenset(keys)


def _check_keys(
    folder: Path, texts: _Texts, loaded: LoadedIntegration | None, problems: _Problems
) -> None:
    found = references(folder)
    for use in found.syntax_errors:
        problems.add(use.path, f"line {use.line}: {use.name}")
    reported: set[str] = set()
    for use in found.keys:
        if use.name not in reported and not texts.has(use.name):
            reported.add(use.name)
            problems.add(use.path, f"line {use.line}: key {use.name!r} is not in {texts.path.name}")
    flow = loaded.integration.config_flow_cls if loaded is not None else None
    if flow is None:
        return
    for use in found.steps:
        if not flow.has_step(use.name):
            problems.add(
                use.path,
                f"line {use.line}: step {use.name!r} is shown, but {flow.__qualname__} has no "
                f"{STEP_PREFIX}{use.name} to receive it",
            )


# Flow classes and descriptors


def _check_flow(folder: Path, loaded: LoadedIntegration, problems: _Problems) -> None:
    flow = loaded.integration.config_flow_cls
    if flow is None:
        return
    path = _source(flow, folder)
    name = flow.__qualname__
    if inspect.isabstract(flow):
        missing = ", ".join(sorted(getattr(flow, "__abstractmethods__", ())))
        problems.add(path, f"{name} does not define {missing}")
    if flow.domain and flow.domain != loaded.domain:
        problems.add(path, f"{name}.domain is {flow.domain!r}, not {loaded.domain!r}")
    for attribute in dir(flow):
        if attribute.startswith(STEP_PREFIX):
            _check_step(flow, attribute, path, problems)
    if issubclass(flow, SimpleConfigFlow):
        _check_simple(flow, path, problems)


def _check_step(flow: type[ConfigFlow], attribute: str, path: Path, problems: _Problems) -> None:
    method = getattr(flow, attribute)
    if not callable(method):
        problems.add(path, f"{flow.__qualname__}.{attribute} is not a method")
        return
    try:
        inspect.signature(method).bind(None, None)
    except TypeError:
        problems.add(
            path, f"{flow.__qualname__}.{attribute} must take (self, user_input) and nothing else"
        )
    except ValueError:
        pass  # a builtin without a signature: nothing to check


def _check_simple(flow: type[SimpleConfigFlow], path: Path, problems: _Problems) -> None:
    names = {item.name for item in flow.SCHEMA}
    if flow.TITLE_FIELD and flow.TITLE_FIELD not in names:
        problems.add(path, f"{flow.__qualname__}.TITLE_FIELD {flow.TITLE_FIELD!r} is not in SCHEMA")
    for entry_field in flow.ENTRY_FIELDS:
        if entry_field not in names:
            problems.add(
                path, f"{flow.__qualname__}.ENTRY_FIELDS names {entry_field!r}, not in SCHEMA"
            )
    for index, item in enumerate(flow.SCHEMA):
        _check_json(item, f"{flow.__qualname__}.SCHEMA[{index}]", path, problems)


def _check_descriptors(
    folder: Path, integration: Integration, texts: _Texts, problems: _Problems
) -> None:
    path = _source(type(integration), folder)
    for hook, expected in DESCRIPTOR_HOOKS:
        try:
            answer = getattr(integration, hook)()
        except Exception as err:  # noqa: BLE001  # integration code: report, never crash
            problems.add(path, f"{hook}() raised {type(err).__name__}: {err}")
            continue
        if not isinstance(answer, Mapping):
            problems.add(path, f"{hook}() returned a {type(answer).__name__}, not a dict")
            continue
        for key, item in answer.items():
            where = f"{hook}()[{key!r}]"
            if not isinstance(item, expected):
                problems.add(
                    path, f"{where} is a {type(item).__name__}, not {_article(expected.__name__)}"
                )
            _check_json(item, where, path, problems)
            if isinstance(item, EntityStateTypeDescriptor):
                _check_entity_type(key, item, where, texts, path, problems)


def _check_entity_type(
    key: object,
    item: EntityStateTypeDescriptor,
    where: str,
    texts: _Texts,
    path: Path,
    problems: _Problems,
) -> None:
    if item.key != key:
        problems.add(path, f"{where} has key {item.key!r}; the dict must use the same")
    if item.translation_key is not None:
        name_key = f"entity.{item.translation_key}.name"
        if not texts.has(name_key):
            problems.add(path, f"{where}: key {name_key!r} is not in {texts.path.name}")


def _check_json(item: object, where: str, path: Path, problems: _Problems) -> None:
    """As the API sends it: pydantic's JSON mode, then strict JSON (no NaN, no odd objects)."""
    try:
        value = item.model_dump(mode="json") if isinstance(item, BaseModel) else item
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as err:
        problems.add(path, f"{where} is not JSON-serializable ({err})")
    except Exception as err:  # noqa: BLE001  # pydantic's serializer errors have no common base
        problems.add(path, f"{where} is not JSON-serializable ({type(err).__name__}: {err})")


def _source(obj: type, folder: Path) -> Path:
    """Where ``obj`` is defined, under ``folder`` as the person named it when it lies there."""
    try:
        found = inspect.getsourcefile(obj)
    except TypeError:
        found = None
    if not found:
        return folder / PACKAGE_FILE
    path = Path(found).resolve()
    try:
        return folder / path.relative_to(folder.resolve())
    except ValueError:
        return path


def _article(name: str) -> str:
    return f"an {name}" if name[:1] in "AEIOU" else f"a {name}"
