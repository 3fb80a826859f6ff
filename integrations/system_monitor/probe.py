"""The one blocking read of the host: every file the monitor needs, in a single worker-thread call."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from hub.integrations.integration import HealthResult

from .readers import (
    CpuTimes,
    Disk,
    Memory,
    Temperature,
    cpu_usage_percent,
    disk_usage,
    parse_cpu_times,
    parse_device_model,
    parse_loadavg,
    parse_meminfo,
    parse_uptime,
    pick_cpu_temperature,
)

FIRST_SAMPLE_SECONDS: Final = 0.1
"""With no usable earlier sample, CPU usage is measured over this short wait (in the worker thread)."""
MIN_CPU_TICKS: Final = 10
"""Clock ticks (1/100 s of one CPU each) an earlier sample must lie back to measure against it."""


@dataclass(frozen=True, slots=True)
class HostPaths:
    """Where the host's figures are read; tests point these at sample files."""

    proc: Path = Path("/proc")
    sys: Path = Path("/sys")
    disk: Path = Path("/")


@dataclass(frozen=True, slots=True)
class HostInfo:
    """What identifies the machine: its hostname, board or platform, and kernel."""

    hostname: str
    model: str
    sw_version: str


@dataclass(frozen=True, slots=True)
class HostSample:
    """One reading of every figure; ``cpu_times`` is kept for the next sample's CPU usage."""

    host: HostInfo
    cpu_times: CpuTimes
    cpu_percent: float | None
    load: tuple[float, float, float]
    memory: Memory
    disk: Disk
    disk_path: str
    uptime_seconds: float
    temperature: Temperature | None = None


def read_sample(paths: HostPaths, previous: CpuTimes | None) -> HostSample:
    """Read the host now; CPU usage is measured since ``previous`` (or over a short wait without one).

    Blocking: call it through ``asyncio.to_thread``. A missing or garbled core file raises
    ``OSError`` or ``ValueError``; a missing temperature sensor is not an error.
    """
    stat = paths.proc / "stat"
    cpu_times = parse_cpu_times(stat.read_text())
    if previous is None or cpu_times.total - previous.total < MIN_CPU_TICKS:
        # No earlier sample, or one so recent (a sync on demand right after another) that the
        # share would be noise or undefined: measure over a short wait instead.
        previous = cpu_times
        time.sleep(FIRST_SAMPLE_SECONDS)
        cpu_times = parse_cpu_times(stat.read_text())
    vfs = os.statvfs(paths.disk)
    return HostSample(
        host=read_host_info(paths),
        cpu_times=cpu_times,
        cpu_percent=cpu_usage_percent(previous, cpu_times),
        load=parse_loadavg((paths.proc / "loadavg").read_text()),
        memory=parse_meminfo((paths.proc / "meminfo").read_text()),
        disk=disk_usage(vfs.f_frsize, vfs.f_blocks, vfs.f_bfree, vfs.f_bavail),
        disk_path=str(paths.disk),
        uptime_seconds=parse_uptime((paths.proc / "uptime").read_text()),
        temperature=pick_cpu_temperature(_thermal_zones(paths.sys)),
    )


def read_host_info(paths: HostPaths) -> HostInfo:
    """Hostname, the board's model (device tree) or else the platform, and the kernel release."""
    model = None
    # Only device-tree boards (a Raspberry Pi) have this file; on a PC or VM the platform says it.
    with contextlib.suppress(OSError, UnicodeDecodeError):
        model = parse_device_model((paths.proc / "device-tree" / "model").read_text("utf-8"))
    uname = platform.uname()
    return HostInfo(
        hostname=socket.gethostname() or uname.node or "localhost",
        model=model or f"{uname.system} {uname.machine}".strip() or "Unknown",
        sw_version=f"{uname.system} {uname.release}".strip(),
    )


def proc_readable(paths: HostPaths) -> HealthResult | None:
    """``None`` when /proc can be read, else the error health that says why not."""
    stat = paths.proc / "stat"
    try:
        parse_cpu_times(stat.read_text())
    except OSError as err:
        reason = err.strerror or type(err).__name__
        return HealthResult(
            HealthResult.ERROR,
            f"cannot read {stat} ({reason}); this needs Linux",
            key="health.proc_unreadable",
            params={"path": str(stat), "reason": reason},
        )
    except ValueError as err:
        return HealthResult(
            HealthResult.ERROR,
            f"cannot use {stat}: {err}",
            key="health.proc_unusable",
            params={"path": str(stat), "reason": str(err)},
        )
    return None


def _thermal_zones(sys_root: Path) -> list[tuple[str, str, str]]:
    zones: list[tuple[str, str, str]] = []
    folders = (sys_root / "class" / "thermal").glob("thermal_zone*")
    for folder in sorted(folders, key=_zone_number):
        try:
            # Some zones exist but fail to read (EIO, ENODATA) until their driver wakes up.
            text = (folder / "temp").read_text()
        except OSError:
            continue
        try:
            sensor = (folder / "type").read_text()
        except OSError:
            sensor = ""
        zones.append((folder.name, sensor, text))
    return zones


def _zone_number(folder: Path) -> tuple[int, str]:
    # thermal_zone10 comes after thermal_zone2, as the kernel numbers them.
    suffix = folder.name.removeprefix("thermal_zone")
    return (int(suffix) if suffix.isdigit() else 1 << 30, folder.name)
