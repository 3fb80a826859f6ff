"""The current conditions and the next day's forecast as entities, with units and classes."""

from __future__ import annotations

from typing import Any, Final

from hub.integrations.entities import DeviceInfo, EntityStateRecord, EntityStateTypeDescriptor
from hub.integrations.manifest import FieldDescriptor

from .client import Forecast, Hour
from .conditions import condition

TEMPERATURE: Final = "temperature"
HUMIDITY: Final = "humidity"
WIND_SPEED: Final = "wind_speed"
PRECIPITATION: Final = "precipitation"
CONDITION: Final = "condition"
FORECAST: Final = "forecast"
CURRENT_ID: Final = "current"
FORECAST_ID: Final = "next_24h"
FORECAST_HOURS: Final = 24

CELSIUS: Final = "°C"
KMH: Final = "km/h"
MM: Final = "mm"
PERCENT: Final = "%"

# The English here is the fallback: GET /api/entity-types shows a person the words of
# translations/<lang>.json under "entity.<key>" (names, attribute and state labels).
ENTITY_TYPES: Final = {
    descriptor.key: descriptor
    for descriptor in (
        EntityStateTypeDescriptor(
            key=TEMPERATURE,
            name="Temperature",
            device_class="temperature",
            state_class="measurement",
            unit=CELSIUS,
            attributes=(
                FieldDescriptor(name="apparent_temperature", label="Feels like", type="number"),
            ),
        ),
        EntityStateTypeDescriptor(
            key=HUMIDITY,
            name="Humidity",
            device_class="humidity",
            state_class="measurement",
            unit=PERCENT,
        ),
        EntityStateTypeDescriptor(
            key=WIND_SPEED,
            name="Wind speed",
            device_class="wind_speed",
            state_class="measurement",
            unit=KMH,
            attributes=(
                FieldDescriptor(name="wind_direction", label="Direction (°)", type="number"),
                FieldDescriptor(name="wind_gusts", label="Gusts (km/h)", type="number"),
            ),
        ),
        EntityStateTypeDescriptor(
            key=PRECIPITATION,
            name="Precipitation",
            device_class="precipitation",
            state_class="measurement",
            unit=MM,
        ),
        EntityStateTypeDescriptor(
            key=CONDITION,
            name="Conditions",
            device_class="enum",
            attributes=(
                FieldDescriptor(name="weather_code", label="WMO weather code", type="number"),
                FieldDescriptor(name="is_day", label="Daylight", type="bool"),
                FieldDescriptor(name="observed_at", label="Observed"),
                FieldDescriptor(name="latitude", label="Latitude", type="number"),
                FieldDescriptor(name="longitude", label="Longitude", type="number"),
                FieldDescriptor(name="time_zone", label="Time zone"),
            ),
        ),
        EntityStateTypeDescriptor(
            key=FORECAST,
            name="Forecast (next 24 hours)",
            device_class="temperature",
            unit=CELSIUS,
            attributes=(
                FieldDescriptor(name="low", label="Low (°C)", type="number"),
                FieldDescriptor(name="condition", label="Mostly"),
                FieldDescriptor(name="precipitation_total", label="Precipitation (mm)"),
                FieldDescriptor(name="precipitation_probability_max", label="Chance of rain (%)"),
                FieldDescriptor(name="hours", label="Hours"),
            ),
        ),
    )
}
TYPE_KEYS: Final = tuple(ENTITY_TYPES)


def records(forecast: Forecast, place: str) -> tuple[EntityStateRecord, ...]:
    """The six entities of one forecast, on one device: the place."""
    device = DeviceInfo(identifier="place", name=place, manufacturer="Open-Meteo")
    now = forecast.current

    def record(key: str, state: Any, **attributes: Any) -> EntityStateRecord:
        external_id = FORECAST_ID if key == FORECAST else CURRENT_ID
        return EntityStateRecord(
            entity_type=key,
            external_id=external_id,
            name=ENTITY_TYPES[key].name,
            state=state,
            attributes=attributes,
            device=device,
        )

    hours = forecast.hours[:FORECAST_HOURS]
    return (
        record(TEMPERATURE, now.temperature, apparent_temperature=now.apparent_temperature),
        record(HUMIDITY, now.humidity),
        record(
            WIND_SPEED, now.wind_speed, wind_direction=now.wind_direction, wind_gusts=now.wind_gusts
        ),
        record(PRECIPITATION, now.precipitation),
        record(
            CONDITION,
            condition(now.weather_code),
            weather_code=now.weather_code,
            is_day=now.is_day,
            observed_at=now.time,
            latitude=forecast.latitude,
            longitude=forecast.longitude,
            time_zone=forecast.time_zone,
        ),
        _forecast_record(record, hours),
    )


def _forecast_record(record: Any, hours: tuple[Hour, ...]) -> EntityStateRecord:
    temperatures = [hour.temperature for hour in hours if hour.temperature is not None]
    amounts = [hour.precipitation for hour in hours if hour.precipitation is not None]
    chances = [
        hour.precipitation_probability
        for hour in hours
        if hour.precipitation_probability is not None
    ]
    codes = [hour.weather_code for hour in hours if hour.weather_code is not None]
    result: EntityStateRecord = record(
        FORECAST,
        max(temperatures) if temperatures else None,
        low=min(temperatures) if temperatures else None,
        # The worst weather of the period is what a person plans around.
        condition=condition(max(codes)) if codes else condition(None),
        precipitation_total=round(sum(amounts), 1) if amounts else None,
        precipitation_probability_max=max(chances) if chances else None,
        hours=[hour_view(hour) for hour in hours],
    )
    return result


def hour_view(hour: Hour) -> dict[str, Any]:
    """One hour as the forecast entity and the weather tool show it."""
    return {
        "time": hour.time,
        "temperature": hour.temperature,
        "precipitation_probability": hour.precipitation_probability,
        "precipitation": hour.precipitation,
        "weather_code": hour.weather_code,
        "condition": condition(hour.weather_code),
        "wind_speed": hour.wind_speed,
    }
