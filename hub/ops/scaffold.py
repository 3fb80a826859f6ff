"""``hub scaffold``: a new integration folder that loads, validates and passes its own test at once."""

from __future__ import annotations

import json
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any, Final, Literal

from hub.core.errors import SCAFFOLD_REFUSED, HubError
from hub.ops import scaffold_templates as tpl

FlowKind = Literal["simple", "multi"]
FLOW_KINDS: Final[tuple[FlowKind, ...]] = ("simple", "multi")
_DOMAIN: Final = re.compile(r"^[a-z][a-z0-9_]*$")


class ScaffoldError(HubError):
    """The folder cannot be written: a bad domain, or something is already there."""

    code = SCAFFOLD_REFUSED
    http_status = 400


@dataclass(frozen=True, slots=True)
class ScaffoldOptions:
    """What to generate: the domain, the flow's shape, and the optional entity and webhook code."""

    domain: str
    flow: FlowKind = "simple"
    entities: bool = False
    webhook: bool = False

    @property
    def has_entities(self) -> bool:
        """Whether an ``entities.py`` is written (pulled status, pushed readings or both)."""
        return self.entities or self.webhook


def scaffold(options: ScaffoldOptions, directory: Path) -> Path:
    """Write ``directory/<domain>/`` and return it; an existing folder is refused, nothing written.

    The files are written into a temporary folder beside the target and renamed into place, so a
    failure halfway leaves nothing behind and a folder made meanwhile is never overwritten.
    """
    domain = options.domain
    if not _DOMAIN.match(domain):
        raise ScaffoldError(
            f"{domain!r} is not a domain: use a-z, 0-9 and _, starting with a letter"
        )
    target = directory / domain
    if target.exists() or target.is_symlink():
        raise ScaffoldError(f"{target} already exists; choose another domain or --dir")
    files = render(options)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        staging = directory / f".{domain}.scaffold-{secrets.token_hex(4)}"
        staging.mkdir()
    except OSError as err:
        raise ScaffoldError(f"cannot write into {directory}: {err.strerror or err}") from None
    try:
        for name, text in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, "utf-8")
        # rename() onto an existing empty directory would succeed on POSIX: check once more.
        if target.exists():
            raise ScaffoldError(f"{target} already exists; choose another domain or --dir")
        staging.rename(target)
    except OSError as err:
        raise ScaffoldError(f"cannot create {target}: {err.strerror or err}") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def render(options: ScaffoldOptions) -> dict[str, str]:
    """Every file of the new integration by relative path; pure, so tests can read it too."""
    words = _words(options)
    files = {
        "manifest.yaml": _fill(tpl.MANIFEST, words),
        "__init__.py": _init(options, words),
        "config_flow.py": _fill(
            tpl.SIMPLE_FLOW if options.flow == "simple" else tpl.MULTI_FLOW, words
        ),
        "translations/en.json": _json(translations(options, "en")),
        "translations/de.json": _json(translations(options, "de")),
        f"tests/test_{options.domain}.py": _test(options, words),
        "README.md": _fill(tpl.README, words),
    }
    if options.has_entities:
        files["entities.py"] = _entities(options, words)
    return files


def _words(options: ScaffoldOptions) -> dict[str, str]:
    name = " ".join(part.capitalize() for part in options.domain.split("_") if part)
    extras = [
        what
        for what, wanted in (("pulled entities", options.entities), ("a webhook", options.webhook))
        if wanted
    ]
    summary = {
        (False, False): "a config flow to build on",
        (True, False): "a status entity, pulled on the hub's schedule",
        (False, True): "readings pushed to a webhook",
        (True, True): "a pulled status entity and readings pushed to a webhook",
    }[(options.entities, options.webhook)]
    de = _GERMAN
    return {
        "domain": options.domain,
        "cls": name.replace(" ", ""),
        "name": name,
        "summary": summary,
        "iot_class": "cloud_push" if options.webhook and not options.entities else "cloud_polling",
        "flow_kind": "one form" if options.flow == "simple" else "two steps",
        "extras": "".join(f", {extra}" for extra in extras),
        "what": _entities_what(options),
        "de_url_label": de["field"]["base_url"]["label"],
        "de_invalid_url": de["error"]["invalid_url"],
    }


def _entities_what(options: ScaffoldOptions) -> str:
    if options.entities and options.webhook:
        return ", and how a webhook delivery becomes readings"
    return ": how a webhook delivery becomes readings" if options.webhook else ""


def _init(options: ScaffoldOptions, words: dict[str, str]) -> str:
    imports = []
    if options.has_entities:
        imports.append(
            "from hub.integrations.entities import EntityStateSyncResult, EntityStateTypeDescriptor"
        )
    imports.append("from hub.integrations.integration import Integration, SetupContext")
    local = [f"from .config_flow import {words['cls']}ConfigFlow"]
    if options.has_entities:
        names = ["ENTITY_TYPES"]
        if options.webhook:
            names += ["READING", "readings"]
        if options.entities:
            names += ["STATUS", "status_records"]
        local.append(f"from .entities import {', '.join(sorted(names, key=_import_order))}")
    body = tpl.INIT_CLASS
    if options.has_entities:
        body += tpl.INIT_ENTITY_TYPES
    if options.entities:
        body += tpl.INIT_SYNC
    if options.webhook:
        body += tpl.INIT_WEBHOOK
    text = tpl.INIT_HEAD + "\n".join(imports) + "\n\n" + "\n".join(local) + "\n" + body
    return _fill(text + tpl.INIT_TAIL, words)


