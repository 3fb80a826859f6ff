"""Entity contracts: the types an integration declares, the records it syncs, its events and predicates.

Everything here is pure data. Integration code builds these objects and the hub consumes them, so
they are frozen pydantic models that check their input when they are built: a mistake surfaces in
the integration that made it, with a message naming the field, not later in a sync or the database.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final, Literal, Protocol, runtime_checkable

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.integrations.manifest import FieldDescriptor

EntityCategory = Literal["config", "diagnostic"]
StateClass = Literal["measurement", "total", "total_increasing"]
StateValue = str | int | float | bool | None
"""A record's ``state``: a JSON scalar, kept as given (``"on"``, ``21.5``, ``True``)."""

_IDENTIFIER: Final = re.compile(r"^[a-z][a-z0-9_]*$")
_RELATION_KEY: Final = re.compile(r"^([a-z][a-z0-9_]*):([a-z][a-z0-9_]*)$")
_MAX_JSON_DEPTH: Final = 64
_JSON_KINDS: Final = "str, int, float, bool, None, list, or dict with str keys"


def _identifier(what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError(
                f"{value!r} is not a valid {what} (a-z, 0-9 and _, starting with a letter)"
            )
        return value

    return AfterValidator(check)


Text = Annotated[str, Field(min_length=1)]
TypeKey = Annotated[str, _identifier("entity type key")]
ActionName = Annotated[str, _identifier("action name")]


class _NotPlain(Exception):
    """Raised by ``_plain_copy`` at the first value it does not simply copy."""


def _plain_copy(value: object, depth: int) -> Any:
    """``value`` copied when it is built of exactly ``dict``, ``list``, ``tuple``, ``str``, ``int``,
    ``bool``, finite ``float`` and ``None`` (what ``json.loads`` makes), else ``_NotPlain``.

    ``check_json``'s fast path: no path text is made for values that are fine (on a GitHub push,
    a third of the cost of mapping it). Subclasses (an enum, a ``str`` subclass) take the
    careful path, which converts them.
    """
    if depth > _MAX_JSON_DEPTH:
        raise _NotPlain
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        if math.isfinite(value):  # type: ignore[arg-type]
            return value
        raise _NotPlain
    if kind is dict:
        copy: dict[str, Any] = {}
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                raise _NotPlain
            copy[key] = _plain_copy(item, depth + 1)
        return copy
    if kind is list or kind is tuple:
        return [_plain_copy(item, depth + 1) for item in value]  # type: ignore[attr-defined]
    raise _NotPlain


def check_json(value: object, what: str, *, _path: str = "", _depth: int = 0) -> Any:
    """Return ``value`` as a plain-JSON deep copy, or raise ``ValueError`` naming ``what`` and where in it.

    Strict on purpose: a ``datetime`` or a set that ``json.dumps`` would reject (or an int key it
    would quietly turn into a string) fails here, in the integration that produced it. The copy
    also unhooks the record from the caller's mutable dicts, and enum members become their values.
    """
    if not _depth:
        try:
            return _plain_copy(value, 0)
        except (_NotPlain, RecursionError):
            pass  # the careful walk below converts what it can and names what it cannot
    where = f"{what}{_path}"
    if _depth > _MAX_JSON_DEPTH:
        raise ValueError(f"{where} is nested more than {_MAX_JSON_DEPTH} levels deep (a cycle?)")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value}, which JSON cannot represent")
        return float(value)
    if isinstance(value, list | tuple):
        return [
            check_json(item, what, _path=f"{_path}[{index}]", _depth=_depth + 1)
            for index, item in enumerate(value)
        ]
    if isinstance(value, Mapping):
        copy: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where} has the key {key!r}; JSON keys must be str")
            copy[str.__str__(key)] = check_json(
                item, what, _path=f"{_path}[{key!r}]", _depth=_depth + 1
            )
        return copy
    raise ValueError(f"{where} is a {type(value).__name__}, not a JSON value ({_JSON_KINDS})")


