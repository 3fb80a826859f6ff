"""Fuzzing the files a person writes: ``manifest.yaml`` (parsed alone and through discovery) and
``configuration.yaml`` with ``HUB__…`` overrides. Each answer is the typed error naming the file
(or variable), line and key, or a valid model; never another exception, never a crash.

These are plain ``@given`` tests: the code under test is synchronous, and each example writes its
files into a fresh temporary folder, so examples are independent and shrink to a minimal input.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from hub.config import CONFIG_FILE, ENV_PREFIX, HubConfig, load_config, template_text
from hub.core.errors import ConfigError
from hub.integrations.loader import NAMESPACE, SkipReason, discover
from hub.integrations.manifest import IntegrationManifest, ManifestError, load_manifest
from hub.integrations.overview import overview
from hub.integrations.registry import IntegrationRegistry
from tests.integrations.helpers import PLAIN_INIT
from tests.robustness.conftest import (
    LARGE_REPR,
    examples,
    huge_texts,
    json_values,
    odd_json_texts,
)

pytestmark = LARGE_REPR

# YAML that a person (or a broken editor) writes

_YAML_FRAGMENTS = [
    "domain", "name", "version", "frontend", "cards", "card", "type", "requirements", "http",
    "port", "models", "logger", "logs", ":", ": ", "- ", "  ", "    ", "\t", "\n", "#", "'", '"',
    "[", "]", "{", "}", ",", "&a ", "*a", "<<: ", "!!python/object:os.system", "!!binary ",
    "!!set ", "!!timestamp ", "!!float ", "? ", "|", ">", "---\n", "...\n", "%YAML 1.1\n",
    "~", "null", "yes", "no", "on", "0x1F", "0o17", "1e3", ".inf", ".nan", "2024-01-01",
    "12:30:00", "2024-13-45", "9" * 4_400, "\ufeff", "\x00", "\x85", "\u2028", "é", "😀",
]  # fmt: skip

yaml_fragments = st.lists(st.sampled_from(_YAML_FRAGMENTS) | st.text(max_size=8), max_size=40).map(
    "".join
)
"""Text assembled from YAML's syntax, so the parser gets past its first character."""

yaml_scalars = (
    json_values
    | st.dates()
    | st.datetimes()
    | st.binary(max_size=16)
    | st.sets(st.integers(0, 9), max_size=3)
)
"""Values ``yaml.safe_load`` can return: JSON's, plus dates, timestamps, bytes and sets."""


