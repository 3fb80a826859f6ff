"""Pull syncs on a schedule, seed-once entities, and the entry hooks that tie entities to entries."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from hub.config import SchedulerConfig
from hub.core.bus import EventBus
from hub.core.disk import DiskFaultError
from hub.core.errors import (
    ENTRY_NOT_LOADED,
    SYNC_COOLDOWN,
    BadRequestError,
    HubError,
    IntegrationError,
)
from hub.core.redact import SECRETS
from hub.core.scheduler import Scheduler
from hub.entities.service import EntityService
from hub.entities.writer import EntryEvents, EntryWriter
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.entities import EntityStateSyncResult
from hub.integrations.entry import ConfigEntry, EntryHealth, EntryState
from hub.integrations.features import features
from hub.integrations.integration import HealthResult, Integration
from hub.integrations.registry import IntegrationRegistry
from hub.integrations.runtime import HEALTH, INITIAL_ENTITIES, SYNC

_LOGGER = logging.getLogger(__name__)

JOB_PREFIX: Final = "sync:"


class EntryNotLoadedError(HubError):
    """The entry is not set up, so it cannot sync or act."""

    code = ENTRY_NOT_LOADED
    http_status = 409


class SyncCooldownError(HubError):
    """An on-demand sync of this entry ran moments ago; ``retry_after`` says when the next may."""

    code = SYNC_COOLDOWN
    http_status = 429

    def __init__(self, entry_id: str, *, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        # The sentence says how long in every language, so its number is a param.
        super().__init__(
            f"entry {entry_id} synced moments ago; try again in {seconds} s", seconds=seconds
        )
        self.retry_after = retry_after
        self.seconds = seconds
        """Whole seconds until the next sync may run, as ``Retry-After`` says it."""


def job_name(entry_id: str) -> str:
    """The scheduler job of an entry's pull sync; it names the entry, never a secret."""
    return f"{JOB_PREFIX}{entry_id}"


def pulls(integration: Integration) -> bool:
    """Whether the integration pulls: it declares entity types and overrides the sync hook."""
    return features(integration).pulls


