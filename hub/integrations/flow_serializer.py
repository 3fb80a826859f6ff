"""A ``FlowResult`` as the JSON a client sees: every text localized, no secret value ever included."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from hub.core.redact import SECRETS
from hub.integrations.config_flow import FlowResult, FlowResultType
from hub.integrations.manifest import FieldDescriptor
from hub.integrations.translations import Localizer, Translations

MASK: Final = "••••"
_MASK_CHAR: Final = MASK[0]
_VISIBLE: Final = 4
_MIN_SHOWN_LENGTH: Final = 8
"""Shorter passwords show no characters: the last 4 of a 6-character password give most of it away."""
_PLACEHOLDER: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_UNKNOWN_REASON: Final = "unknown"


def mask_password(password: str) -> str:
    """What a form shows for a stored password: ``••••`` and, for 8 or more characters, the last 4."""
    return MASK + (password[-_VISIBLE:] if len(password) >= _MIN_SHOWN_LENGTH else "")


def fill(text: str, placeholders: Mapping[str, str]) -> str:
    """Replace each ``{name}`` that ``placeholders`` has; anything else stays as written, never raises."""
    if "{" not in text:
        return text
    return _PLACEHOLDER.sub(lambda m: placeholders.get(m.group(1), m.group(0)), text)


def serialize_flow_result(
    result: FlowResult,
    *,
    flow_id: str,
    domain: str,
    language: str,
    translations: Translations,
    integration_name: str,
    entry_id: str | None = None,
    masked: Mapping[str, str] | None = None,
    correlation_id: str | None = None,
    entry_title: str | None = None,
) -> dict[str, Any]:
    """The client's view of ``result`` in ``language``; entry data and secret defaults never appear.

    ``masked`` maps a stored ``password`` field to its mask (``mask_password``) and a stored
    ``secret`` field to anything: a secret only learns that it has a value, never what it is.
    ``entry_title`` (the entry a reconfigure or reauth flow edits) fills ``{entry}`` in its texts.
    """
    localize = translations.localizer(domain, language)
    name = translations.title(domain, language, integration_name)
    out: dict[str, Any] = {
        "type": result.type.value,
        "flow_id": flow_id,
        "domain": domain,
        "language": language,
    }
    known = {"integration": name, "entry": SECRETS.redact(entry_title or name)}
    if result.type is FlowResultType.FORM:
        out.update(_form(result, localize, known, masked or {}))
    elif result.type is FlowResultType.MENU:
        out.update(_menu(result, localize, known))
    elif result.type is FlowResultType.ABORT:
        reason = result.reason or _UNKNOWN_REASON
        out["reason"] = reason
        # A reason without a sentence still gets one, never its bare key.
        text = localize.get(f"abort.{reason}") or localize(f"abort.{_UNKNOWN_REASON}")
        out["description"] = fill(text, known)
    elif result.type is FlowResultType.CREATE_ENTRY:
        # The title is the person's own words (a URL, an account), shown as given; the data holds
        # secrets in plain text and is deliberately left out.
        out["title"] = SECRETS.redact(result.title or name)
        out["entry_id"] = entry_id
    if correlation_id is not None:
        out["correlation_id"] = correlation_id
    return out


def _texts(
    result: FlowResult, localize: Localizer, known: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """A form's or a menu's step id, title and description, and the placeholder values they use."""
    step_id = result.step_id or ""
    # Placeholder values come from the integration at run time, so they go through the same
    # redaction as log lines in case a step echoed something it read back with a credential.
    given = {key: SECRETS.redact(value) for key, value in result.description_placeholders.items()}
    values = {**known, **given}
    title = localize.get(f"step.{step_id}.title")
    description = localize.get(f"step.{step_id}.description")
    texts = {
        "step_id": step_id,
        "title": known["integration"] if title is None else fill(title, values),
        "description": None if description is None else fill(description, values),
        "description_placeholders": given,
    }
    return texts, values


def _menu(result: FlowResult, localize: Localizer, known: Mapping[str, str]) -> dict[str, Any]:
    texts, values = _texts(result, localize, known)
    step_id = texts["step_id"]
    options = [
        {
            "id": option,
            "label": fill(localize(f"step.{step_id}.menu_options.{option}"), values),
        }
        for option in result.menu_options
    ]
    errors = {field: fill(localize(f"error.{key}"), values) for field, key in result.errors.items()}
    return {**texts, "errors": errors, "error_keys": dict(result.errors), "menu_options": options}


def _form(
    result: FlowResult, localize: Localizer, known: Mapping[str, str], masked: Mapping[str, str]
) -> dict[str, Any]:
    texts, values = _texts(result, localize, known)
    return {
        **texts,
        "errors": {
            field: fill(localize(f"error.{key}"), values) for field, key in result.errors.items()
        },
        "error_keys": dict(result.errors),
        "data_schema": [_field(item, localize, values, masked) for item in result.data_schema],
    }


def _field(
    item: FieldDescriptor,
    localize: Localizer,
    values: Mapping[str, str],
    masked: Mapping[str, str],
) -> dict[str, Any]:
    dumped = item.model_dump(mode="json")
    dumped["label"] = fill(localize(item.label), values)
    for key in ("placeholder", "description"):
        text = getattr(item, key)
        dumped[key] = None if text is None else fill(localize(text), values)
    if item.options is not None:
        dumped["options"] = [
            {**option, "label": localize(option["label"])} for option in dumped["options"]
        ]
    if item.is_secret:
        # A default for a secret would be sent to every browser that opens the form; FieldDescriptor
        # allows one, so it is dropped here whatever the flow wrote.
        dumped.pop("default", None)
        if item.name in masked:
            dumped["has_value"] = True
            if item.type == "password":
                dumped["masked"] = _remask(masked[item.name])
    return dumped


def _remask(value: str) -> str:
    # The manager should pass mask_password(...); masking again keeps a slip there (the whole
    # password passed by mistake) down to its last four characters.
    return MASK + value.lstrip(_MASK_CHAR)[-_VISIBLE:]
