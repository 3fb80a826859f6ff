"""Repairs: problems a person can act on, each a translated title and text with, where one applies, a fix.

A repair is raised and cleared by what the hub sees happen (``hub.ops.repair_watchers`` watches each
condition where it happens); ``issue_id`` makes raising idempotent. An entry's repair is seen by
whoever sees the entry, a person's by that person, a hub-wide one by the admins, the same rule the
websocket applies to ``repair.raised`` and ``repair.cleared``. A dismissal is kept in
``.storage/core.repairs`` until the issue clears, so the same issue coming back is shown again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final, Literal, NotRequired, TypedDict

from hub.auth.principal import Principal
from hub.core.bus import EventBus, EventType
from hub.core.errors import (
    REPAIR_NOT_DISMISSABLE,
    REPAIR_NOT_FOUND,
    BadRequestError,
    NotFoundError,
    StorageError,
)
from hub.core.storage import StorageManager
from hub.integrations.entry import EVERYONE

_LOGGER = logging.getLogger(__name__)

STORAGE_KEY: Final = "core.repairs"
STORAGE_VERSION: Final = 1
ADMINS: Final = "@admins"
"""The audience of a hub-wide repair (the websocket's key for the hub's own events)."""

Severity = Literal["warning", "error"]
Param = str | int

RECOMPUTED: Final = frozenset(
    {
        "reauth_required",
        "integration_missing",
        "requirement_missing",
        "listener_failing",
        "tools_changed",
        "disk_full",
        "disk_read_only",
    }
)
"""Keys the watchers raise again from what they see at every start: not kept across restarts.
Any other key (``backup_failed``) is kept until it is cleared, as nothing would raise it again."""


class Fix(TypedDict):
    """What the repair's button does: a reauth flow for an entry, or a place in the web UI."""

    kind: Literal["reauth", "link"]
    entry_id: NotRequired[str]
    href: NotRequired[str]


class RepairNotFoundError(NotFoundError):
    """No such repair, or not one the caller may see."""

    code = REPAIR_NOT_FOUND


class RepairNotDismissableError(BadRequestError):
    """The repair is not safe to ignore: it goes away when its cause is fixed."""

    code = REPAIR_NOT_DISMISSABLE


@dataclass(frozen=True, slots=True)
class Repair:
    """One raised issue."""

    id: str
    key: str
    severity: Severity
    created_at: str
    params: Mapping[str, Param] = field(default_factory=dict)
    entry_id: str | None = None
    person_id: str | None = None
    fix: Fix | None = None
    dismissable: bool = False
    persist: bool = False

    def public(self) -> dict[str, Any]:
        """The JSON shape of ``GET /api/repairs`` and of ``repair.raised``."""
        shown: dict[str, Any] = {
            "id": self.id,
            "key": self.key,
            "params": dict(self.params),
            "severity": self.severity,
            "fix": dict(self.fix) if self.fix is not None else None,
            "dismissable": self.dismissable,
            "created_at": self.created_at,
        }
        if self.entry_id is not None:
            shown["entry_id"] = self.entry_id
        if self.person_id is not None:
            shown["person_id"] = self.person_id
        return shown

    def to_json(self) -> dict[str, Any]:
        """As kept in storage (only repairs nothing would raise again)."""
        return self.public() | {"entry_id": self.entry_id, "person_id": self.person_id}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Repair:
        """Read what ``to_json`` wrote; ``KeyError``/``TypeError``/``ValueError`` if damaged."""
        severity = data["severity"]
        if severity not in ("warning", "error"):
            raise ValueError(f"unknown severity {severity!r}")
        return cls(
            id=str(data["id"]),
            key=str(data["key"]),
            severity=severity,
            created_at=str(data["created_at"]),
            params=dict(data.get("params") or {}),
            entry_id=data.get("entry_id"),
            person_id=data.get("person_id"),
            fix=data.get("fix"),
            dismissable=bool(data.get("dismissable", False)),
            persist=True,
        )

    def same_as(self, other: Repair) -> bool:
        """Whether raising ``other`` would show nothing new."""
        return replace(other, created_at=self.created_at) == self


class RepairRaisedData(TypedDict):
    """``repair.raised``: the repair as listed, and whose it is."""

    repair: dict[str, Any]
    entry_id: NotRequired[str]
    person_id: NotRequired[str]


class RepairClearedData(TypedDict):
    """``repair.cleared``: the repair is gone (fixed), or ``dismissed`` by a person."""

    id: str
    dismissed: bool
    entry_id: NotRequired[str]
    person_id: NotRequired[str]


EVENT_REPAIR_RAISED: Final = EventType[RepairRaisedData]("repair.raised")
EVENT_REPAIR_CLEARED: Final = EventType[RepairClearedData]("repair.cleared")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _raised(repair: Repair) -> RepairRaisedData:
    data = RepairRaisedData(repair=repair.public())
    _stamp(data, repair)
    return data


def _cleared(repair: Repair, *, dismissed: bool) -> RepairClearedData:
    data = RepairClearedData(id=repair.id, dismissed=dismissed)
    _stamp(data, repair)
    return data


def _stamp(data: RepairRaisedData | RepairClearedData, repair: Repair) -> None:
    """Say whose the repair is, so the websocket sends the event only to them."""
    if repair.entry_id is not None:
        data["entry_id"] = repair.entry_id
    if repair.person_id is not None:
        data["person_id"] = repair.person_id


