"""The catalog in ``.storage/core.integrations``: every domain ever seen, its status and admin settings."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final, Literal

from hub.core.disk import DiskFaultError
from hub.core.errors import BadRequestError, NotFoundError, StorageError
from hub.core.storage import StorageManager
from hub.integrations.contributions import event_types, relation_types
from hub.integrations.manifest import IntegrationManifest
from hub.integrations.registry import IntegrationRegistry

_LOGGER = logging.getLogger(__name__)

CATALOG_KEY: Final = "core.integrations"
CATALOG_VERSION: Final = 1
SCOPES: Final = ("user", "global")

Status = Literal["loaded", "failed", "not_found"]


@dataclass(frozen=True, slots=True)
class CatalogRow:
    """One domain: what discovery last saw, and the admin-owned ``enabled`` and ``allowed_scopes``."""

    domain: str
    name: str
    version: str
    status: Status
    reason: str | None
    enabled: bool
    allowed_scopes: tuple[str, ...]
    first_seen: str
    last_seen: str
    event_types: tuple[dict[str, Any], ...] = ()
    relation_types: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """A JSON-serializable dict."""
        data = asdict(self)
        data["allowed_scopes"] = list(self.allowed_scopes)
        data["event_types"] = list(self.event_types)
        data["relation_types"] = list(self.relation_types)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CatalogRow:
        """Read a row written by ``to_json``."""
        return cls(
            **{
                **data,
                "allowed_scopes": tuple(data["allowed_scopes"]),
                "event_types": tuple(data.get("event_types", ())),
                "relation_types": tuple(data.get("relation_types", ())),
            }
        )


def sync_rows(
    rows: Mapping[str, CatalogRow], registry: IntegrationRegistry, now: str
) -> dict[str, CatalogRow]:
    """Upsert every discovered domain; mark vanished ones ``not_found``; never touch admin columns.

    A domain not imported yet keeps the status and declarations its row had (a new one is listed
    as loaded) until its import tells otherwise; the catalog listing imports every one first.
    """
    synced = dict(rows)
    seen: set[str] = set()
    loaded, skipped, pending = registry.resolved()
    # Status None: not imported yet. Loaded and pending domains come first, so a duplicate folder
    # of one (skipped) does not demote it.
    observed: Iterable[tuple[str, IntegrationManifest, Status | None, str | None]] = [
        *((item.domain, item.manifest, "loaded", None) for item in loaded),
        *((candidate.domain, candidate.manifest, None, None) for candidate in pending),
        *(
            (s.domain, s.manifest, "failed", f"{s.reason}: {s.message}")
            for s in skipped
            if s.domain is not None and s.manifest is not None
        ),
    ]
    declared = {
        item.domain: (tuple(event_types(item)), tuple(relation_types(item))) for item in loaded
    }
    for domain, manifest, status, reason in observed:
        if domain in seen:
            continue
        seen.add(domain)
        old = synced.get(domain) or CatalogRow(
            domain, manifest.name, manifest.version, "loaded", None, True, SCOPES, now, now
        )
        row = replace(old, name=manifest.name, version=manifest.version, last_seen=now)
        if status is not None:  # imported: its outcome and what it declares
            events, relations = declared.get(domain, ((), ()))
            row = replace(
                row, status=status, reason=reason, event_types=events, relation_types=relations
            )
        elif row.status == "not_found":
            row = replace(row, status="loaded")
        synced[domain] = row
    for domain, row in rows.items():
        if domain not in seen and row.status != "not_found":
            synced[domain] = replace(row, status="not_found", reason=None)
    return synced


class IntegrationCatalog:
    """The persisted catalog; admins own ``enabled`` and ``allowed_scopes``, discovery the rest."""

    def __init__(self, storage: StorageManager) -> None:
        self._store = storage.store(CATALOG_KEY, CATALOG_VERSION)
        self._rows: dict[str, CatalogRow] = {}
        self._complete = False
        """Whether the rows reflect a discovery with every integration imported."""

    async def load(self) -> None:
        """Read the catalog file, if there is one."""
        data = await self._store.load()
        if data is None:
            return
        try:
            self._rows = {
                domain: CatalogRow.from_json(row) for domain, row in data["integrations"].items()
            }
        except (KeyError, TypeError, ValueError) as err:
            raise StorageError(
                f"{self._store.path} is damaged ({type(err).__name__}: {err}); restore it from a "
                "backup, or move it away to rebuild the catalog (admin settings would be lost)"
            ) from None

    async def sync(self, registry: IntegrationRegistry) -> None:
        """Bring the catalog in line with a discovery and save it."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        synced = sync_rows(self._rows, registry, now)
        try:
            await self._save(synced)
        except DiskFaultError:
            # Discovery is redone at every start, so a full or read-only disk must not stop the
            # hub from starting and serving reads: memory has the catalog, the file follows later.
            self._rows = synced
            self._store.schedule_save(lambda: _payload(self._rows))
        self._complete = registry.complete
        gone = sorted(d for d, row in synced.items() if row.status == "not_found")
        if gone:
            _LOGGER.info("Integrations not found this start (kept in the catalog): %s", gone)

    def complete(self, registry: IntegrationRegistry) -> None:
        """Import what start-up left pending, once, and take each import's outcome; saved soon.

        Blocking while anything is pending: the loop awaits ``registry.load()`` first.
        """
        if self._complete and registry.complete:
            return
        registry.load_all()
        now = datetime.now(UTC).isoformat(timespec="seconds")
        self._rows = sync_rows(self._rows, registry, now)
        self._complete = True
        self._store.schedule_save(lambda: _payload(self._rows))

    def get(self, domain: str) -> CatalogRow | None:
        """The row of ``domain``, if the catalog has one."""
        return self._rows.get(domain)

    def rows(self) -> list[CatalogRow]:
        """Every row, by domain."""
        return [self._rows[domain] for domain in sorted(self._rows)]

    async def set_admin(
        self,
        domain: str,
        *,
        enabled: bool | None = None,
        allowed_scopes: Iterable[str] | None = None,
    ) -> CatalogRow:
        """Change the admin-owned settings of ``domain``."""
        row = self._rows.get(domain)
        if row is None:
            raise NotFoundError(f"no integration {domain!r} in the catalog")
        changes: dict[str, Any] = {}
        if enabled is not None:
            changes["enabled"] = enabled
        if allowed_scopes is not None:
            scopes = tuple(dict.fromkeys(allowed_scopes))
            unknown = [scope for scope in scopes if scope not in SCOPES]
            if unknown:
                raise BadRequestError(f"unknown scope(s) {unknown}; use {', '.join(SCOPES)}")
            changes["allowed_scopes"] = scopes
        updated = replace(row, **changes)
        await self._save({**self._rows, domain: updated})
        return updated

    async def _save(self, rows: dict[str, CatalogRow]) -> None:
        await self._store.save(_payload(rows))
        self._rows = rows


def _payload(rows: dict[str, CatalogRow]) -> dict[str, Any]:
    return {"integrations": {d: rows[d].to_json() for d in sorted(rows)}}
