"""Which entities a listing wants, as SQL: every filter sits in the query, before its limit."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from hub.integrations.entities import EntityStateTypeDescriptor

UNCATEGORISED: Final = "none"
"""The ``category`` filter for entities whose type has no category: the agent's default view."""
CATEGORIES: Final = ("config", "diagnostic", UNCATEGORISED)
"""Every ``category`` a listing may ask for (the specification's two, and none)."""

# A type is named by (domain, key): two integrations may both declare a "sensor".
_PAIR_IN: Final = (
    "({p}domain, {p}entity_type) IN "
    "(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))"
)


@dataclass(frozen=True, slots=True)
class EntityFilter:
    """Conditions an entity must meet; ``None`` leaves a field unfiltered."""

    domain: str | None = None
    entry_ids: frozenset[str] | None = None
    """The entries whose entities may be listed (the caller's visible ones); empty lists nothing."""
    entity_type: str | None = None
    device_id: int | None = None
    visible: bool | None = None
    category: str | None = None
    """``config``, ``diagnostic``, or ``none`` for uncategorised (``CATEGORIES``)."""

    def where(
        self, categorised: Mapping[tuple[str, str], str], *, alias: str = ""
    ) -> tuple[str, list[Any]] | None:
        """The SQL conditions (``"1"`` for none) and their parameters; ``None`` if nothing can match.

        ``categorised`` maps each ``(domain, type)`` that declares a category to it; ``alias``
        qualifies the columns (``"e."``) when the entities table is joined.
        """
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("domain", self.domain),
            ("entity_type", self.entity_type),
            ("device_id", self.device_id),
            ("visible", None if self.visible is None else int(self.visible)),
        ):
            if value is not None:
                clauses.append(f"{alias}{column} = ?")
                params.append(value)
        if self.entry_ids is not None:
            if not self.entry_ids:
                return None
            clauses.append(f"{alias}entry_id IN ({','.join('?' * len(self.entry_ids))})")
            params.extend(sorted(self.entry_ids))
        if self.category is not None:
            internal = self.category == UNCATEGORISED
            pairs = sorted(
                key
                for key, category in categorised.items()
                if internal or category == self.category
            )
            if pairs:
                clauses.append(("NOT " if internal else "") + _PAIR_IN.format(p=alias))
                params.append(json.dumps(pairs))
            elif not internal:
                return None  # no loaded type has that category
        return (" AND ".join(clauses) or "1"), params


def categorised_types(
    declared: Iterable[tuple[str, Mapping[str, EntityStateTypeDescriptor]]],
) -> dict[tuple[str, str], str]:
    """``(domain, type) → category`` for every declared type that has a category."""
    return {
        (domain, key): descriptor.category
        for domain, types in declared
        for key, descriptor in types.items()
        if descriptor.category is not None
    }
