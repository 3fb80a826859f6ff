"""``manifest.yaml`` and config-flow field descriptors: strict models; errors name file, line and key."""

from __future__ import annotations

import re
import reprlib
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    computed_field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticSerializationError, to_jsonable_python

from hub.core.errors import MANIFEST_INVALID, HubError
from hub.core.yamlfile import Loc, describe, line_of, parse_mapping

FieldType = Literal[
    "text", "password", "secret", "number", "bool", "select", "note",
    "entity", "device", "area", "duration", "date", "time", "datetime", "color",
]  # fmt: skip
FIELD_TYPES: Final[tuple[str, ...]] = get_args(FieldType)
SECRET_FIELD_TYPES: Final = frozenset({"password", "secret"})
_MULTIPLE_TYPES: Final = frozenset({"entity", "device", "area", "select"})
_FILTER_TYPES: Final = frozenset({"entity", "device", "area"})

_DOMAIN: Final = re.compile(r"^[a-z][a-z0-9_]*$")
_FIELD_NAME: Final = re.compile(r"^[a-z_][a-z0-9_]*$")
_KEY: Final = re.compile(r"^[a-z][a-z0-9_-]*$")
_URL: Final = re.compile(r"^https?://[^\s/?#]+\S*$")
_IMAGE: Final = re.compile(r"^(data:[\w.+-]+/[\w.+-]+[;,]\S+|https?://[^\s/?#]+\S*)$")
# PEP 508: a distribution name, optional [extras], then a version, marker or URL part.
_REQUIREMENT: Final = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
    r"\s*(?:\[\s*[A-Za-z0-9._-]+(?:\s*,\s*[A-Za-z0-9._-]+)*\s*\])?"
    r"\s*(?:[<>=!~(;@].*)?$"
)
_MODULE: Final = re.compile(r"^(?!/)(?!.*(?:^|/)\.\.(?:/|$))[\w./-]+\.m?js$")


class ManifestError(HubError):
    """A ``manifest.yaml`` cannot be read or is not valid; the message names file, line and key."""

    code = MANIFEST_INVALID
    http_status = 400  # as for ConfigError: a person's file is wrong, and the message says where


class Tier(IntEnum):
    """Model-provider data tiers; an integration's tools reach a provider whose tier is at least its own."""

    UNREGULATED = 0
    REGULATED = 1
    INTERNAL = 2


def tier_name(tier: int) -> str:
    """The lowercase name authors write for a tier number: ``2`` → ``"internal"``."""
    return Tier(tier).name.lower()


def parse_tier(value: object) -> Tier:
    """A tier from its name (any case) or its number 0..2; a ``ValueError`` lists the valid names."""
    names = [tier.name.lower() for tier in Tier]
    use = f"use {', '.join(names[:-1])} or {names[-1]}"
    if isinstance(value, str) and value.strip().upper() in Tier.__members__:
        return Tier[value.strip().upper()]
    # bool is an int subclass, and `required_tier: yes` must not quietly mean "regulated".
    if isinstance(value, int) and not isinstance(value, bool):
        if value in set(Tier):
            return Tier(value)
        raise ValueError(f"{value!r} is not a tier ({use}, or 0 to {len(Tier) - 1})")
    raise ValueError(f"{reprlib.repr(value)} is not a tier ({use})")


