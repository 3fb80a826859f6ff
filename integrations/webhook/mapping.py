"""JMESPath mappings: expressions that pick entities and an event out of any JSON body.

The expressions run against the parsed body; ``header('x-github-event')`` reads a request
header (lower-case names), so a preset can take the event's name from where its sender puts it.
With ``entities`` set (a list expression such as ``commits[*]``) the entity expressions run
once per item of that list; without it they run once against the whole body.
``jmespath`` is imported on first use: start-up stays fast for hubs that never map a body.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from hub.integrations.entities import StateValue, check_json
from hub.integrations.integration import WebhookPayloadError

from .jmes import Scope, compile_tree

if TYPE_CHECKING:
    from .jmes import Compiled

MAX_ENTITIES: Final = 1000
MAX_EXPRESSION_LENGTH: Final = 500
MAX_ATTRIBUTES: Final = 50
MAX_ID_LENGTH: Final = 200
MAX_NAME_LENGTH: Final = 200
MAX_EVENT_TYPE_LENGTH: Final = 100

# The entry's (and the flow's) field names for a mapping's parts.
EXPRESSION_FIELDS: Final = (
    "entities",
    "entity_id",
    "entity_name",
    "entity_state",
    "event_type",
    "event_data",
)
ATTRIBUTES_FIELD: Final = "entity_attributes"
MAPPING_FIELDS: Final = (*EXPRESSION_FIELDS, ATTRIBUTES_FIELD)


class MappingError(ValueError):
    """A mapping that cannot be compiled; ``field`` names the part, ``key`` the form error."""

    def __init__(self, field_name: str, key: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.key = key


@dataclass(frozen=True, slots=True)
class MappingSpec:
    """A mapping as written: each part an expression, or ``None`` when unused."""

    entities: str | None = None
    entity_id: str | None = None
    entity_name: str | None = None
    entity_state: str | None = None
    entity_attributes: tuple[tuple[str, str], ...] = ()
    event_type: str | None = None
    event_data: str | None = None
    optional_ids: bool = False
    """A preset's: a body without an entity id (an org-wide event) makes no entity, no error."""

    @property
    def maps_entities(self) -> bool:
        """True when the mapping makes entities (it names where their ids are)."""
        return self.entity_id is not None

    def merged(self, overrides: Mapping[str, Any]) -> MappingSpec:
        """This spec with the non-empty parts of ``overrides`` (entry or form fields) put in."""
        values: dict[str, Any] = {}
        for name in EXPRESSION_FIELDS:
            text = overrides.get(name)
            if isinstance(text, str) and text.strip():
                values[name] = text.strip()
        attributes = overrides.get(ATTRIBUTES_FIELD)
        if (isinstance(attributes, str) and attributes.strip()) or isinstance(attributes, Mapping):
            values[ATTRIBUTES_FIELD] = parse_attributes(attributes)
        return _replace(self, values)


@dataclass(frozen=True, slots=True)
class MappedEntity:
    """One entity a mapping picked out of a body."""

    id: str
    name: str
    state: StateValue
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MappedBody:
    """What a mapping made of one body: its entities and the sender's event, if any."""

    entities: tuple[MappedEntity, ...] = ()
    event_type: str | None = None
    event_data: dict[str, Any] = field(default_factory=dict)


