"""The host's sensors as entity types, and one sample turned into their records."""

from __future__ import annotations

from typing import Final

from hub.integrations.entities import DeviceInfo, EntityStateRecord, EntityStateTypeDescriptor
from hub.integrations.manifest import FieldDescriptor

from .probe import HostSample

PERCENT: Final = "%"

_BYTES = {"total_bytes": "Total", "used_bytes": "Used"}


def _byte_fields(extra: dict[str, str]) -> tuple[FieldDescriptor, ...]:
    return tuple(
        FieldDescriptor(name=name, label=label, type="number")
        for name, label in {**_BYTES, **extra}.items()
    )


def _load(minutes: int) -> EntityStateTypeDescriptor:
    return EntityStateTypeDescriptor(
        key=f"load_{minutes}m",
        name=f"Load average ({minutes} min)",
        state_class="measurement",
    )


# The English here is the fallback: GET /api/entity-types shows a person the words of
# translations/<lang>.json under "entity.<key>" (names, attribute labels).
ENTITY_TYPES: Final = {
    descriptor.key: descriptor
    for descriptor in (
        EntityStateTypeDescriptor(
            key="cpu_usage", name="CPU usage", state_class="measurement", unit=PERCENT
        ),
        _load(1),
        _load(5),
        _load(15),
        EntityStateTypeDescriptor(
            key="memory_usage",
            name="Memory usage",
            state_class="measurement",
            unit=PERCENT,
            attributes=_byte_fields({"available_bytes": "Available"}),
        ),
        EntityStateTypeDescriptor(
            key="disk_usage",
            name="Disk usage",
            state_class="measurement",
            unit=PERCENT,
            attributes=(
                FieldDescriptor(name="path", label="Mount point"),
                *_byte_fields({"free_bytes": "Free"}),
            ),
        ),
        EntityStateTypeDescriptor(
            key="uptime",
            name="Uptime",
            device_class="duration",
            # It only grows, and drops to zero on a reboot: the shape of total_increasing.
            state_class="total_increasing",
            unit="s",
        ),
        EntityStateTypeDescriptor(
            key="cpu_temperature",
            name="CPU temperature",
            device_class="temperature",
            state_class="measurement",
            unit="°C",
            attributes=(
                FieldDescriptor(name="zone", label="Thermal zone"),
                FieldDescriptor(name="sensor", label="Sensor"),
            ),
        ),
    )
}


def device_of(sample: HostSample) -> DeviceInfo:
    """The host as the one device every record belongs to, identified by its hostname."""
    host = sample.host
    return DeviceInfo(
        identifier=host.hostname, name=host.hostname, model=host.model, sw_version=host.sw_version
    )


def build_records(sample: HostSample) -> list[EntityStateRecord]:
    """One record per entity type the host supports; a type it cannot measure is left out."""
    device = device_of(sample)

    def record(key: str, state: float | int | None, **attributes: object) -> EntityStateRecord:
        return EntityStateRecord(
            entity_type=key,
            external_id=key,
            name=ENTITY_TYPES[key].name,
            state=state,
            attributes=attributes,
            device=device,
        )

    memory, disk = sample.memory, sample.disk
    records = [
        record("cpu_usage", sample.cpu_percent),
        record("load_1m", sample.load[0]),
        record("load_5m", sample.load[1]),
        record("load_15m", sample.load[2]),
        record(
            "memory_usage",
            memory.percent,
            total_bytes=memory.total,
            used_bytes=memory.used,
            available_bytes=memory.available,
        ),
        record(
            "disk_usage",
            disk.percent,
            path=sample.disk_path,
            total_bytes=disk.total,
            used_bytes=disk.used,
            free_bytes=disk.free,
        ),
        record("uptime", int(sample.uptime_seconds)),
    ]
    temperature = sample.temperature
    if temperature is not None:
        records.append(
            record(
                "cpu_temperature",
                temperature.celsius,
                zone=temperature.zone,
                sensor=temperature.sensor,
            )
        )
    return records