def canonical_json(value: Any) -> str:
    """The one text of a JSON value that hashes the same in every process: sorted keys, no spaces."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


class _Contract(BaseModel):
    # extra="forbid": a misspelt keyword fails loudly instead of silently dropping data.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class DeviceInfo(_Contract):
    """The device an entity belongs to; the hub gets or creates it by ``identifier`` within the entry.

    ``translation_key`` names ``device.<key>.name`` in the integration's translations: the device's
    name in the reader's language, for a device whose name is a kind ("This computer") rather than
    one its owner gave it.
    """

    identifier: Text
    name: str | None = None
    translation_key: TypeKey | None = None
    manufacturer: str | None = None
    model: str | None = None
    sw_version: str | None = None
    hw_version: str | None = None
    configuration_url: str | None = None


class EntityStateRecord(_Contract):
    """One entity as the integration sees it now; ``(entity_type, external_id)`` is its identity.

    ``attributes`` must hold JSON values only; they are copied when the record is built, so treat
    the record's dict as read-only. ``parent_type`` and ``parent_external_id`` come as a pair.
    A record that leaves the parent or the device out keeps the stored entity's; only an explicit
    ``None`` unlinks.
    """

    entity_type: Text
    external_id: Text
    name: str
    state: StateValue = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    parent_type: Text | None = None
    parent_external_id: Text | None = None
    device: DeviceInfo | None = None

    @field_validator("state", mode="before")
    @classmethod
    def _scalar_state(cls, value: Any) -> Any:
        # One clear sentence instead of pydantic's four union branches.
        if value is not None and not isinstance(value, str | int | float):
            raise ValueError(
                f"state must be a str, number, bool or None, not {type(value).__name__}"
            )
        return value

    @field_validator("attributes", mode="before")
    @classmethod
    def _json_attributes(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value  # pydantic reports "not a dict" in its own words
        copy: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"attribute names must be str, not {type(key).__name__} ({key!r})")
            copy[str.__str__(key)] = check_json(item, f"attribute {key!r}")
        return copy

    @model_validator(mode="after")
    def _parent_pair(self) -> EntityStateRecord:
        if (self.parent_type is None) != (self.parent_external_id is None):
            raise ValueError("parent_type and parent_external_id must be given together")
        return self

    def content_hash(self) -> str:
        """A sha256 hex digest of the record's whole content; equal content hashes equal in any process."""
        # Fields left at their default are left out, so adding an optional field in a later
        # version does not change every stored hash and mark every entity updated on upgrade.
        content = self.model_dump(mode="json", exclude_defaults=True)
        return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def default_text(record: EntityStateRecord) -> str:
    """The text embedded for a ``rag=True`` record whose type has no ``to_text``: name, state, attributes."""
    lines = [record.name]
    if record.state is not None:
        lines.append(f"state: {record.state}")
    for key, value in record.attributes.items():
        if value is None:
            continue  # "due: null" only adds noise to a search index
        shown = value if isinstance(value, str) else canonical_json(value)
        lines.append(f"{key}: {shown}")
    return "\n".join(lines)


class EntityStateActionDescriptor(_Contract):
    """A control on an entity type (toggle, slider, button); ``fields`` are its arguments."""

    name: ActionName
    label: Text
    fields: tuple[FieldDescriptor, ...] = ()

    @field_validator("fields")
    @classmethod
    def _unique_fields(cls, fields: tuple[FieldDescriptor, ...]) -> tuple[FieldDescriptor, ...]:
        _reject_duplicates([field.name for field in fields], "field")
        return fields


class EntityStateTypeDescriptor(_Contract):
    """An entity type an integration produces: its label, attributes, behaviour hints and actions.

    ``to_text`` is code, not data: it is never serialized, so a dumped descriptor is plain JSON.
    ``translation_key`` (default: ``key``) names the type's words under ``entity.<translation_key>``
    in the integration's translations - ``name``, ``state.<value>``, ``attribute.<name>``,
    ``action.<name>``, ``field.<name>`` - as Home Assistant's entity translations do; where a
    translation is missing the English given here is shown.
    """

    key: TypeKey
    name: Text
    translation_key: TypeKey | None = None
    attributes: tuple[FieldDescriptor, ...] = ()
    rag: bool = False
    to_text: Callable[[EntityStateRecord], str] | None = Field(default=None, exclude=True)
    category: EntityCategory | None = None
    visible_default: bool = True
    device_class: str | None = None
    state_class: StateClass | None = None
    unit: str | None = None
    actions: tuple[EntityStateActionDescriptor, ...] = ()
    world_kind: str | None = None
    message: bool = False

    @field_validator("attributes")
    @classmethod
    def _unique_attributes(
        cls, attributes: tuple[FieldDescriptor, ...]
    ) -> tuple[FieldDescriptor, ...]:
        _reject_duplicates([attribute.name for attribute in attributes], "attribute")
        return attributes

    @field_validator("actions")
    @classmethod
    def _unique_actions(
        cls, actions: tuple[EntityStateActionDescriptor, ...]
    ) -> tuple[EntityStateActionDescriptor, ...]:
        # The hub dispatches an action call by name, so two with one name would be ambiguous.
        _reject_duplicates([action.name for action in actions], "action")
        return actions

    @property
    def text_key(self) -> str:
        """The key of this type's words in the translations: ``translation_key``, else ``key``."""
        return self.translation_key or self.key

    def action(self, name: str) -> EntityStateActionDescriptor | None:
        """The declared action called ``name``, or ``None``: only declared actions may be called."""
        return next((action for action in self.actions if action.name == name), None)

    def render_text(self, record: EntityStateRecord) -> str:
        """The text to embed for ``record``: ``to_text`` when set, else ``default_text``."""
        return self.to_text(record) if self.to_text is not None else default_text(record)