def parse_attributes(value: object) -> tuple[tuple[str, str], ...]:
    """``{"name": "expression", ...}`` as JSON text (or an object) → sorted pairs; ``MappingError``."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise MappingError(
                ATTRIBUTES_FIELD, "invalid_attributes", f"{ATTRIBUTES_FIELD}: is not JSON"
            ) from None
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and k and isinstance(v, str) and v.strip() for k, v in value.items()
    ):
        raise MappingError(
            ATTRIBUTES_FIELD,
            "invalid_attributes",
            f"{ATTRIBUTES_FIELD}: must be an object of name → expression strings",
        )
    if len(value) > MAX_ATTRIBUTES:
        raise MappingError(
            ATTRIBUTES_FIELD,
            "too_many_attributes",
            f"{ATTRIBUTES_FIELD}: {len(value)} attributes; at most {MAX_ATTRIBUTES}",
        )
    return tuple(sorted((k, v.strip()) for k, v in value.items()))


@dataclass(frozen=True, slots=True)
class CompiledMapping:
    """A spec with every expression compiled once (``compile_mapping`` caches them per spec)."""

    spec: MappingSpec
    compiled: dict[str, Compiled]

    def apply(self, body: Any, headers: Mapping[str, str]) -> MappedBody:
        """Map ``body``; ``WebhookPayloadError`` names the expression and what it found."""
        scope = Scope(_header_functions(headers))
        spec = self.spec
        entities: tuple[MappedEntity, ...] = ()
        if spec.maps_entities:
            items: list[Any] = [body]
            if spec.entities is not None:
                found = self._search("entities", body, scope)
                if found is None:
                    found = []
                if not isinstance(found, list):
                    raise WebhookPayloadError(
                        f"entities: {spec.entities!r} found {_kind(found)}, not a list"
                    )
                if len(found) > MAX_ENTITIES:
                    raise WebhookPayloadError(
                        f"entities: {spec.entities!r} found {len(found)} items;"
                        f" at most {MAX_ENTITIES} entities per delivery"
                    )
                items = found
            entities = self._entities(items, scope, listed=spec.entities is not None)
        event_type: str | None = None
        event_data: dict[str, Any] = {}
        if spec.event_type is not None:
            event_type = self._event_type(body, scope)
        if spec.event_data is not None and event_type is not None:
            event_data = self._object("event_data", body, scope)
        return MappedBody(entities=entities, event_type=event_type, event_data=event_data)

    def _entities(
        self, items: list[Any], scope: Scope, *, listed: bool
    ) -> tuple[MappedEntity, ...]:
        spec = self.spec
        mapped: list[MappedEntity] = []
        first_seen: dict[str, int] = {}
        for index, item in enumerate(items):
            where = f" (item {index})" if listed else ""
            raw_id = self._search("entity_id", item, scope)
            if raw_id is None and not listed and spec.optional_ids:
                continue  # a preset's body without the thing it tracks (an org-wide event)
            entity_id = _text(raw_id, "entity_id", spec.entity_id, where, MAX_ID_LENGTH)
            if entity_id in first_seen:
                raise WebhookPayloadError(
                    f"entity_id: {spec.entity_id!r} found {entity_id!r} twice"
                    f" (items {first_seen[entity_id]} and {index})"
                )
            first_seen[entity_id] = index
            name = entity_id
            if spec.entity_name is not None:
                raw_name = self._search("entity_name", item, scope)
                if raw_name is not None:
                    name = _text(raw_name, "entity_name", spec.entity_name, where, MAX_NAME_LENGTH)
            state: StateValue = None
            if spec.entity_state is not None:
                state = _state(self._search("entity_state", item, scope), spec.entity_state, where)
            attributes: dict[str, Any] = {}
            for key, _expression in spec.entity_attributes:
                value = self._search(f"attr:{key}", item, scope)
                if value is not None:
                    attributes[key] = value
            try:
                attributes = check_json(attributes, "entity_attributes")
            except ValueError as err:
                raise WebhookPayloadError(f"{err}{where}") from None
            mapped.append(MappedEntity(entity_id, name, state, attributes))
        return tuple(mapped)

    def _event_type(self, body: Any, scope: Scope) -> str | None:
        value = self._search("event_type", body, scope)
        if value is None:
            return None
        return _text(value, "event_type", self.spec.event_type, "", MAX_EVENT_TYPE_LENGTH)

    def _object(self, name: str, body: Any, scope: Scope) -> dict[str, Any]:
        value = self._search(name, body, scope)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise WebhookPayloadError(
                f"{name}: {getattr(self.spec, name)!r} found {_kind(value)}, not an object"
            )
        try:
            checked: dict[str, Any] = check_json(value, name)
        except ValueError as err:
            raise WebhookPayloadError(str(err)) from None
        return checked

    def _search(self, name: str, data: Any, scope: Scope) -> Any:
        return self.compiled[name](data, scope)


def compile_mapping(spec: MappingSpec) -> CompiledMapping:
    """Parse every expression of ``spec`` once; ``MappingError`` names the first bad one."""
    return _compiled(spec)


@lru_cache(maxsize=256)
def _compiled(spec: MappingSpec) -> CompiledMapping:
    # Keyed by the frozen spec: each entry's mapping is parsed once, however many deliveries.
    import jmespath
    from jmespath.exceptions import JMESPathError

    compiled: dict[str, Compiled] = {}
    parts: list[tuple[str, str, str]] = [
        (name, name, expression)
        for name in EXPRESSION_FIELDS
        if (expression := getattr(spec, name)) is not None
    ]
    parts += [(f"attr:{key}", ATTRIBUTES_FIELD, text) for key, text in spec.entity_attributes]
    for key, field_name, expression in parts:
        if len(expression) > MAX_EXPRESSION_LENGTH:
            raise MappingError(
                field_name,
                "expression_too_long",
                f"{field_name}: {len(expression)} characters; at most {MAX_EXPRESSION_LENGTH}",
            )
        try:
            compiled[key] = compile_tree(jmespath.compile(expression).parsed)
        except JMESPathError as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise MappingError(
                field_name, "invalid_expression", f"{field_name}: {expression!r}: {first}"
            ) from None
    return CompiledMapping(spec=spec, compiled=compiled)


_HEADER_FUNCTIONS: list[Any] = []
"""The ``header()`` functions class, made once: jmespath inspects a class's methods as it is made,
which per delivery cost more than the whole mapping."""


def _header_functions(headers: Mapping[str, str]) -> Any:
    if not _HEADER_FUNCTIONS:
        from jmespath import functions

        class HeaderFunctions(functions.Functions):
            def __init__(self, headers: Mapping[str, str]) -> None:
                self.headers = headers

            @functions.signature({"types": ["string"]})
            def _func_header(self, name: str) -> str | None:
                return self.headers.get(name.lower())

        _HEADER_FUNCTIONS.append(HeaderFunctions)
    return _HEADER_FUNCTIONS[0](headers)


def _text(value: object, name: str, expression: str | None, where: str, limit: int) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # numeric ids (a GitHub issue number) are ids all the same
    if not isinstance(value, str) or not value.strip():
        raise WebhookPayloadError(
            f"{name}: {expression!r} found {_kind(value)}{where}, not a non-empty string"
        )
    if len(value) > limit:
        raise WebhookPayloadError(
            f"{name}: {expression!r} found {len(value)} characters{where}; at most {limit}"
        )
    return value


def _state(value: object, expression: str, where: str) -> StateValue:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise WebhookPayloadError(
        f"entity_state: {expression!r} found {_kind(value)}{where},"
        " not a string, number, boolean or null"
    )


def _kind(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return "an empty string" if not value.strip() else "a string"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"


def _replace(spec: MappingSpec, values: Mapping[str, Any]) -> MappingSpec:
    from dataclasses import replace

    if not values:
        return spec
    # A person's own id expression is theirs to get right: a body it misses is an error again.
    optional = spec.optional_ids and "entity_id" not in values
    return replace(spec, **values, optional_ids=optional)