def _import_order(name: str) -> tuple[int, str]:
    # isort's order, as ruff checks it: CONSTANTS, then Classes, then functions.
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def _entities(options: ScaffoldOptions, words: dict[str, str]) -> str:
    lines = [
        '"""The entity types $name produces$what."""',
        "",
        "from __future__ import annotations",
        "",
    ]
    if options.webhook:
        lines += ["import math", "from typing import Any, Final"]
    else:
        lines += ["from typing import Final"]
    used = [("SetupContext", options.entities), ("WebhookPayloadError", options.webhook)]
    lines += [
        "",
        "from hub.integrations.entities import EntityStateRecord, EntityStateTypeDescriptor",
        f"from hub.integrations.integration import {', '.join(n for n, wanted in used if wanted)}",
    ]
    if options.entities:
        lines.append("from hub.integrations.manifest import FieldDescriptor")
    lines.append("")
    if options.webhook:
        lines.append('READING: Final = "reading"')
    if options.entities:
        lines.append('STATUS: Final = "status"')
    lines += [
        "",
        "# The English here is the fallback: a person reads translations/<lang>.json under",
        '# "entity.<translation_key>" (name, state.<value>, attribute.<name>).',
        "ENTITY_TYPES: Final = {",
    ]
    text = "\n".join(lines) + "\n"
    if options.webhook:
        text += tpl.READING_TYPE
    if options.entities:
        text += tpl.STATUS_TYPE
    text += "}\n"
    if options.entities:
        text += tpl.STATUS_RECORDS
    if options.webhook:
        text += tpl.READINGS
    return _fill(text, words)


def _test(options: ScaffoldOptions, words: dict[str, str]) -> str:
    text = tpl.TEST_HEAD
    text += tpl.TEST_ADD_SIMPLE if options.flow == "simple" else tpl.TEST_ADD_MULTI
    text += tpl.TEST_FLOW
    if options.entities:
        text += tpl.TEST_SYNC
    if options.webhook:
        text += tpl.TEST_WEBHOOK
    return _fill(text, words)


_ENGLISH: Final[dict[str, Any]] = {
    "step": {
        "user": {"title": "Connect to {integration}", "description": "Where is the service?"},
        "credentials": {
            "title": "Sign in to {integration}",
            "description": "The key the service gave you.",
        },
    },
    "field": {
        "base_url": {"label": "Address of the service", "placeholder": "https://example.com"},
        "api_key": {"label": "API key", "description": "Stored encrypted; never shown again."},
    },
    "error": {"invalid_url": "Enter an address that starts with http:// or https://."},
    "entity": {
        "status": {
            "name": "Status",
            "state": {"online": "Online", "offline": "Offline"},
            "attribute": {"base_url": "Address"},
        },
        "reading": {"name": "Reading"},
    },
}

_GERMAN: Final[dict[str, Any]] = {
    "step": {
        "user": {"title": "Mit {integration} verbinden", "description": "Wo läuft der Dienst?"},
        "credentials": {
            "title": "Bei {integration} anmelden",
            "description": "Der Schlüssel, den der Dienst dir gegeben hat.",
        },
    },
    "field": {
        "base_url": {"label": "Adresse des Dienstes", "placeholder": "https://example.com"},
        "api_key": {
            "label": "API-Schlüssel",
            "description": "Wird verschlüsselt gespeichert und nie wieder angezeigt.",
        },
    },
    "error": {"invalid_url": "Gib eine Adresse ein, die mit http:// oder https:// beginnt."},
    "entity": {
        "status": {
            "name": "Status",
            "state": {"online": "Online", "offline": "Offline"},
            "attribute": {"base_url": "Adresse"},
        },
        "reading": {"name": "Messwert"},
    },
}


def translations(options: ScaffoldOptions, language: Literal["en", "de"]) -> dict[str, Any]:
    """The integration's ``<language>.json``: exactly the keys its code uses, in both languages."""
    words = _ENGLISH if language == "en" else _GERMAN
    name = _words(options)["name"]
    description = {
        "en": f"{name}: describe here what it brings into the hub.",
        "de": f"{name}: beschreibe hier, was es in den Hub bringt.",
    }[language]
    steps = dict(words["step"])
    if options.flow == "simple":
        del steps["credentials"]
    out: dict[str, Any] = {
        "title": name,
        "description": description,
        "step": steps,
        "field": words["field"],
        "error": words["error"],
    }
    entity = {
        key: value
        for key, value in words["entity"].items()
        if (key == "status" and options.entities) or (key == "reading" and options.webhook)
    }
    if entity:
        out["entity"] = entity
    return out


def _fill(template: str, words: dict[str, str]) -> str:
    return Template(template).substitute(words)


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"