class EntityStateSyncResult(_Contract):
    """What a pull sync or a webhook returns: records, and whether they are the complete set.

    With ``full=True`` the records are everything that exists for the covered types, and stored
    entities of those types that are missing get deleted. The covered types are ``entity_types``;
    left empty, they are the types that appear in ``records`` - so a type whose last entity went
    away is only cleared when ``entity_types`` names it. ``full=False`` only upserts.
    """

    records: tuple[EntityStateRecord, ...] = ()
    full: bool = True
    entity_types: tuple[Text, ...] = ()

    @model_validator(mode="after")
    def _records_within_types(self) -> EntityStateSyncResult:
        if self.full and self.entity_types:
            outside = sorted(
                {record.entity_type for record in self.records} - set(self.entity_types)
            )
            if outside:
                raise ValueError(
                    f"a full sync of entity_types {list(self.entity_types)} holds records of "
                    f"{outside}; add them to entity_types or sync with full=False"
                )
        return self

    @property
    def covered_types(self) -> tuple[str, ...]:
        """The types whose stored entities a full sync replaces (``entity_types``, else the records')."""
        if self.entity_types:
            return tuple(dict.fromkeys(self.entity_types))
        return tuple(dict.fromkeys(record.entity_type for record in self.records))


class EntityStateActionResult(_Contract):
    """What an entity action returns: records to apply like a sync's, and an optional note for a person."""

    records: tuple[EntityStateRecord, ...] = ()
    message: str | None = None


class EventTypeDescriptor(_Contract):
    """A custom bus event an integration emits; prefix ``event_type`` with the domain."""

    event_type: Annotated[str, Field(min_length=1, pattern=r"^\S+$")]
    name: Text
    payload_schema: tuple[FieldDescriptor, ...] = ()
    description: str | None = None

    @field_validator("payload_schema")
    @classmethod
    def _unique_payload_fields(
        cls, fields: tuple[FieldDescriptor, ...]
    ) -> tuple[FieldDescriptor, ...]:
        _reject_duplicates([field.name for field in fields], "payload field")
        return fields


class RelationTypeDescriptor(_Contract):
    """A world-memory predicate keyed ``domain:predicate``; unprefixed keys are the core's own."""

    key: str
    name: Text
    description: str | None = None
    is_transitive: bool = False
    is_symmetric: bool = False

    @field_validator("key")
    @classmethod
    def _namespaced(cls, key: str) -> str:
        if not _RELATION_KEY.match(key):
            raise ValueError(
                f"{key!r} is not a namespaced relation key: write it domain:predicate "
                "(e.g. github:reviewed_by); unprefixed predicates belong to the core"
            )
        return key

    @property
    def domain(self) -> str:
        """The namespace before the colon; the registry checks it is the declaring integration's."""
        return self.key.partition(":")[0]

    @property
    def predicate(self) -> str:
        """The predicate after the colon."""
        return self.key.partition(":")[2]


def _reject_duplicates(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what} {name!r} appears twice")
        seen.add(name)


@runtime_checkable
class EntityStateWriter(Protocol):
    """The push path handed to integration code as ``ctx.writer``: one entity at a time.

    Both go through the same apply path as a pull (diff, events, history, search index) and return
    once the change is stored.
    """

    async def upsert(self, record: EntityStateRecord) -> None:
        """Create or update one entity of this entry."""
        ...

    async def remove(self, entity_type: str, external_id: str) -> bool:
        """Delete one entity of this entry; ``False`` if there was none."""
        ...


@runtime_checkable
class EventEmitter(Protocol):
    """Fires this integration's declared custom events (``event_types()``) on the hub's bus."""

    def emit(self, event_type: str, data: Mapping[str, Any] | None = None) -> None:
        """Fire ``event_type``; an undeclared type raises ``ValueError``."""
        ...
