"""Entity listings as JSON text built by SQLite from the stored rows, cached until the next write.

A listing of thousands of entities is the hub's largest answer. Building it as Python dicts (decode
each row's state and attributes, format three timestamps, then encode it all again) took ~20 µs an
entity on the event loop; here SQLite splices the stored JSON text into each entity's object on the
database's thread, and the loop only joins the pieces. The text is the same JSON a view encodes to
(``hub.entities.types.EntityTypes.view``, or ``hub.api.websocket_entities.compact`` for the compact
form): the same keys in the same order, the same values. Each entity's text is kept until that
entity changes, and a finished listing until any does (``changed``): asking again costs a dictionary
lookup, and after a write only the changed entities are written afresh (memory: ~0.6 kB an entity).
Timestamps are whole milliseconds, truncated (``iso_millis``), in SQL and in Python alike.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final, TypeAlias

from hub.core.database import Database
from hub.integrations.entities import EntityStateTypeDescriptor

_TIME: Final = (
    "'\"' || strftime('%Y-%m-%dT%H:%M:%S', CAST({c} * 1000 AS INTEGER) / 1000, 'unixepoch') "
    "|| printf('.%03d+00:00\"', CAST({c} * 1000 AS INTEGER) % 1000)"
)
"""A timestamp column as ``iso_millis`` formats it: whole milliseconds, UTC."""

_COLUMNS: Final[Mapping[str, str]] = {
    "id": "id",
    "entry_id": "json_quote(entry_id)",
    "domain": "json_quote(domain)",
    "entity_type": "json_quote(entity_type)",
    "external_id": "json_quote(external_id)",
    "name": "json_quote(name)",
    "state": "coalesce(state, 'null')",  # stored as JSON text by the apply path
    "attributes": "attributes",
    "parent_id": "coalesce(parent_id, 'null')",
    "device_id": "coalesce(device_id, 'null')",
    "visible": "iif(visible, 'true', 'false')",
    "created_at": _TIME.format(c="created_at"),
    "updated_at": _TIME.format(c="updated_at"),
    "last_changed": _TIME.format(c="last_changed"),
}
"""Each stored field of a view as an SQL expression yielding its JSON text."""

TYPE_FIELDS: Final = ("category", "device_class", "state_class", "unit", "actions")
"""A view's fields that come from the type's declaration, not the row."""

FULL_KEYS: Final = (
    *("id", "entry_id", "domain", "entity_type", "external_id", "name", "state", "attributes"),
    *("parent_id", "device_id", "visible", *TYPE_FIELDS, "created_at", "updated_at"),
    "last_changed",
)
"""The keys of ``EntityTypes.view``, in its order."""

_MAX_CACHED: Final = 8
"""Listings kept at once (a listing is keyed by its filters and the caller's visible entries)."""
_MAX_CACHED_BYTES: Final = 16 * 1024 * 1024
"""A listing larger than this is not kept: the memory would outweigh the saving."""
_MAX_TEXTS: Final = 20_000
"""Entity texts kept at most (~0.6 kB each); past it they are dropped and kept afresh."""


def iso_millis(timestamp: float) -> str:
    """``timestamp`` as ISO 8601 in UTC with whole milliseconds (truncated, as SQLite is told)."""
    millis = int(timestamp * 1000)
    seconds, fraction = divmod(millis, 1000)
    return f"{_utc(seconds)}.{fraction:03d}+00:00"


@lru_cache(maxsize=256)  # an event's six timestamps mostly share a second; strftime is the cost
def _utc(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def type_fields(descriptor: EntityStateTypeDescriptor | None) -> dict[str, Any]:
    """The fields a view takes from the type's declaration (``None`` when it is not loaded)."""
    if descriptor is None:
        return {"category": None, "device_class": None, "state_class": None, "unit": None,
                "actions": []}  # fmt: skip
    return {
        "category": descriptor.category,
        "device_class": descriptor.device_class,
        "state_class": descriptor.state_class,
        "unit": descriptor.unit,
        "actions": [action.model_dump(mode="json") for action in descriptor.actions],
    }


def _members(keys: Sequence[tuple[str, str]], fields: Mapping[str, Any]) -> str:
    """``,"key":value`` for each ``(name, key)`` pair: the declared part of an object, as text."""
    return "".join(f",{_json(key)}:{_json(fields[name])}" for name, key in keys)


class Layout:
    """How one form of a listing spells an entity: its keys, and the SQL that writes it."""

    def __init__(self, keys: Sequence[tuple[str, str]], *, keyed_by_id: bool) -> None:
        """``keys`` pairs each view field with its key on the wire, in order; ``keyed_by_id``
        writes ``"<id>":{...}`` members of one object instead of a list of objects."""
        self.keys = tuple(keys)
        self.keyed_by_id = keyed_by_id
        declared = [i for i, (name, _) in enumerate(self.keys) if name in TYPE_FIELDS]
        # The declared fields sit together in both forms; they are one parameter per type.
        assert declared == list(range(declared[0], declared[-1] + 1)) if declared else True
        start = declared[0] if declared else len(self.keys)
        self._declared = self.keys[start : start + len(declared)]
        before, after = self.keys[:start], self.keys[start + len(declared) :]
        parts = [self._stored(before, opening=True)]
        parts.append(
            "coalesce((SELECT part FROM declared WHERE d = domain AND k = entity_type), ?)"
        )
        if after:
            parts.append(self._stored(after, opening=False))
        parts.append("'}'")
        self.expression = " || ".join(parts)

    def _stored(self, keys: Sequence[tuple[str, str]], *, opening: bool) -> str:
        pieces: list[str] = []
        for index, (name, key) in enumerate(keys):
            prefix = ("{" if opening and index == 0 else ",") + _json(key) + ":"
            pieces.append(f"'{prefix}' || {_COLUMNS[name]}")
        text = " || ".join(pieces)
        return ("'\"' || id || '\":' || " + text) if opening and self.keyed_by_id else text

    def declared_parts(
        self, declared: Mapping[tuple[str, str], EntityStateTypeDescriptor]
    ) -> tuple[str, str]:
        """The per-type text as a JSON parameter ``[[domain, type, part], …]``, and the part of a
        type that is not loaded."""
        parts = [[d, k, _members(self._declared, type_fields(t))] for (d, k), t in declared.items()]
        return _json(parts), _members(self._declared, type_fields(None))

    def wrap(self, members: Sequence[str]) -> bytes:
        """The whole listing: a JSON list of objects, or one object keyed by id."""
        opening, closing = ("{", "}") if self.keyed_by_id else ("[", "]")
        return (opening + ",".join(members) + closing).encode()


class Table:
    """A listing as a table: ``{"columns": [...], "groups": {...}, "entities": [[...], …]}``.

    Each entity is a list of its values in ``columns``' order, with no keys. What entities of one
    entry and type share (the entry, domain and type, and what the type declares: category, device
    and state class, unit, actions) is said once, under ``groups["<n>"]``, and each entity names
    its group's number ``n``. Times are whole milliseconds since the epoch. For 5,000 entities
    that is ~25% of the views' bytes, and a client decodes it in a fraction of the time.
    """

    def __init__(self, columns: Sequence[str]) -> None:
        """``columns`` start with ``id`` and ``group``; the rest are stored fields of a view or
        ``updated_at_ms`` / ``last_changed_ms``."""
        assert tuple(columns[:2]) == ("id", "group")
        values = " || ',' || ".join(_TABLE_COLUMNS[name] for name in columns[2:])
        self.expression = f"',' || {values} || ']'"
        """The text of an entity after its id and group (``[id,group`` is written in Python)."""
        self._head = '{"columns":' + _json(list(columns)) + ',"groups":{'

    def wrap(self, members: Sequence[str]) -> bytes:
        """The table of ``members`` when no entity has a group (none are listed)."""
        return self.wrap_groups(members, {}, {})

    def wrap_groups(
        self,
        members: Sequence[str],
        groups: Mapping[int, tuple[str, str, str]],
        declared: Mapping[tuple[str, str], EntityStateTypeDescriptor],
    ) -> bytes:
        """The table of ``members``, with ``groups`` (number → entry, domain, type) said once."""
        said = []
        for number, (entry_id, domain, entity_type) in sorted(groups.items()):
            group = {"entry_id": entry_id, "domain": domain, "entity_type": entity_type}
            group.update(type_fields(declared.get((domain, entity_type))))
            said.append(f'"{number}":{_json(group)}')
        body = self._head + ",".join(said) + '},"entities":[' + ",".join(members) + "]}"
        return body.encode()


_TABLE_COLUMNS: Final[Mapping[str, str]] = {
    **_COLUMNS,
    "updated_at_ms": "CAST(updated_at * 1000 AS INTEGER)",
    "last_changed_ms": "CAST(last_changed * 1000 AS INTEGER)",
}
"""A table's values: the stored fields as a view writes them, and times as whole milliseconds
(truncated, as ``iso_millis`` truncates)."""


FULL: Final = Layout([(name, name) for name in FULL_KEYS], keyed_by_id=False)
"""``{"entities": [view, …]}``'s list, as ``GET /api/entities`` and ``entities/list`` answer."""

TABLE_COLUMNS: Final = (
    *("id", "group", "external_id", "name", "state", "attributes", "parent_id", "device_id"),
    *("visible", "updated_at_ms", "last_changed_ms"),
)
"""A table's columns: a view's fields but what its group says, and ``created_at``."""

TABLE: Final = Table(TABLE_COLUMNS)
"""``entities/list``'s default form."""

Form: TypeAlias = Layout | Table
"""How a listing spells its entities: objects (``Layout``) or a table."""


class Listings:
    """Entity listings as JSON text: each entity's text kept until it changes, and each whole
    listing until any entity does."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._generation = 0
        self._cached: OrderedDict[tuple[Any, ...], tuple[int, bytes]] = OrderedDict()
        self._texts: dict[tuple[int, int], str] = {}
        """``(id(layout), entity id) → text``; only for the types ``_types`` names."""
        self._types: tuple[Any, ...] = ()
        self._layouts: set[int] = set()
        """The layouts (``id`` of each) whose texts may be kept: a change drops it from each."""
        self._groups: dict[tuple[str, str, str], int] = {}
        """A table's group numbers, ``(entry, domain, type) → n``: never renumbered, so a kept
        text stays right."""
        self._group_of: dict[int, int] = {}
        """Entity id → its group's number, for every entity whose table text is kept."""

    def changed(self, entity_ids: Iterable[int] | None = None) -> None:
        """The entities ``entity_ids`` changed (``None``: any may have); what shows them is stale."""
        self._generation += 1
        self._cached.clear()
        if entity_ids is None:
            self._texts.clear()
            self._group_of.clear()
            return
        for entity_id in entity_ids:
            self._group_of.pop(entity_id, None)
            for layout in self._layouts:
                self._texts.pop((layout, entity_id), None)

    async def listing(
        self,
        layout: Form,
        where: str,
        params: Sequence[Any],
        limit: int,
        declared: Mapping[tuple[str, str], EntityStateTypeDescriptor],
    ) -> bytes:
        """The entities matching ``where`` (from ``EntityFilter.where``), by id, in ``layout``."""
        types = tuple((pair, id(descriptor)) for pair, descriptor in declared.items())
        if types != self._types:  # an integration was loaded or unloaded: its fields change
            self._types = types
            self.changed()
        key = (id(layout), where, tuple(params), limit)
        kept = self._cached.get(key)
        if kept is not None and kept[0] == self._generation:
            self._cached.move_to_end(key)
            return kept[1]
        generation = self._generation
        listed = await self._texts_of(layout, where, params, limit, declared)
        texts = [text for _, text in listed]
        if isinstance(layout, Table):
            numbers = {self._group_of[entity_id] for entity_id, _ in listed}
            groups = {n: key for key, n in self._groups.items() if n in numbers}
            body = layout.wrap_groups(texts, groups, declared)
        else:
            body = layout.wrap(texts)
        # A write that committed while this was read has bumped the generation: keep nothing then.
        if generation == self._generation and len(body) <= _MAX_CACHED_BYTES:
            self._cached[key] = (generation, body)
            while len(self._cached) > _MAX_CACHED:
                self._cached.popitem(last=False)
        return body

    async def _texts_of(
        self,
        layout: Form,
        where: str,
        params: Sequence[Any],
        limit: int,
        declared: Mapping[tuple[str, str], EntityStateTypeDescriptor],
    ) -> list[tuple[int, str]]:
        """Each matching entity's id and text: the kept ones, and the others written by SQLite."""
        tag, texts = id(layout), self._texts
        self._layouts.add(tag)
        order = f"FROM entities WHERE {where} ORDER BY id LIMIT ?"
        generation = self._generation
        ids: list[int] = []
        if texts:  # else every one is missing: skip straight to the query that writes them all
            found = await self._db.conn.execute_fetchall(f"SELECT id {order}", [*params, limit])
            ids = [int(row[0]) for row in found]
        if ids and generation == self._generation:
            missing = [entity_id for entity_id in ids if (tag, entity_id) not in texts]
            if not missing:
                return [(entity_id, texts[(tag, entity_id)]) for entity_id in ids]
            if len(missing) * 2 <= len(ids):  # a few changed: write just those
                wanted = "FROM entities WHERE id IN (SELECT value FROM json_each(?))"
                rows = await self._select(layout, wanted, [json.dumps(missing)], declared)
                if generation == self._generation:
                    self._keep(tag, rows)
                    return [(entity_id, texts[(tag, entity_id)]) for entity_id in ids]
        # Most are new, or the entities changed while this read: one query writes them all.
        generation = self._generation
        rows = await self._select(layout, order, [*params, limit], declared)
        if generation == self._generation:
            self._keep(tag, rows)
        return rows

    def _keep(self, tag: int, rows: Sequence[tuple[int, str]]) -> None:
        if len(self._texts) + len(rows) > _MAX_TEXTS:
            self._texts.clear()
        if len(rows) <= _MAX_TEXTS:
            self._texts.update(((tag, entity_id), text) for entity_id, text in rows)

    async def _select(
        self,
        layout: Form,
        source: str,
        params: Sequence[Any],
        declared: Mapping[tuple[str, str], EntityStateTypeDescriptor],
    ) -> list[tuple[int, str]]:
        """``(id, text)`` of the entities ``source`` (``FROM … WHERE …``) names."""
        if isinstance(layout, Table):
            return await self._table_rows(layout, source, params)
        parts, unknown = layout.declared_parts(declared)
        sql = (
            "WITH declared (d, k, part) AS MATERIALIZED (SELECT json_extract(value, '$[0]'), "
            "json_extract(value, '$[1]'), json_extract(value, '$[2]') FROM json_each(?)) "
            f"SELECT id, {layout.expression} {source}"
        )
        rows = await self._db.conn.execute_fetchall(sql, [parts, unknown, *params])
        return [(int(row[0]), str(row[1])) for row in rows]

    async def _table_rows(
        self, layout: Table, source: str, params: Sequence[Any]
    ) -> list[tuple[int, str]]:
        """A table's rows: SQLite writes all but the id and group number, which are written here."""
        sql = f"SELECT id, entry_id, domain, entity_type, {layout.expression} {source}"
        rows = await self._db.conn.execute_fetchall(sql, params)
        groups, group_of, texts = self._groups, self._group_of, []
        for entity_id, entry_id, domain, entity_type, rest in rows:
            key = (entry_id, domain, entity_type)
            number = groups.get(key)
            if number is None:
                number = groups[key] = len(groups)
            group_of[entity_id] = number
            texts.append((entity_id, f"[{entity_id},{number}{rest}"))
        return texts
