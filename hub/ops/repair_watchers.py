"""Where each repair's condition happens: entry states, the catalog, listeners, tool pins and the disk.

Each watcher reads the state as it is now (never an event's copy of it), so a repair follows its
cause however events interleave: raised when the cause appears, cleared when it is gone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from hub.comms.listeners import Listeners
from hub.core.bus import Event, EventBus, ListenerHandle
from hub.core.disk import FULL, READ_ONLY, WriteHealth, WriteState, worst
from hub.core.errors import IntegrationError
from hub.integrations.catalog import IntegrationCatalog
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.entry import (
    EVENT_ENTRY_REMOVED,
    EVENT_ENTRY_STATE,
    EVENT_ENTRY_UPDATED,
    ConfigEntry,
    EntryState,
)
from hub.integrations.integration import Integration
from hub.integrations.loader import SkipReason
from hub.integrations.registry import IntegrationRegistry
from hub.integrations.runtime import Hook
from hub.integrations.tool_review import ToolChange, ToolPins
from hub.ops.repairs import Repairs

_LOGGER = logging.getLogger(__name__)

LISTENER_FAILURES: Final = 5
"""Failures in a row (no healthy run between them) after which a listener "keeps failing"."""
TOOL_PINS: Final = Hook("tool_pins", (ToolPins,))
_NO_MODULE: Final = re.compile(r"No module named '([^']+)'")
_FAILED: Final = (EntryState.SETUP_ERROR, EntryState.SETUP_RETRY)
_IMPORT_ERRORS: Final = ("ModuleNotFoundError", "ImportError")


def issue(kind: str, subject: str) -> str:
    """The issue id of one kind of repair about one entry or domain."""
    return f"{kind}.{subject}"


class RepairWatchers:
    """Raises and clears the repairs whose causes the hub itself sees."""

    def __init__(
        self,
        repairs: Repairs,
        *,
        bus: EventBus,
        entries: ConfigEntries,
        registry: IntegrationRegistry,
        catalog: IntegrationCatalog,
        listeners: Listeners,
        disks: Sequence[WriteHealth],
        config_dir: Path,
    ) -> None:
        self._repairs = repairs
        self._bus = bus
        self._entries = entries
        self._registry = registry
        self._catalog = catalog
        self._listeners = listeners
        self._disks = tuple(disks)
        self._config_dir = config_dir
        self._handles: list[ListenerHandle] = []

    def start(self) -> None:
        """Watch from now on, and look once at what is already so (entries as stored)."""
        self._handles = [
            self._bus.listen(EVENT_ENTRY_STATE, self._on_entry),
            self._bus.listen(EVENT_ENTRY_UPDATED, self._on_entry),
            self._bus.listen(EVENT_ENTRY_REMOVED, self._on_entry),
        ]
        for disk in self._disks:
            disk.on_change.append(self._on_disk)
        self._listeners.observers.append(self._on_listener)
        self._entries.after_setup.append(self._after_setup)
        for entry in self._entries.entries():
            self._check_entry(entry.entry_id)
        self._on_disk(OK_STATE)

    def stop(self) -> None:
        """Stop watching (shutdown)."""
        for handle in self._handles:
            handle()
        self._handles = []
        for disk in self._disks:
            if self._on_disk in disk.on_change:
                disk.on_change.remove(self._on_disk)
        if self._on_listener in self._listeners.observers:
            self._listeners.observers.remove(self._on_listener)

    # Entries: credentials, a folder gone, a requirement missing

    def _on_entry(self, event: Event[Mapping[str, Any]]) -> None:
        entry_id = event.data.get("entry_id")
        if isinstance(entry_id, str):
            self._check_entry(entry_id, domain=event.data.get("domain"))

    def _check_entry(self, entry_id: str, domain: object = None) -> None:
        entry = self._entries.get(entry_id)
        if entry is None:  # removed: nothing of it needs anyone's attention any more
            self._repairs.clear_where(lambda repair: repair.entry_id == entry_id)
            if isinstance(domain, str):
                self._check_domain(domain)
            return
        self._check_reauth(entry)
        self._check_requirement(entry)
        self._check_domain(entry.domain)

    def _check_reauth(self, entry: ConfigEntry) -> None:
        issue_id = issue("reauth_required", entry.entry_id)
        if entry.state is not EntryState.REAUTH_REQUIRED or entry.disabled:
            self._repairs.clear(issue_id)
            return
        self._repairs.raise_(
            "reauth_required",
            issue_id=issue_id,
            severity="error",
            params={"title": entry.title, "domain": entry.domain},
            entry_id=entry.entry_id,
            fix={"kind": "reauth", "entry_id": entry.entry_id},
        )

    def _check_requirement(self, entry: ConfigEntry) -> None:
        issue_id = issue("requirement_missing", entry.entry_id)
        missing = self._missing_requirement(entry) if entry.state in _FAILED else None
        if missing is None or entry.disabled:
            self._repairs.clear(issue_id)
            return
        self._repairs.raise_(
            "requirement_missing",
            issue_id=issue_id,
            severity="error",
            params={"title": entry.title, "domain": entry.domain, "requirement": missing},
            entry_id=entry.entry_id,
            fix={"kind": "link", "href": f"#/entries/{entry.entry_id}"},
        )

    def _missing_requirement(self, entry: ConfigEntry) -> str | None:
        loaded = self._registry.get(entry.domain)
        if loaded is not None:
            # Only when the setup failed for want of a module: other failures are their own.
            if not any(name in (entry.reason or "") for name in _IMPORT_ERRORS):
                return None
            return ", ".join(loaded.missing_requirements) or None
        skipped = self._registry.skipped_domain(entry.domain)
        if skipped is None or skipped.reason is not SkipReason.IMPORT_FAILED:
            return None
        match = _NO_MODULE.search(skipped.message)
        return match[1] if match else None

    def _check_domain(self, domain: str) -> None:
        issue_id = issue("integration_missing", domain)
        row = self._catalog.get(domain)
        gone = row is not None and row.status == "not_found" and domain not in self._registry
        stranded = [
            e for e in self._entries.entries(domain) if not e.disabled and e.state in _FAILED
        ]
        if not gone or not stranded:
            self._repairs.clear(issue_id)
            return
        self._repairs.raise_(
            "integration_missing",
            issue_id=issue_id,
            severity="error",
            params={"domain": domain, "count": len(stranded)},
            fix={"kind": "link", "href": "#/entries"},
        )

    # Listeners

    def _on_listener(self, entry_id: str, status: dict[str, Any] | None) -> None:
        issue_id = issue("listener_failing", entry_id)
        failures = status.get("failures", 0) if status is not None else 0
        entry = self._entries.get(entry_id)
        if entry is None or not isinstance(failures, int) or failures < LISTENER_FAILURES:
            self._repairs.clear(issue_id)
            return
        self._repairs.raise_(
            "listener_failing",
            issue_id=issue_id,
            severity="warning",
            params={"title": entry.title, "failures": failures},
            entry_id=entry_id,
            fix={"kind": "link", "href": f"#/entries/{entry_id}"},
            dismissable=True,  # messages still arrive with each scheduled pull
        )

    # Tools of an MCP server (any entry that pins its tools)

    async def _after_setup(self, entry: ConfigEntry, integration: Integration) -> None:
        runtime = self._entries.runtime(entry.entry_id)
        if runtime is None or type(integration).tool_pins is Integration.tool_pins:
            return
        try:
            pins = runtime.call_sync(TOOL_PINS)
        except IntegrationError:  # the runtime logged it; no review to watch then
            return
        if isinstance(pins, ToolPins):
            entry_id = entry.entry_id
            pins.watch(lambda changes: self._on_tools(entry_id, changes))
            self._on_tools(entry_id, pins.changes)

    def _on_tools(self, entry_id: str, changes: list[ToolChange]) -> None:
        issue_id = issue("tools_changed", entry_id)
        entry = self._entries.get(entry_id)
        if entry is None or not changes:
            self._repairs.clear(issue_id)
            return
        self._repairs.raise_(
            "tools_changed",
            issue_id=issue_id,
            severity="warning",
            params={"title": entry.title, "count": len(changes)},
            entry_id=entry_id,
            fix={"kind": "link", "href": f"#/entries/{entry_id}"},
            dismissable=True,  # the changed tools stay withheld meanwhile
        )

    # The disk

    def _on_disk(self, _state: WriteState) -> None:
        state = worst(*(disk.state for disk in self._disks))
        where = str(self._config_dir)
        for key, fault in (("disk_full", FULL), ("disk_read_only", READ_ONLY)):
            if state != fault:
                self._repairs.clear(key)
                continue
            self._repairs.raise_(key, issue_id=key, severity="error", params={"where": where})


OK_STATE: Final[WriteState] = "ok"
