"""The bundled System Monitor: its readers over real sample texts, a fake Pi, and this machine over HTTP."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from hub.integrations.integration import HealthResult, SetupContext
from integrations.system_monitor import SystemMonitorIntegration
from integrations.system_monitor.entities import ENTITY_TYPES
from integrations.system_monitor.probe import HostPaths, read_sample
from integrations.system_monitor.readers import (
    CpuTimes,
    Memory,
    cpu_usage_percent,
    disk_usage,
    parse_cpu_times,
    parse_device_model,
    parse_loadavg,
    parse_meminfo,
    parse_uptime,
    pick_cpu_temperature,
)
from tests.bundled.conftest import BundledHub, translations

# Taken from a Raspberry Pi 4 Model B (4 GB) running Raspberry Pi OS.
PI_STAT = """\
cpu  1079343 2076 306532 52993457 37297 0 6316 0 0 0
cpu0 273151 507 78722 13238870 9462 0 4893 0 0 0
cpu1 268104 535 75512 13252785 9250 0 505 0 0 0
cpu2 269338 524 76143 13250776 9384 0 468 0 0 0
cpu3 268749 508 76154 13251024 9200 0 448 0 0 0
intr 356208342 0 7941818 0 0 0 0 0 0 0 0
ctxt 609466781
btime 1714470111
processes 601263
procs_running 1
procs_blocked 0
softirq 130734431 19 28733093 63 2049893 0 0 52224 36416717 0 63482422
"""
PI_LOADAVG = "0.52 0.34 0.27 1/312 30012\n"
PI_UPTIME = "136021.87 529012.23\n"
PI_MEMINFO = """\
MemTotal:        3885396 kB
MemFree:         1906344 kB
MemAvailable:    3123412 kB
Buffers:          109880 kB
Cached:          1149376 kB
SwapCached:            0 kB
Active:           780344 kB
Inactive:         970576 kB
SwapTotal:        102396 kB
SwapFree:         102396 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
"""
PI_MODEL = "Raspberry Pi 4 Model B Rev 1.4\x00"

# A 3.10 kernel (before MemAvailable existed) and a PC with a package sensor and a broken zone.
OLD_MEMINFO = "MemTotal: 1000 kB\nMemFree: 200 kB\nBuffers: 100 kB\nCached: 300 kB\n"
PC_ZONES = [
    ("thermal_zone0", "acpitz\n", "27800\n"),
    ("thermal_zone1", "INT3400 Thermal\n", "20000\n"),
    ("thermal_zone2", "pch_cannonlake\n", "-273200\n"),
    ("thermal_zone3", "x86_pkg_temp\n", "48000\n"),
]


def write_host(root: Path, *, stat: str = PI_STAT, pi: bool = True) -> HostPaths:
    """A fake /proc and /sys under ``root``: a Raspberry Pi, or a board with no sensor or model."""
    proc, sys_dir = root / "proc", root / "sys"
    (proc / "device-tree").mkdir(parents=True, exist_ok=True)
    (proc / "stat").write_text(stat)
    (proc / "loadavg").write_text(PI_LOADAVG)
    (proc / "uptime").write_text(PI_UPTIME)
    (proc / "meminfo").write_text(PI_MEMINFO)
    zone = sys_dir / "class" / "thermal" / "thermal_zone0"
    zone.mkdir(parents=True, exist_ok=True)
    if pi:
        (proc / "device-tree" / "model").write_bytes(PI_MODEL.encode())
        (zone / "type").write_text("cpu-thermal\n")
        (zone / "temp").write_text("47236\n")
    return HostPaths(proc=proc, sys=sys_dir, disk=root)


def proc_text(name: str) -> str:
    """A file of this machine's real /proc."""
    return (Path("/proc") / name).read_text()


def shifted(stat: str, busy: int, idle: int) -> str:
    """``stat`` a moment later: ``busy`` more user ticks and ``idle`` more idle ticks."""
    head, _, rest = stat.partition("\n")
    fields = head.split()
    fields[1] = str(int(fields[1]) + busy)
    fields[4] = str(int(fields[4]) + idle)
    return " ".join(fields) + "\n" + rest


# The readers, over sample texts


def test_cpu_usage_is_the_busy_share_between_two_samples() -> None:
    before = parse_cpu_times(PI_STAT)
    assert before == CpuTimes(total=54425021, idle=53030754), "guest time is not counted twice"
    after = parse_cpu_times(shifted(PI_STAT, busy=30, idle=70))
    assert cpu_usage_percent(before, after) == 30.0
    assert cpu_usage_percent(after, after) is None, "no time passed: unknown, not 0 %"
    assert cpu_usage_percent(after, before) is None, "counters reset by a reboot"
    with pytest.raises(ValueError, match="no aggregate 'cpu' line"):
        parse_cpu_times("intr 1 2 3\n")


