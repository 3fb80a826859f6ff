"""Pinned tool definitions: a tool whose definition changed since a person trusted it is withheld.

At setup an integration that proxies tools it does not write (an MCP server) pins each tool's
definition — name, description and input schema — by a fingerprint (sha256 of canonical JSON) kept
in the entry's data under ``PINS_KEY``. Every later listing is compared with the pins: an unchanged
tool is offered; a changed or new one is withheld and kept as a change for a person to review (the
"rug pull" defence); a removed one simply is not offered. Accepting a change pins the new
definition. Pure data: the pydantic-ai wrapper that applies it lives in ``pinned_toolset``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

PINS_KEY: Final = "tool_pins"
"""Where an entry's data keeps its pinned definitions: ``{name: ToolSpec.to_json()}``."""

MAX_DESCRIPTION: Final = 8_000
"""Characters of a description kept for review; the fingerprint covers all of it."""


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool as its server defines it."""

    name: str
    description: str
    input_schema: Mapping[str, Any]

    @property
    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of name, description and schema."""
        canonical = json.dumps(
            {"name": self.name, "description": self.description, "input_schema": self.input_schema},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            default=str,
        )
        return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """As stored in the entry and as the review shows it."""
        return {
            "name": self.name,
            "description": self.description[:MAX_DESCRIPTION],
            "input_schema": dict(self.input_schema),
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True, slots=True)
class Pin:
    """A pinned definition as stored: what was shown when it was trusted, and its fingerprint."""

    spec: dict[str, Any]
    fingerprint: str

    @classmethod
    def from_json(cls, stored: Any) -> Pin | None:
        """A stored pin, or ``None`` when it is damaged (then the tool waits for review)."""
        if not isinstance(stored, Mapping) or not isinstance(stored.get("fingerprint"), str):
            return None
        return cls(spec=dict(stored), fingerprint=stored["fingerprint"])


@dataclass(frozen=True, slots=True)
class ToolChange:
    """A tool whose definition is not the pinned one: ``added`` (no pin) or ``changed``."""

    name: str
    kind: Literal["added", "changed"]
    old: Mapping[str, Any] | None
    new: ToolSpec

    def to_json(self) -> dict[str, Any]:
        """Old and new side by side."""
        return {
            "name": self.name,
            "kind": self.kind,
            "old": dict(self.old) if self.old is not None else None,
            "new": self.new.to_json(),
        }


class ToolPins:
    """An entry's pins and the changes its last listing showed."""

    def __init__(self, pins: Mapping[str, Pin]) -> None:
        self._pins = dict(pins)
        self._changes: dict[str, ToolChange] = {}
        self._watchers: list[Callable[[list[ToolChange]], None]] = []

    def watch(self, callback: Callable[[list[ToolChange]], None]) -> None:
        """Call ``callback`` with the pending changes whenever which tools wait for review changes."""
        self._watchers.append(callback)

    def _set_changes(self, changes: dict[str, ToolChange]) -> None:
        before = set(self._changes)
        self._changes = changes
        if set(changes) != before:
            for callback in list(self._watchers):
                callback(self.changes)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ToolPins:
        """The pins an entry's data holds (none when it holds none)."""
        stored = data.get(PINS_KEY)
        pins: dict[str, Pin] = {}
        if isinstance(stored, Mapping):
            for name, value in stored.items():
                pin = Pin.from_json(value)
                if pin is not None:
                    pins[str(name)] = pin
        return cls(pins)

    @staticmethod
    def pin_all(specs: Iterable[ToolSpec]) -> dict[str, Any]:
        """Entry data pinning ``specs`` as they are (at setup)."""
        return {spec.name: spec.to_json() for spec in specs}

    def observe(self, specs: Iterable[ToolSpec]) -> frozenset[str]:
        """Compare a listing with the pins; the names that may be offered."""
        allowed: set[str] = set()
        changes: dict[str, ToolChange] = {}
        for spec in specs:
            pin = self._pins.get(spec.name)
            if pin is not None and pin.fingerprint == spec.fingerprint:
                allowed.add(spec.name)
            elif pin is None:
                changes[spec.name] = ToolChange(spec.name, "added", None, spec)
            else:
                changes[spec.name] = ToolChange(spec.name, "changed", pin.spec, spec)
        self._set_changes(changes)
        return frozenset(allowed)

    @property
    def changes(self) -> list[ToolChange]:
        """What the last listing showed that is not pinned, by name."""
        return [self._changes[name] for name in sorted(self._changes)]

    def accepted(self, names: Iterable[str]) -> dict[str, Any]:
        """The entry data value with the listed changes pinned; nothing changes here."""
        stored = self.to_data()
        for name in names:
            change = self._changes.get(name)
            if change is not None:
                stored[name] = change.new.to_json()
        return stored

    def accept(self, names: Iterable[str]) -> None:
        """Pin the listed changes' new definitions (once ``accepted``'s value is stored)."""
        changes = dict(self._changes)
        for name in names:
            change = changes.pop(name, None)
            if change is not None:
                spec = change.new.to_json()
                self._pins[name] = Pin(spec=spec, fingerprint=spec["fingerprint"])
        self._set_changes(changes)

    def to_data(self) -> dict[str, Any]:
        """The pins as entry data stores them."""
        return {name: dict(pin.spec) for name, pin in self._pins.items()}