class SyncManager:
    """Schedules each pulling entry's sync, runs it (health first), and records how it went."""

    def __init__(
        self,
        entries: ConfigEntries,
        service: EntityService,
        scheduler: Scheduler,
        registry: IntegrationRegistry,
        bus: EventBus,
        config: SchedulerConfig,
    ) -> None:
        self._entries = entries
        self._service = service
        self._scheduler = scheduler
        self._registry = registry
        self._bus = bus
        self._config = config
        self._disk_faults: dict[str, DiskFaultError] = {}  # a sync's refused write, for sync_now
        self._on_demand: dict[str, float] = {}  # monotonic start of each entry's last sync_now

    def attach(self) -> None:
        """Hook into the entries' lifecycle; call once, before entries are set up."""
        self._entries.context_extras = self._extras
        self._entries.after_setup.append(self._after_setup)
        self._entries.before_unload.append(self._before_unload)
        self._entries.on_remove.append(self._on_remove)

    def interval(self, entry: ConfigEntry, integration: Integration) -> int:
        """Seconds between syncs: the entry's own setting, else the default for its iot class."""
        own = entry.sync_interval
        if own is not None and own > 0:
            return own
        return int(getattr(self._config.sync_intervals, integration.manifest.iot_class))

    async def set_interval(self, entry_id: str, seconds: int | None) -> int:
        """Override (or, with ``None``, reset) an entry's sync interval and reschedule it."""
        entry = await self._entries.set_settings(entry_id, sync_interval=seconds)  # durable
        loaded = self._registry.get(entry.domain)
        if loaded is None:
            raise EntryNotLoadedError(f"{entry.domain} is not loaded")
        if self._scheduler.has_job(job_name(entry_id)):
            self._schedule(entry, loaded.integration, run_now=False)
        return self.interval(entry, loaded.integration)

    def pulls(self, entry_id: str) -> bool:
        """Whether the entry's entities are pulled on a schedule (it is set up and its integration pulls)."""
        return self._scheduler.has_job(job_name(entry_id))

    async def sync_now(self, entry_id: str, *, cooldown: bool = True) -> dict[str, Any]:
        """Run an entry's sync at once (never overlapping a scheduled one) and return its record.

        With ``cooldown``, a second on-demand sync of the entry within ``sync_cooldown_seconds``
        of the last one's start is refused (``SyncCooldownError``): each sync spends the entry's
        credentials upstream, so nobody may turn a button into a flood. Scheduled syncs never wait.
        """
        entry = self._entries.require(entry_id)
        name = job_name(entry_id)
        if entry.state is not EntryState.LOADED:
            raise EntryNotLoadedError(f"entry {entry_id} ({entry.domain}) is not loaded")
        if not self._scheduler.has_job(name):
            raise BadRequestError(
                f"{entry.domain} does not pull entities; there is nothing to sync"
            )
        now = time.monotonic()
        wait = self._on_demand.get(entry_id, -math.inf) + self._config.sync_cooldown_seconds - now
        if cooldown and wait > 0:
            raise SyncCooldownError(entry_id, retry_after=wait)
        self._on_demand[entry_id] = now
        await self._scheduler.run_job_now(name)
        fault = self._disk_faults.pop(entry_id, None)
        if fault is not None:
            raise fault  # the person asked for this sync: they hear why it could not be stored
        return dict(self._entries.require(entry_id).last_sync or {})  # as this sync left it

    async def sync(self, entry_id: str) -> None:
        """One pull: health, then ``async_sync_entities``, then the apply path; recorded on the entry."""
        entry = self._entries.get(entry_id)
        loaded = self._registry.get(entry.domain) if entry else None
        if entry is None or loaded is None or entry.state is not EntryState.LOADED:
            return
        self._disk_faults.pop(entry_id, None)  # only the latest run's fault is reported
        started, clock = time.time(), time.perf_counter()
        record: dict[str, Any] = {"at": _iso(started)}
        runtime = self._entries.runtime(entry_id)
        if runtime is None:
            return
        timeout = self._config.job_timeout_seconds
        try:
            async with asyncio.timeout(timeout) as deadline:
                # One deadline for health and pull together: each call is told what remains.
                health = await runtime.call(HEALTH, timeout=_left(deadline, timeout))
                if health is not None:
                    self._entries.note(entry_id, health=entry_health(health))
                if health is not None and health.status == HealthResult.ERROR:
                    record["skipped"] = f"health is error: {health.detail}"
                else:
                    result = await runtime.call(SYNC, timeout=_left(deadline, timeout))
                    if result is not None:
                        outcome = await self._service.apply(entry_id, entry.domain, result)
                        record.update(outcome.counts())
        except IntegrationError as err:  # the runtime logged it (and asked for reauth if refused)
            record["error"] = err.reason
        except TimeoutError:  # the apply path itself outlasted the deadline
            record["error"] = f"timed out after {timeout:g} s"
            _LOGGER.warning("Sync of %s (%s) timed out after %g s", entry_id, entry.domain, timeout)
        except DiskFaultError as err:  # the hub's disk, not the integration; logged by the database
            record["error"] = err.message
            self._disk_faults[entry_id] = err
        record["duration_ms"] = round((time.perf_counter() - clock) * 1000, 1)
        self._entries.note(entry_id, last_sync=record)
        _LOGGER.debug("Sync of %s (%s): %s", entry_id, entry.domain, record)

    # Entry hooks

    def _extras(self, entry: ConfigEntry) -> Mapping[str, Any]:
        loaded = self._registry.get(entry.domain)
        if loaded is None:
            return {}
        integration = loaded.integration
        return {
            "writer": EntryWriter(self._service, entry.entry_id, entry.domain),
            "events": EntryEvents(
                self._bus, entry.entry_id, entry.domain, lambda: set(integration.event_types())
            ),
        }

    async def _after_setup(self, entry: ConfigEntry, integration: Integration) -> None:
        runtime = self._entries.runtime(entry.entry_id)
        if runtime is not None and not entry.entities_seeded:
            records = await runtime.call(INITIAL_ENTITIES, timeout=self._config.job_timeout_seconds)
            # The flag is saved lazily, so after a crash the seed can run again: it then creates
            # only what is missing and never resets a state an acknowledged action has set since.
            missing = [
                record
                for record in records or ()
                if await self._service.find(entry.entry_id, record.entity_type, record.external_id)
                is None
            ]
            if missing:
                result = EntityStateSyncResult(records=tuple(missing), full=False)
                await self._service.apply(entry.entry_id, entry.domain, result)
            self._entries.note(entry.entry_id, entities_seeded=True)
        if pulls(integration):
            self._schedule(entry, integration, run_now=True)

    async def _before_unload(self, entry: ConfigEntry) -> None:
        self._scheduler.remove_job(job_name(entry.entry_id))

    async def _on_remove(self, entry: ConfigEntry) -> None:
        self._on_demand.pop(entry.entry_id, None)
        removed = await self._service.remove_entry(entry.entry_id)
        _LOGGER.info("Removed %d entities of %s (%s)", removed, entry.entry_id, entry.domain)

    def _schedule(self, entry: ConfigEntry, integration: Integration, *, run_now: bool) -> None:
        entry_id = entry.entry_id

        async def run() -> None:
            await self.sync(entry_id)

        self._scheduler.add_interval_job(
            job_name(entry_id),
            run,
            seconds=self.interval(entry, integration),
            jitter=self._config.jitter_seconds or None,
            # The sync bounds itself to record the timeout on the entry; this is the backstop.
            timeout=self._config.job_timeout_seconds + 5,
            run_immediately=run_now,
        )


def entry_health(health: HealthResult) -> EntryHealth:
    """An integration's health answer as the entry keeps it (detail and params redacted)."""
    # The detail is the integration's text, often an upstream's answer, which may echo a credential.
    detail = SECRETS.redact(health.detail)
    params = {
        name: SECRETS.redact(value) if isinstance(value, str) else value
        for name, value in health.params.items()
    }
    return EntryHealth(
        status=health.status,
        detail=detail,
        checked_at=_iso(time.time()),
        key=health.key,
        params=params,
    )


def _left(deadline: asyncio.Timeout, timeout: float) -> float:
    when = deadline.when()
    # A hair past what remains: the sync's own deadline then fires first and names the whole budget.
    return timeout if when is None else max(0.0, when - asyncio.get_running_loop().time()) + 0.01


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