def test_load_uptime_and_the_boards_model() -> None:
    assert parse_loadavg(PI_LOADAVG) == (0.52, 0.34, 0.27)
    assert parse_uptime(PI_UPTIME) == 136021.87
    assert parse_device_model(PI_MODEL) == "Raspberry Pi 4 Model B Rev 1.4"
    assert parse_device_model("\x00") is None
    with pytest.raises(ValueError, match="fewer than three"):
        parse_loadavg("0.5\n")


def test_memory_in_bytes_with_the_old_kernels_estimate() -> None:
    memory = parse_meminfo(PI_MEMINFO)
    assert memory == Memory(total=3885396 * 1024, available=3123412 * 1024)
    assert memory.percent == 19.6
    assert memory.used == (3885396 - 3123412) * 1024
    old = parse_meminfo(OLD_MEMINFO)
    assert old.available == 600 * 1024, "MemFree + Buffers + Cached"
    assert old.percent == 40.0
    with pytest.raises(ValueError, match="no MemTotal"):
        parse_meminfo("MemFree: 1 kB\n")


def test_disk_usage_counts_like_df() -> None:
    # A 32 GB SD card: 4 KiB blocks, 5 % reserved for root.
    disk = disk_usage(4096, 7_500_000, 3_000_000, 2_625_000)
    assert disk.total == 7_500_000 * 4096
    assert disk.used == 4_500_000 * 4096
    assert disk.free == 2_625_000 * 4096
    assert disk.percent == 63.2, "used / (used + available), as df shows it"


def test_the_cpu_sensor_is_preferred_and_broken_zones_are_skipped() -> None:
    reading = pick_cpu_temperature(PC_ZONES)
    assert reading is not None
    assert (reading.celsius, reading.zone, reading.sensor) == (
        48.0,
        "thermal_zone3",
        "x86_pkg_temp",
    )
    first = pick_cpu_temperature(PC_ZONES[:3])
    assert first is not None
    assert first.sensor == "acpitz", "no CPU sensor: the first plausible zone"
    assert pick_cpu_temperature([("thermal_zone0", "x", "-273200"), ("z1", "y", "oops")]) is None
    assert pick_cpu_temperature([]) is None


def test_this_machines_proc_can_be_read() -> None:
    sample = read_sample(HostPaths(), previous=None)
    assert sample.cpu_percent is None or 0 <= sample.cpu_percent <= 100
    assert sample.memory.total > 0
    assert 0 < sample.memory.percent < 100
    assert sample.uptime_seconds > 0
    assert sample.disk.total > 0
    assert sample.host.hostname == socket.gethostname()
    assert len(sample.load) == 3
    assert all(value >= 0 for value in sample.load)


# The integration, over a fake Raspberry Pi


async def test_a_raspberry_pi_reports_every_sensor_under_one_device(tmp_path: Path) -> None:
    paths = write_host(tmp_path)
    monitor = SystemMonitorIntegration(paths)
    ctx = SetupContext(entry_id="e1", domain="system_monitor")
    first = await monitor.async_sync_entities(ctx)
    assert first.full is True
    assert set(first.entity_types) == set(ENTITY_TYPES)
    states = {record.entity_type: record.state for record in first.records}
    assert states == {
        "cpu_usage": None,  # the file did not change during the short first sample
        "load_1m": 0.52,
        "load_5m": 0.34,
        "load_15m": 0.27,
        "memory_usage": 19.6,
        "disk_usage": states["disk_usage"],
        "uptime": 136021,
        "cpu_temperature": 47.2,
    }
    devices = {record.device for record in first.records}
    assert len(devices) == 1
    [device] = devices
    assert device is not None
    assert device.identifier == socket.gethostname()
    assert device.model == "Raspberry Pi 4 Model B Rev 1.4"
    memory = next(r for r in first.records if r.entity_type == "memory_usage")
    assert memory.attributes["total_bytes"] == 3885396 * 1024
    assert memory.attributes["available_bytes"] == 3123412 * 1024
    temperature = next(r for r in first.records if r.entity_type == "cpu_temperature")
    assert temperature.attributes == {"zone": "thermal_zone0", "sensor": "cpu-thermal"}

    # The next sync measures CPU usage since the previous one, kept for this entry.
    (paths.proc / "stat").write_text(shifted(PI_STAT, busy=250, idle=750))
    second = await monitor.async_sync_entities(ctx)
    cpu = next(r for r in second.records if r.entity_type == "cpu_usage")
    assert cpu.state == 25.0
    assert ENTITY_TYPES["cpu_usage"].unit == "%"


