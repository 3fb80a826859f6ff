"""Diagnostics: what a bug report needs about an entry or the hub, with every secret redacted.

An entry's file holds the versions, the entry's state and its recent changes of state, its data,
its last log lines (``hub.core.logs.LogRing``, fed by the records ``EntryRuntime`` marks with the
entry's id) and what the integration's ``async_get_diagnostics`` returns, bounded in time. All of
it passes through ``hub.core.redact.redact`` once, last, so nothing added later escapes it.
"""

from __future__ import annotations

import logging
import platform
import sys
import time
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from hub import __version__
from hub.config import HubConfig
from hub.core.bus import Event, EventBus, ListenerHandle
from hub.core.crypto import Keyring
from hub.core.disk import WriteHealth
from hub.core.errors import CryptoError, IntegrationError
from hub.core.logs import LogRing
from hub.core.redact import redact, secret_values
from hub.integrations.catalog import IntegrationCatalog
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.entry import EVENT_ENTRY_REMOVED, EVENT_ENTRY_STATE, ConfigEntry
from hub.integrations.registry import IntegrationRegistry
from hub.integrations.runtime import Hook
from hub.ops.repairs import Repair, Repairs

_LOGGER = logging.getLogger(__name__)

DIAGNOSTICS: Final = Hook("async_get_diagnostics", (Mapping,), reauth=False)
DIAGNOSTICS_TIMEOUT: Final = 10.0
"""Seconds an integration's ``async_get_diagnostics`` may take; past them its part is an error."""
STATE_HISTORY: Final = 50
"""Changes of state kept per entry (since the hub started)."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _repair(repair: Repair) -> dict[str, Any]:
    # Not under "key": that name is redacted as a secret's.
    return {
        "id": repair.id,
        "repair": repair.key,
        "severity": repair.severity,
        "params": dict(repair.params),
        "created_at": repair.created_at,
    }


class Diagnostics:
    """Keeps each entry's recent log lines and changes of state, and builds the downloads."""

    def __init__(
        self,
        *,
        bus: EventBus,
        entries: ConfigEntries,
        registry: IntegrationRegistry,
        catalog: IntegrationCatalog,
        keyring: Keyring,
        repairs: Repairs,
        config: HubConfig,
        config_dir: Path,
        disks: Mapping[str, WriteHealth],
    ) -> None:
        self._bus = bus
        self._entries = entries
        self._registry = registry
        self._catalog = catalog
        self._keyring = keyring
        self._repairs = repairs
        self._config = config
        self._config_dir = config_dir
        self._disks = dict(disks)
        self.logs = LogRing()
        self._history: dict[str, deque[dict[str, Any]]] = {}
        self._handles: list[ListenerHandle] = []
        self._started = time.monotonic()
        self.timeout = DIAGNOSTICS_TIMEOUT

    def start(self) -> None:
        """Keep log lines and changes of state from now on."""
        logging.getLogger().addHandler(self.logs)
        self._handles = [
            self._bus.listen(EVENT_ENTRY_STATE, self._on_state),
            self._bus.listen(EVENT_ENTRY_REMOVED, self._on_removed),
        ]

    def stop(self) -> None:
        """Stop keeping them."""
        logging.getLogger().removeHandler(self.logs)
        for handle in self._handles:
            handle()
        self._handles = []

    # What is kept

    def _on_state(self, event: Event[Mapping[str, Any]]) -> None:
        entry_id = event.data.get("entry_id")
        if not isinstance(entry_id, str):
            return
        entry = self._entries.get(entry_id)
        history = self._history.setdefault(entry_id, deque(maxlen=STATE_HISTORY))
        history.append(
            {
                "at": event.time_fired.isoformat(timespec="seconds"),
                "state": event.data.get("state"),
                "reason": entry.reason if entry is not None else None,
            }
        )

    def _on_removed(self, event: Event[Mapping[str, Any]]) -> None:
        entry_id = event.data.get("entry_id")
        if isinstance(entry_id, str):
            self._history.pop(entry_id, None)
            self.logs.forget(entry_id)

    # The downloads

    async def entry(self, entry: ConfigEntry) -> dict[str, Any]:
        """One entry's diagnostics, redacted."""
        loaded = self._registry.get(entry.domain)
        integration = loaded.integration if loaded is not None else None
        report = {
            "generated_at": _now(),
            "hub": self._about(),
            "integration": self._integration(entry.domain),
            "entry": {
                "entry_id": entry.entry_id,
                "domain": entry.domain,
                "title": entry.title,
                "scope": entry.scope,
                "version": entry.version,
                "created_at": entry.created_at,
                "updated_at": entry.updated_at,
                "disabled": entry.disabled,
                "state": str(entry.state),
                "reason": entry.reason,
                "health": entry.health.to_json() if entry.health is not None else None,
                "last_sync": dict(entry.last_sync) if entry.last_sync is not None else None,
                "listener": dict(entry.listener) if entry.listener is not None else None,
                "data": dict(entry.data),
                "encrypted_fields": sorted(entry.secrets),  # names only: values are never shown
            },
            "state_history": list(self._history.get(entry.entry_id, ())),
            "repairs": [_repair(r) for r in self._repairs.active() if r.entry_id == entry.entry_id],
            "log": self.logs.lines(entry.entry_id),
            "integration_diagnostics": await self._integration_part(entry),
        }
        keys = (*entry.secrets, *(integration.diagnostics_redact if integration else ()))
        return self._redacted(report, keys=keys, values=self._secret_values(entry, keys))

    async def hub(self) -> dict[str, Any]:
        """The hub's diagnostics (for admins), redacted: no entry's data, only its state."""
        report = {
            "generated_at": _now(),
            "hub": self._about(),
            "config": self._config.model_dump(mode="json"),
            "storage": {name: health.state for name, health in self._disks.items()},
            "integrations": [
                {"domain": row.domain, "status": row.status, "reason": row.reason}
                for row in self._catalog.rows()
            ],
            "entries": [
                {
                    "entry_id": e.entry_id,
                    "domain": e.domain,
                    "scope": e.scope,
                    "state": str(e.state),
                    "reason": e.reason,
                    "disabled": e.disabled,
                }
                for e in self._entries.entries()
            ],
            "repairs": [_repair(r) for r in self._repairs.active()],
            "log": self.logs.lines(),
        }
        values: list[str] = []
        for entry in self._entries.entries():
            loaded = self._registry.get(entry.domain)
            keys = loaded.integration.diagnostics_redact if loaded is not None else ()
            values.extend(self._secret_values(entry, keys))
        return self._redacted(report, keys=(), values=values)

    def _about(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "machine": platform.machine(),
            "uptime_seconds": round(time.monotonic() - self._started),
        }

    def _integration(self, domain: str) -> dict[str, Any]:
        loaded = self._registry.get(domain)
        row = self._catalog.get(domain)
        shown: dict[str, Any] = {
            "domain": domain,
            "status": row.status if row is not None else None,
            "loaded": loaded is not None,
        }
        if loaded is not None:
            shown |= {
                "version": loaded.manifest.version,
                "source": str(loaded.source),
                "missing_requirements": list(loaded.missing_requirements),
            }
        return shown

    async def _integration_part(self, entry: ConfigEntry) -> Any:
        runtime = self._entries.runtime(entry.entry_id)
        loaded = self._registry.get(entry.domain)
        if runtime is None or loaded is None:
            return {"error": f"the entry is not loaded ({entry.state})"}
        try:
            return await runtime.call(DIAGNOSTICS, timeout=self.timeout)
        except IntegrationError as err:  # the runtime logged a bug with its correlation id
            return {"error": err.reason or str(err)}

    def _secret_values(self, entry: ConfigEntry, keys: Iterable[str]) -> list[str]:
        """The entry's secrets, the secret-named values of its data and its webhook token in plain
        text, to be found wherever they turn up (a log line, the integration's own report)."""
        values = secret_values(entry.data, keys=keys)
        try:
            values.extend(self._entries.secrets_of(entry).values())
            values.append(self._entries.webhook_token(entry))
        except CryptoError:  # unreadable: then they cannot turn up in plain text either
            pass
        return values

    def _redacted(
        self, report: dict[str, Any], *, keys: tuple[str, ...], values: list[str]
    ) -> dict[str, Any]:
        values = [*values, *self._keyring.master_key_forms()]
        redacted: dict[str, Any] = redact(report, keys=keys, values=values)
        return redacted