class Repairs:
    """The hub's open repairs, in memory; dismissals (and repairs nothing raises again) on disk."""

    def __init__(self, bus: EventBus, storage: StorageManager) -> None:
        self._bus = bus
        self._store = storage.store(STORAGE_KEY, STORAGE_VERSION)
        self._active: dict[str, Repair] = {}
        self._dismissed: set[str] = set()
        self.entry_audience: Callable[[str], str | None] = lambda _entry_id: None
        """Whose an entry is (``hub.integrations.entry.audience``); wired in ``app.py``."""

    async def load(self) -> None:
        """Read the dismissals and the kept repairs; a damaged file is logged and started over."""
        try:
            stored = await self._store.load()
        except StorageError:
            _LOGGER.exception("%s is damaged; starting with no dismissed repairs", STORAGE_KEY)
            return
        if not isinstance(stored, Mapping):
            return
        self._dismissed = {str(i) for i in stored.get("dismissed", []) if isinstance(i, str)}
        for raw in stored.get("kept", []):
            try:
                repair = Repair.from_json(raw)
            except (KeyError, TypeError, ValueError):
                _LOGGER.warning("Dropping a damaged repair from %s", STORAGE_KEY)
                continue
            self._active.setdefault(repair.id, repair)

    def raise_(
        self,
        key: str,
        *,
        issue_id: str,
        severity: Severity,
        params: Mapping[str, Param] | None = None,
        entry_id: str | None = None,
        person_id: str | None = None,
        fix: Fix | None = None,
        dismissable: bool = False,
    ) -> None:
        """Open the issue (its words: ``repairs.<key>.title``/``.text``); raising it again changes
        it only if something differs, and announces it only then."""
        repair = Repair(
            id=issue_id,
            key=key,
            severity=severity,
            created_at=_now(),
            params=dict(params or {}),
            entry_id=entry_id,
            person_id=person_id,
            fix=fix,
            dismissable=dismissable,
            persist=key not in RECOMPUTED,
        )
        current = self._active.get(issue_id)
        if current is not None:
            if current.same_as(repair):
                return
            repair = replace(repair, created_at=current.created_at)
        self._active[issue_id] = repair
        if repair.persist:
            self._save_soon()
        _LOGGER.info("Repair raised: %s (%s)", issue_id, key)
        if issue_id not in self._dismissed:
            self._bus.fire(EVENT_REPAIR_RAISED, _raised(repair))

    def clear(self, issue_id: str) -> None:
        """Close the issue (its cause is gone); a later one with the same id is shown again."""
        repair = self._active.pop(issue_id, None)
        dismissed = issue_id in self._dismissed
        self._dismissed.discard(issue_id)
        if repair is None:
            if dismissed:
                self._save_soon()
            return
        if repair.persist or dismissed:
            self._save_soon()
        _LOGGER.info("Repair cleared: %s (%s)", issue_id, repair.key)
        if not dismissed:
            self._bus.fire(EVENT_REPAIR_CLEARED, _cleared(repair, dismissed=False))

    def clear_where(self, test: Callable[[Repair], bool]) -> None:
        """Clear every open repair ``test`` picks."""
        for repair in [r for r in self._active.values() if test(r)]:
            self.clear(repair.id)

    def active(self) -> list[Repair]:
        """Every open repair, dismissed ones too, oldest first."""
        return sorted(self._active.values(), key=lambda r: (r.created_at, r.id))

    def get(self, issue_id: str) -> Repair | None:
        """The open repair with that id."""
        return self._active.get(issue_id)

    def visible(self, principal: Principal) -> list[dict[str, Any]]:
        """The open, not dismissed repairs the caller may see, oldest first."""
        return [
            repair.public()
            for repair in self.active()
            if repair.id not in self._dismissed and self._sees(principal, repair)
        ]

    async def dismiss(self, principal: Principal, issue_id: str) -> None:
        """Hide a dismissable repair from everyone until its issue clears; on disk before returning."""
        repair = self._active.get(issue_id)
        if repair is None or not self._sees(principal, repair):
            raise RepairNotFoundError(f"no repair {issue_id!r}", key="errors.repair_not_found")
        if not repair.dismissable:
            raise RepairNotDismissableError(
                f"the repair {issue_id!r} cannot be dismissed: fix its cause instead",
                key="errors.repair_not_dismissable",
            )
        if issue_id in self._dismissed:
            return
        self._dismissed.add(issue_id)
        try:
            await self._store.commit(self._snapshot)
        except StorageError:
            self._dismissed.discard(issue_id)  # refused by the disk: still shown, as before
            raise
        self._bus.fire(EVENT_REPAIR_CLEARED, _cleared(repair, dismissed=True))

    def audience(self, repair: Repair) -> str | None:
        """Whose the repair is: the entry's audience, the person, or the admins."""
        if repair.entry_id is not None:
            return self.entry_audience(repair.entry_id)
        return repair.person_id if repair.person_id is not None else ADMINS

    def _sees(self, principal: Principal, repair: Repair) -> bool:
        whose = self.audience(repair)
        if whose == EVERYONE or (whose is not None and whose == principal.person_id):
            return True
        return whose == ADMINS and principal.is_admin

    def _save_soon(self) -> None:
        self._store.schedule_save(self._snapshot)

    def _snapshot(self) -> dict[str, Any]:
        return {
            "dismissed": sorted(self._dismissed),
            "kept": [r.to_json() for r in self.active() if r.persist],
        }