def _dump(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _mutate(text: str, edits: list[tuple[int, int, str]]) -> str:
    """``text`` with spans replaced: each edit is (where, how many characters to drop, insert)."""
    for where, drop, insert in edits:
        at = where % (len(text) + 1)
        text = text[:at] + insert + text[at + drop :]
    return text


edits = st.lists(
    st.tuples(st.integers(0, 10_000), st.integers(0, 5), st.sampled_from(_YAML_FRAGMENTS)),
    max_size=6,
)

# Manifests

domains = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
junk = yaml_scalars | huge_texts
_frontend_item = st.dictionaries(
    st.sampled_from(
        ["key", "name", "icon", "title", "module", "entity_types", "command", "description", "card"]
    )
    | st.text(max_size=5),
    json_values | st.just({"type": "entities"}) | st.just("x.js") | domains,
    max_size=6,
)
manifest_fields: dict[str, st.SearchStrategy[Any]] = {
    "domain": domains | junk,
    "name": st.text(max_size=20) | junk,
    "version": st.sampled_from(["1.0.0", "0.10", 1.0, 2, True]) | junk,
    "integration_type": st.sampled_from(["tool", "service", "knowledge", "TOOL"]) | junk,
    "config_flow": st.booleans() | junk,
    "single_instance": st.booleans() | junk,
    "trust_tier": st.sampled_from(["trusted", "untrusted"]) | junk,
    "iot_class": st.sampled_from(["local_polling", "cloud_push", "nope"]) | junk,
    "requirements": st.lists(st.sampled_from(["aiofoo>=1.2", "pyyaml", "x[a,b]==1", "-e ."]))
    | junk,
    "required_tier": st.sampled_from(["internal", "Regulated", 0, 1, 2, 3, -1, True, "x"]) | junk,
    "provides": st.lists(domains | junk, max_size=3) | junk,
    "dependencies": st.lists(domains | junk, max_size=3) | junk,
    "after_dependencies": st.lists(domains, max_size=3) | junk,
    "config_schema_version": st.integers(-2, 3) | junk,
    "codeowners": st.lists(st.text(max_size=5), max_size=3) | junk,
    "documentation": st.sampled_from(["https://example.org/x", "ftp://x", "http://"]) | junk,
    "quality_scale": st.sampled_from(["internal", "beta", "gold"]) | junk,
    "issue_tracker": st.none() | junk,
    "frontend": st.none()
    | st.dictionaries(
        st.sampled_from(["renderers", "panels", "slash_commands", "cards", "widgets"]),
        st.lists(_frontend_item, max_size=3) | junk,
        max_size=4,
    )
    | junk,
}
_rest = {key: value for key, value in manifest_fields.items() if key not in ("domain", "name")}
manifest_dicts = st.fixed_dictionaries(
    {"domain": domains, "name": st.text(min_size=1, max_size=20)},
    optional={**_rest, "extra_key": junk, "Domain": junk},
) | st.fixed_dictionaries({}, optional=manifest_fields)
"""Manifests with each known key right, wrong, or missing, and some unknown keys."""

VALID_MANIFEST = _dump({"domain": "lamp", "name": "Lamp", "version": "1.0.0", "provides": ["x"]})
CYCLIC_CARD = """\
domain: lamp
name: Lamp
frontend:
  cards:
    - {key: k, name: n, icon: i, card: &c {type: t, again: *c}}
"""
_CHAIN = [f"a{n}: &a{n} [*a{n - 1}]" if n else "a0: &a0 [x]" for n in range(3000)]
ALIAS_CHAIN = "domain: lamp\nname: Lamp\n" + "".join(f"{line}\n" for line in _CHAIN)
"""Data nested 3,000 deep from a file nested two deep: each alias wraps the one before."""
DEEP_CARD = """\
domain: lamp
name: Lamp
frontend:
  cards:
    - key: k
      name: n
      icon: i
      card:
        type: t
""" + "".join(f"        {line}\n" for line in _CHAIN)
"""A card the web UI would be sent, nested 3,000 deep by the same aliases."""


manifest_texts = st.one_of(
    manifest_dicts.map(_dump),
    st.builds(_mutate, manifest_dicts.map(_dump), edits),
    st.builds(_mutate, st.just(VALID_MANIFEST), edits),
    yaml_fragments,
    st.text(max_size=300),
    odd_json_texts.map(lambda text: "domain: " + text),
)


def _assert_names_the_file(message: str, path: Path) -> None:
    assert message, "an error says what is wrong"
    for line in message.splitlines():
        assert line.startswith(str(path)), f"every line names the file: {message!r}"


def _assert_servable(manifest: IntegrationManifest) -> None:
    """What the web UI is sent about a valid manifest can be encoded as JSON."""
    json.dumps(manifest.model_dump(mode="json"))


@examples(1.0)
@given(text=manifest_texts)
@example(text="domain: lamp\nname: " + "[" * 50_000 + "]" * 50_000)
@example(text="- " * 5_000 + "x")
@example(text=CYCLIC_CARD)
@example(text=ALIAS_CHAIN)
@example(text=DEEP_CARD)
@example(text="a: &a [*a]\n<<: {1: 2}\n")
def test_a_manifest_is_valid_or_a_manifest_error_naming_the_file(text: str) -> None:
    """``load_manifest``: a valid manifest, or a ``ManifestError`` whose every line names the file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "manifest.yaml"
        path.write_text(text, "utf-8")
        try:
            manifest = load_manifest(path)
        except ManifestError as err:
            _assert_names_the_file(err.message, path)
        else:
            _assert_servable(manifest)


@given(raw=st.binary(max_size=200))
@example(raw=b"\xff\xfe\x00d\x00o")
@example(raw="domain: lamp\nname: Lämp\n".encode("latin-1"))
def test_a_manifest_of_any_bytes_is_read_or_refused(raw: bytes) -> None:
    """Bytes that are not UTF-8 (or not YAML) get a ``ManifestError`` too."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "manifest.yaml"
        path.write_bytes(raw)
        try:
            _assert_servable(load_manifest(path))
        except ManifestError as err:
            _assert_names_the_file(err.message, path)


def _folder_name(text: str) -> str:
    found = re.search(r"^domain: ([a-z][a-z0-9_]{0,15})$", text, re.MULTILINE)
    return found[1] if found else "fuzzed"


@examples(0.5)
@given(text=manifest_texts)
@example(text=CYCLIC_CARD)
@example(text="domain: lamp\nname: Lamp\ndependencies: [lamp]\n")
def test_discovery_loads_or_skips_a_fuzzed_folder_and_never_raises(text: str) -> None:
    """``discover``: the folder is loaded or skipped with a reason; boot would go on either way."""
    name = _folder_name(text)
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root) / name
        folder.mkdir()
        (folder / "manifest.yaml").write_text(text, "utf-8")
        (folder / "__init__.py").write_text(PLAIN_INIT, "utf-8")
        try:
            result = discover(Path(root))
        finally:
            for module in [m for m in sys.modules if m.startswith(f"{NAMESPACE}.{name}")]:
                del sys.modules[module]
    assert len(result.loaded) + len(result.skipped) == 1, result
    for skipped in result.skipped:
        assert skipped.path == folder
        assert isinstance(skipped.reason, SkipReason)
        assert skipped.message
    for loaded in result.loaded:
        assert loaded.domain == name
    json.dumps(overview(IntegrationRegistry(result), []))  # what GET /api/integrations sends