async def test_a_host_without_a_sensor_drops_the_temperature_entity(tmp_path: Path) -> None:
    monitor = SystemMonitorIntegration(write_host(tmp_path, pi=False))
    result = await monitor.async_sync_entities(SetupContext(entry_id="e1", domain="system_monitor"))
    types = {record.entity_type for record in result.records}
    assert "cpu_temperature" not in types
    assert "cpu_temperature" in result.entity_types, "a full sync removes a stale reading"
    [device] = {record.device for record in result.records}
    assert device is not None
    assert device.model, "no device tree: the platform names the machine"


async def test_health_is_an_error_without_proc(tmp_path: Path) -> None:
    ctx = SetupContext(entry_id="e1", domain="system_monitor")
    ok = await SystemMonitorIntegration(write_host(tmp_path)).async_health(ctx)
    assert ok == HealthResult(HealthResult.OK)
    missing = HostPaths(proc=tmp_path / "nowhere", sys=tmp_path, disk=tmp_path)
    broken = await SystemMonitorIntegration(missing).async_health(ctx)
    assert broken.status == HealthResult.ERROR
    assert str(tmp_path / "nowhere" / "stat") in broken.detail
    assert "needs Linux" in broken.detail
    # The sentence a person reads is the integration's own, in their language.
    assert broken.key == "health.proc_unreadable"
    assert broken.params["path"] == str(tmp_path / "nowhere" / "stat")
    assert "health" in translations("system_monitor", "de")


def test_every_entity_type_has_its_wording() -> None:
    english = translations("system_monitor", "en")
    german = translations("system_monitor", "de")
    assert german["entity"].keys() == english["entity"].keys() == ENTITY_TYPES.keys()
    for key, descriptor in ENTITY_TYPES.items():
        assert english["entity"][key]["name"] == descriptor.name


# This machine, through the real hub


async def test_adding_it_takes_no_form_and_a_sync_shows_this_machine(hub: BundledHub) -> None:
    done = await hub.start_flow("system_monitor")
    assert done["type"] == "create_entry"
    entry_id = done["entry_id"]
    status, answer = await hub.post(f"/api/config-entries/{entry_id}/sync")
    assert status == 200, answer
    assert "error" not in answer["sync"], answer["sync"]
    assert "skipped" not in answer["sync"]

    entities = {e["entity_type"]: e for e in await hub.entities(entry_id=entry_id)}
    expected = set(ENTITY_TYPES)
    if read_sample(HostPaths(), previous=CpuTimes(0, 0)).temperature is None:
        expected.discard("cpu_temperature")  # this machine exposes no thermal zone
    assert set(entities) == expected
    assert len({e["device_id"] for e in entities.values()}) == 1
    assert None not in {e["device_id"] for e in entities.values()}

    cpu = entities["cpu_usage"]
    assert (cpu["unit"], cpu["state_class"]) == ("%", "measurement")
    assert cpu["state"] is not None, "the sync after setup measures against the one before"
    assert 0 <= cpu["state"] <= 100
    uptime = entities["uptime"]
    assert (uptime["device_class"], uptime["unit"]) == ("duration", "s")
    real_uptime = parse_uptime(proc_text("uptime"))
    assert abs(uptime["state"] - real_uptime) < 120
    memory = entities["memory_usage"]
    real_memory = parse_meminfo(proc_text("meminfo"))
    assert memory["attributes"]["total_bytes"] == real_memory.total
    assert 0 < memory["state"] < 100
    disk = entities["disk_usage"]
    assert disk["attributes"]["path"] == "/"
    assert 0 <= disk["state"] <= 100
    assert all(not e["actions"] for e in entities.values()), "sensors have no controls"

    _, entry = await hub.get(f"/api/config-entries/{entry_id}")
    assert entry["title"] == "System Monitor"


async def test_only_one_system_monitor(hub: BundledHub) -> None:
    first = await hub.start_flow("system_monitor")
    assert first["type"] == "create_entry"
    second = await hub.start_flow("system_monitor")
    assert second["type"] == "abort"
    assert second["reason"] == "already_configured"
    assert second["description"] == "System Monitor is already set up."