def _pattern(regex: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not regex.match(value):
            raise ValueError(f"{reprlib.repr(value)} is not a valid {what}")
        return value

    return AfterValidator(check)


def _unique(items: tuple[Any, ...], what: str = "") -> tuple[Any, ...]:
    seen: set[Any] = set()
    for item in items:
        key = getattr(item, what) if what else item
        if key in seen:
            raise ValueError(f"{what or 'entry'} {key!r} appears twice")
        seen.add(key)
    return items


def _json_safe(value: Any) -> Any:
    # The web UI renders descriptors from JSON, so fail when the author writes them, not when served.
    try:
        to_jsonable_python(value)
    except PydanticSerializationError:
        raise ValueError(f"{type(value).__name__} values cannot be sent to the web UI") from None
    except ValueError as err:  # a cycle (YAML anchors and aliases make one) or nesting too deep
        raise ValueError(f"cannot be sent to the web UI ({err})") from None
    return value


_Domain = Annotated[str, _pattern(_DOMAIN, "domain (a-z, 0-9 and _, starting with a letter)")]
_Capability = Annotated[str, _pattern(_DOMAIN, "capability name (e.g. web_search)")]
_Key = Annotated[str, _pattern(_KEY, "key (a-z, 0-9, _ and -, starting with a letter)")]
_Text = Annotated[str, Field(min_length=1)]
_Url = Annotated[str, _pattern(_URL, "URL (http:// or https://)")]
_Requirement = Annotated[str, _pattern(_REQUIREMENT, "requirement (e.g. 'aiofoo>=1.2')")]
_Module = Annotated[str, _pattern(_MODULE, "module path (a relative path to a .js file)")]
# The name becomes a JSON key and a segment of i18n keys like field.<name>.label.
_FieldName = Annotated[str, _pattern(_FIELD_NAME, "field name (a-z, 0-9 and _)")]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SelectOption(_Strict):
    """One choice of a ``select`` field: the stored ``value`` and the i18n key of its ``label``."""

    value: str | int | float | bool
    label: _Text

    def __init__(self, value: str | int | float | bool, label: str, **data: Any) -> None:
        """Build from keywords or, as the specification writes it, ``SelectOption(value, label)``."""
        super().__init__(**{**data, "value": value, "label": label})


class FieldDescriptor(_Strict):
    """One form field of a config-flow step: JSON the web UI renders generically."""

    name: _FieldName
    label: _Text
    type: FieldType = "text"
    required: bool = True
    default: Annotated[Any | None, AfterValidator(_json_safe)] = None
    options: tuple[SelectOption, ...] | None = None
    placeholder: str | None = None
    description: str | None = None
    multiline: bool = False
    image: str | None = None
    filter: Annotated[dict[str, Any] | None, AfterValidator(_json_safe)] = None
    multiple: bool = False
    show_when: dict[_FieldName, tuple[str | int | float | bool, ...]] | None = None
    """Shown (and sent) only while each named field of the same form holds one of the listed
    values, e.g. ``{"kind": ("number",)}``; a hidden field's value is never checked or sent."""

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented idiom
    @property
    def is_secret(self) -> bool:
        """True for ``password`` and ``secret``: their values are stored only encrypted."""
        return self.type in SECRET_FIELD_TYPES

    @model_validator(mode="before")
    @classmethod
    def _derived_is_secret(cls, data: Any) -> Any:
        # A dumped descriptor carries is_secret; accept it back when it agrees with the type.
        if isinstance(data, dict) and "is_secret" in data:
            data = dict(data)
            claimed = data.pop("is_secret")
            if claimed != (data.get("type", "text") in SECRET_FIELD_TYPES):
                raise ValueError("is_secret follows from type (true for password and secret only)")
        return data

    @model_validator(mode="after")
    def _fits_type(self) -> FieldDescriptor:
        kind = self.type
        if kind == "select" and not self.options:
            raise ValueError("a select field needs options")
        if self.options is not None and kind != "select":
            raise ValueError(f"options are only for a select field, not {kind}")
        if self.options:
            _unique(self.options, "value")
        if self.multiple and kind not in _MULTIPLE_TYPES:
            raise ValueError(f"multiple is only for entity, device, area and select, not {kind}")
        if self.multiline and kind != "text":
            raise ValueError(f"multiline is only for a text field, not {kind}")
        if self.image is not None:
            if kind != "note":
                raise ValueError(f"image is only for a note field, not {kind}")
            if not _IMAGE.match(self.image):
                raise ValueError("image must be a data: URL or an http(s):// URL")
        if self.show_when is not None and (
            self.name in self.show_when or not all(self.show_when.values())
        ):
            raise ValueError("show_when names other fields, each with at least one value")
        if self.filter is not None and kind not in _FILTER_TYPES:
            raise ValueError(f"filter is only for entity, device and area fields, not {kind}")
        if self.options and self.default is not None:
            values = {option.value for option in self.options}
            chosen = self.default if self.multiple else [self.default]
            if not isinstance(chosen, list) or not all(
                isinstance(v, str | int | float | bool) and v in values for v in chosen
            ):
                raise ValueError(f"default {self.default!r} is not one of the option values")
        return self


class FrontendRenderer(_Strict):
    """An ES module that draws entities of ``entity_types``; ``module`` is relative to the folder."""

    key: _Key
    entity_types: Annotated[tuple[_Text, ...], Field(min_length=1)]
    module: _Module


class FrontendPanel(_Strict):
    """A page in the web UI's navigation: ``title`` and ``icon`` (a Material Symbols name)."""

    key: _Key
    title: _Text
    icon: _Text
    module: _Module


class FrontendSlashCommand(_Strict):
    """A chat ``/command`` (written without the slash) with a one-line ``description``."""

    command: _Key
    description: _Text


class FrontendCard(_Strict):
    """A dashboard card template; ``card`` is the card's config and needs at least a ``type``."""

    key: _Key
    name: _Text
    icon: _Text
    description: str | None = None
    card: Annotated[dict[str, Any], AfterValidator(_json_safe)]

    @field_validator("card")
    @classmethod
    def _has_type(cls, card: dict[str, Any]) -> dict[str, Any]:
        kind = card.get("type")
        if not isinstance(kind, str) or not kind.strip():
            raise ValueError("a card needs a type (e.g. type: entities)")
        return card


class FrontendContributions(_Strict):
    """What an integration adds to the web UI; each key is unique within its list."""

    renderers: tuple[FrontendRenderer, ...] = ()
    panels: tuple[FrontendPanel, ...] = ()
    slash_commands: tuple[FrontendSlashCommand, ...] = ()
    cards: tuple[FrontendCard, ...] = ()

    @field_validator("*")
    @classmethod
    def _unique_keys(cls, items: tuple[Any, ...], info: ValidationInfo) -> tuple[Any, ...]:
        return _unique(items, "command" if info.field_name == "slash_commands" else "key")


_TUPLES: Final = ("requirements", "provides", "dependencies", "after_dependencies", "codeowners")


class IntegrationManifest(_Strict):
    """The whole of an integration's ``manifest.yaml``; an unknown key is an error, not a silent drop."""

    domain: _Domain
    name: _Text
    version: _Text = "0.0.0"
    integration_type: Literal["tool", "service", "knowledge"] = "tool"
    config_flow: bool = False
    single_instance: bool = True
    default_scope: Literal["user", "global"] | None = None
    """Whose entry an admin's flow started without a scope makes: ``user`` (their own, e.g. a
    mailbox) or ``global`` (the household's, also when unset). Anyone else's is always their own."""
    trust_tier: Literal["trusted", "untrusted"] = "trusted"
    iot_class: Literal[
        "local_in_process", "local_polling", "local_push", "cloud_polling", "cloud_push"
    ] = "local_in_process"
    requirements: tuple[_Requirement, ...] = ()
    required_tier: Annotated[Tier, BeforeValidator(parse_tier)] = Tier.UNREGULATED
    provides: tuple[_Capability, ...] = ()
    dependencies: tuple[_Domain, ...] = ()
    after_dependencies: tuple[_Domain, ...] = ()
    config_schema_version: int = Field(default=1, ge=1)
    codeowners: tuple[_Text, ...] = ()
    documentation: _Url | None = None
    quality_scale: Literal["internal", "experimental", "beta", "stable"] = "experimental"
    issue_tracker: _Url | None = None
    frontend: FrontendContributions = FrontendContributions()

    @field_validator("version", mode="before")
    @classmethod
    def _quoted_version(cls, value: Any) -> Any:
        # YAML reads 0.10 as the float 0.1: refuse rather than store a different version.
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError('must be quoted (version: "1.0"): YAML reads 1.0 or 1.10 as a number')
        return value

    @field_validator(*_TUPLES, "frontend", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any, info: ValidationInfo) -> Any:
        # A key left empty in YAML (`codeowners:`) reads as null; it means "none", not an error.
        return ({} if info.field_name == "frontend" else ()) if value is None else value

    @field_validator("provides", "dependencies", "after_dependencies")
    @classmethod
    def _unique_domains(cls, names: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if info.field_name != "provides" and info.data.get("domain") in names:
            raise ValueError(f"an integration cannot depend on itself ({info.data['domain']!r})")
        return _unique(names)


def load_manifest(path: Path) -> IntegrationManifest:
    """Read and validate ``manifest.yaml``; a ``ManifestError`` names the file, the line and the key."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ManifestError(f"{path}: cannot be read ({err})") from None
    raw, lines = parse_mapping(
        text, path, ManifestError, "a manifest must be a mapping of keys (domain:, name:, ...)"
    )
    try:
        return IntegrationManifest.model_validate(raw)
    except ValidationError as err:

        def where(loc: Loc) -> tuple[int, str]:
            line = line_of(loc, lines)
            return line, f"{path}, line {line}" if line else str(path)

        message = describe(
            err, IntegrationManifest, where, missing="missing (every manifest needs it)"
        )
        raise ManifestError(message) from None