# configuration.yaml and HUB__ overrides

_KEY_LINE = re.compile(r"^# (\s*(- )?[a-z_][a-z0-9_.]*:(\s|$).*)$")
UNCOMMENTED_TEMPLATE = "\n".join(
    match[1] for match in map(_KEY_LINE.match, template_text().splitlines()) if match
).replace("models: []", "models:")
"""The shipped template with every example setting switched on: a valid file to start edits from."""

_SECTIONS = {
    name: list(type(getattr(HubConfig(), name)).model_fields)
    for name in ("http", "integrations", "logger", "history", "scheduler", "agent")
}
config_keys = st.sampled_from([*_SECTIONS, "language", "models", "htp", "Http"]) | st.text(
    max_size=6
)
section_keys = st.sampled_from(sorted({key for keys in _SECTIONS.values() for key in keys}))
config_values = (
    yaml_scalars
    | st.dictionaries(section_keys | st.text(max_size=5), yaml_scalars, max_size=5)
    | st.lists(
        st.fixed_dictionaries(
            {"name": st.text(max_size=8)},
            optional={"base_url": st.text(max_size=12), "model": st.text(max_size=5)},
        ),
        max_size=3,
    )
)
config_texts = st.one_of(
    st.dictionaries(config_keys, config_values, max_size=6).map(_dump),
    st.builds(_mutate, st.just(UNCOMMENTED_TEMPLATE), edits),
    st.builds(_mutate, st.just(template_text()), edits),
    yaml_fragments,
    st.text(max_size=300),
    odd_json_texts.map(lambda text: "http: " + text),
)

_ENV_PARTS = [*_SECTIONS, *sorted({key for keys in _SECTIONS.values() for key in keys}), ""]
# Printable names only: a shell cannot set a variable whose name holds a control character.
_name_parts = st.sampled_from(_ENV_PARTS) | st.text(
    st.characters(categories=["L", "N", "P", "S"]), max_size=4
)
env_names = st.lists(_name_parts, min_size=1, max_size=4).map(
    lambda parts: ENV_PREFIX + "__".join(parts).upper()
) | st.sampled_from(["HUB_", "HUB__", "HUB____", "HUB__HTTP__", "HUB", "PATH"])
env_values = st.one_of(
    st.sampled_from(["8400", "true", "[]", "{a: 1}", "'", "null", "- a", "&a *a", "1e999"]),
    st.text(max_size=30),
    odd_json_texts,
    huge_texts,
)
envs = st.dictionaries(env_names, env_values, max_size=4)


@given(text=config_texts, env=envs)
@example(text="http:\n  port: " + "[" * 50_000 + "]" * 50_000, env={})
@example(text="", env={"HUB__HTTP__PORT": "[" * 5_000 + "]" * 5_000})
@example(text="http: 1", env={"HUB__HTTP__PORT": "1"})
@example(text="", env={"HUB__LOGGER__LOGS__HUB": "x", "HUB__LOGGER__LOGS": "1"})
def test_a_configuration_is_valid_or_one_config_error_line_per_problem(
    text: str, env: dict[str, str]
) -> None:
    """``load_config``: a ``HubConfig``, or a ``ConfigError`` whose lines each name file or variable."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / CONFIG_FILE
        path.write_text(text, "utf-8")
        try:
            config: HubConfig | None = load_config(Path(folder), env)
        except ConfigError as err:
            config, problem = None, err.message
        if config is None:
            assert problem
            for line in problem.splitlines():
                assert line.startswith((str(path), "environment variable HUB_")), problem


def test_the_uncommented_template_is_a_valid_seed() -> None:
    """The mutation seed above is itself valid, so edits start from a file the hub accepts."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / CONFIG_FILE).write_text(UNCOMMENTED_TEMPLATE, "utf-8")
        assert load_config(Path(folder), {}).models
