"""Parsers for /proc and /sys texts: pure functions, so real sample files test them anywhere."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

_KIB: Final = 1024
_CPU_PREFERRED: Final = re.compile(r"cpu|soc|x86_pkg_temp|coretemp|k10temp", re.IGNORECASE)
# Zones that are missing a sensor report 0, -273 or garbage; a real chip is never outside this.
_PLAUSIBLE_CELSIUS: Final = (-40.0, 150.0)


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """Cumulative CPU time since boot from the ``cpu`` line of /proc/stat, in clock ticks."""

    total: int
    idle: int


@dataclass(frozen=True, slots=True)
class Memory:
    """Physical memory in bytes; ``available`` is what new programs could use without swapping."""

    total: int
    available: int

    @property
    def used(self) -> int:
        """Bytes in use: total minus available."""
        return self.total - self.available

    @property
    def percent(self) -> float:
        """The share in use, 0 to 100, one decimal."""
        return round(self.used * 100 / self.total, 1) if self.total else 0.0


@dataclass(frozen=True, slots=True)
class Disk:
    """A file system's size in bytes, as ``df`` counts it (blocks reserved for root excluded)."""

    total: int
    used: int
    free: int

    @property
    def percent(self) -> float:
        """The share in use of what an ordinary user can fill, as ``df`` shows it, one decimal."""
        usable = self.used + self.free
        return round(self.used * 100 / usable, 1) if usable else 0.0


@dataclass(frozen=True, slots=True)
class Temperature:
    """One thermal zone's reading."""

    celsius: float
    zone: str
    sensor: str


def parse_cpu_times(text: str) -> CpuTimes:
    """The aggregate ``cpu`` line of /proc/stat; idle time counts iowait too."""
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            ticks = [int(value) for value in fields[1:]]
            if len(ticks) < 4:
                break
            # user nice system idle iowait irq softirq steal; guest and guest_nice (9 and 10) are
            # already counted in user and nice, so adding them would count that time twice.
            busy_and_idle = ticks[:8]
            idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
            return CpuTimes(total=sum(busy_and_idle), idle=idle)
    raise ValueError("/proc/stat has no aggregate 'cpu' line")


def cpu_usage_percent(before: CpuTimes, after: CpuTimes) -> float | None:
    """The share of CPU time spent busy between two samples, 0 to 100; ``None`` if no time passed."""
    elapsed = after.total - before.total
    if elapsed <= 0:
        return None  # the same sample twice, or a counter reset by a reboot in between
    idle = after.idle - before.idle
    busy = min(max(elapsed - idle, 0), elapsed)
    return round(busy * 100 / elapsed, 1)


def parse_loadavg(text: str) -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages from /proc/loadavg."""
    fields = text.split()
    if len(fields) < 3:
        raise ValueError("/proc/loadavg holds fewer than three load averages")
    return float(fields[0]), float(fields[1]), float(fields[2])


def parse_meminfo(text: str) -> Memory:
    """Total and available memory from /proc/meminfo, in bytes."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[name.strip()] = int(parts[0]) * (_KIB if parts[1:] == ["kB"] else 1)
    if "MemTotal" not in values:
        raise ValueError("/proc/meminfo has no MemTotal line")
    available = values.get("MemAvailable")
    if available is None:
        # Kernels before 3.14 have no MemAvailable; free plus page cache is the old estimate.
        available = sum(values.get(name, 0) for name in ("MemFree", "Buffers", "Cached"))
    return Memory(total=values["MemTotal"], available=min(available, values["MemTotal"]))


def parse_uptime(text: str) -> float:
    """Seconds since boot, the first number in /proc/uptime."""
    fields = text.split()
    if not fields:
        raise ValueError("/proc/uptime is empty")
    return float(fields[0])


def disk_usage(block_size: int, blocks: int, blocks_free: int, blocks_available: int) -> Disk:
    """A ``Disk`` from ``os.statvfs`` figures (``f_frsize``, ``f_blocks``, ``f_bfree``, ``f_bavail``)."""
    return Disk(
        total=blocks * block_size,
        used=(blocks - blocks_free) * block_size,
        free=blocks_available * block_size,
    )


def parse_thermal_millidegrees(text: str) -> float:
    """A thermal zone's ``temp`` file (millidegrees Celsius) in degrees Celsius."""
    return int(text.strip()) / 1000


def pick_cpu_temperature(zones: Iterable[tuple[str, str, str]]) -> Temperature | None:
    """The CPU's temperature from ``(zone, type, temp text)`` triples; ``None`` when none is usable.

    A zone whose type names the CPU or SoC wins (a Raspberry Pi's ``cpu-thermal``, a PC's
    ``x86_pkg_temp``); otherwise the first zone with a plausible reading.
    """
    readings: list[Temperature] = []
    for zone, sensor, text in zones:
        try:
            celsius = parse_thermal_millidegrees(text)
        except ValueError:
            continue
        if _PLAUSIBLE_CELSIUS[0] < celsius < _PLAUSIBLE_CELSIUS[1]:
            readings.append(Temperature(round(celsius, 1), zone, sensor.strip()))
    preferred = [reading for reading in readings if _CPU_PREFERRED.search(reading.sensor)]
    chosen = preferred or readings
    return chosen[0] if chosen else None


def parse_device_model(text: str) -> str | None:
    """The board name from /proc/device-tree/model (NUL-terminated), e.g. ``Raspberry Pi 4 Model B``."""
    model = text.replace("\x00", "").strip()
    return model or None
