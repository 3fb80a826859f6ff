"""System Monitor: the hub's own host (CPU, load, memory, disk, uptime, temperature) as entities."""

from __future__ import annotations

import asyncio

from hub.integrations.entities import EntityStateSyncResult, EntityStateTypeDescriptor
from hub.integrations.integration import HealthResult, Integration, SetupContext

from .entities import ENTITY_TYPES, build_records
from .probe import HostPaths, proc_readable, read_sample
from .readers import CpuTimes


class SystemMonitorIntegration(Integration):
    """Polls the host's /proc and /sys; keeps each entry's last CPU sample to measure usage between syncs."""

    def __init__(self, paths: HostPaths | None = None) -> None:
        """Read the real host, or ``paths`` (sample files) in tests."""
        self.paths = paths or HostPaths()
        self._cpu_samples: dict[str, CpuTimes] = {}

    def entity_types(self) -> dict[str, EntityStateTypeDescriptor]:
        """CPU usage, load averages, memory, disk, uptime and (where the OS exposes it) temperature."""
        return dict(ENTITY_TYPES)

    async def async_unload_entry(self, ctx: SetupContext) -> None:
        """Forget the entry's CPU sample, so a reload measures afresh."""
        self._cpu_samples.pop(ctx.entry_id, None)

    async def async_sync_entities(self, ctx: SetupContext) -> EntityStateSyncResult:
        """Every figure at once; a sensor the host lacks is absent, so its stale entity is removed."""
        previous = self._cpu_samples.get(ctx.entry_id)
        # One thread hop for every read, including the short CPU wait of the first sync.
        sample = await asyncio.to_thread(read_sample, self.paths, previous)
        self._cpu_samples[ctx.entry_id] = sample.cpu_times
        return EntityStateSyncResult(
            records=tuple(build_records(sample)), full=True, entity_types=tuple(ENTITY_TYPES)
        )

    async def async_health(self, ctx: SetupContext) -> HealthResult:
        """OK when /proc can be read; an error (and no pull) on a host without it."""
        problem = await asyncio.to_thread(proc_readable, self.paths)
        return HealthResult(HealthResult.OK) if problem is None else problem


INTEGRATION = SystemMonitorIntegration()
