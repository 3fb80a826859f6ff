"""Open-Meteo: the weather at the hub's home (or any place) as entities, and the agent's weather tool."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final

from hub.integrations.entities import EntityStateSyncResult, EntityStateTypeDescriptor
from hub.integrations.integration import (
    ConfigEntryError,
    ConfigEntryNotReady,
    HealthResult,
    Integration,
    SetupContext,
)

from .client import Forecast, OpenMeteoClient, OpenMeteoConnectionError, OpenMeteoError
from .config_flow import LOCATION_HOME, OpenMeteoConfigFlow
from .entities import ENTITY_TYPES, FORECAST_HOURS, TYPE_KEYS, records
from .provider import OpenMeteoWeather

AUTO_ZONE: Final = "auto"
"""Open-Meteo picks the time zone of the coordinates."""
FRESH: Final = 60.0
"""Seconds a health check's forecast stays good for the sync that follows it."""


@dataclass(frozen=True, slots=True)
class Place:
    """Where an entry's forecast is for."""

    name: str
    latitude: float
    longitude: float
    elevation: float | None = None
    time_zone: str = AUTO_ZONE


@dataclass(frozen=True, slots=True)
class Fetched:
    """One forecast request's result for a place, and when (``time.monotonic``) it came."""

    place: Place
    at: float
    forecast: Forecast | None = None
    error: OpenMeteoError | None = None


class OpenMeteoIntegration(Integration):
    """Pulls each entry's forecast on a schedule; one HTTP session per loaded entry.

    The hub checks health right before each sync: health makes the request and the sync uses its
    answer, so a cycle asks Open-Meteo once and health tells what this cycle's request met.
    """

    config_flow_cls = OpenMeteoConfigFlow

    def __init__(self) -> None:
        self._clients: dict[str, OpenMeteoClient] = {}
        self._fetched: dict[str, Fetched] = {}

    def entity_types(self) -> dict[str, EntityStateTypeDescriptor]:
        """Temperature, humidity, wind, precipitation and conditions now; the next day's forecast."""
        return dict(ENTITY_TYPES)

    async def async_setup_entry(self, ctx: SetupContext) -> list[Any]:
        """Open the entry's session; no tools of its own (the generic weather tool uses it)."""
        self._clients.setdefault(ctx.entry_id, OpenMeteoClient())
        return []

    async def async_unload_entry(self, ctx: SetupContext) -> None:
        """Close the entry's session."""
        self._fetched.pop(ctx.entry_id, None)
        client = self._clients.pop(ctx.entry_id, None)
        if client is not None:
            await client.close()

    def weather_provider(self, ctx: SetupContext) -> OpenMeteoWeather | None:
        """Back the agent's weather tool with this entry's session."""
        client = self._clients.get(ctx.entry_id)
        return OpenMeteoWeather(client) if client is not None else None

    async def async_sync_entities(self, ctx: SetupContext) -> EntityStateSyncResult:
        """The place's current conditions and next 24 hours; where the home is at this sync."""
        place = place_of(ctx)
        if place is None:
            raise ConfigEntryError("no home location is set; an admin sets it in Settings")
        fetched = self._fetched.pop(ctx.entry_id, None)
        if fetched is None or fetched.place != place or time.monotonic() - fetched.at > FRESH:
            fetched = await self._fetch(ctx, place)
        if fetched.error is not None:
            err = fetched.error
            if isinstance(err, OpenMeteoConnectionError):
                raise ConfigEntryNotReady(str(err))
            if isinstance(err, TimeoutError):
                raise err
            raise ConfigEntryError(str(err))
        assert fetched.forecast is not None
        return EntityStateSyncResult(
            records=records(fetched.forecast, place.name), full=True, entity_types=TYPE_KEYS
        )

    async def async_health(self, ctx: SetupContext) -> HealthResult:
        """Asks for the forecast the sync then uses; an error without a place to ask for."""
        place = place_of(ctx)
        if place is None:
            return HealthResult(
                HealthResult.ERROR, "no home location is set", key="health.no_home_location"
            )
        fetched = await self._fetch(ctx, place)
        self._fetched[ctx.entry_id] = fetched
        if fetched.error is None:
            return HealthResult(
                HealthResult.OK,
                f"forecast for {place.name}",
                key="health.ok",
                params={"place": place.name},
            )
        problem = str(fetched.error)[:200]
        return HealthResult(
            HealthResult.DEGRADED,
            problem,
            key=f"health.{fetched.error.key}",
            params={"problem": problem},
        )

    async def _fetch(self, ctx: SetupContext, place: Place) -> Fetched:
        client = self._clients.get(ctx.entry_id)
        if client is None:
            raise ConfigEntryNotReady("the entry is not set up")
        try:
            forecast = await client.forecast(
                place.latitude,
                place.longitude,
                hours=FORECAST_HOURS,
                time_zone=place.time_zone,
                elevation=place.elevation,
            )
        except OpenMeteoError as err:
            return Fetched(place, time.monotonic(), error=err)
        return Fetched(place, time.monotonic(), forecast=forecast)


def place_of(ctx: SetupContext) -> Place | None:
    """The entry's place: the hub's home as it is now, or its own coordinates."""
    data = ctx.data
    if data.get("location") == LOCATION_HOME:
        home = ctx.home_location()
        if home is None:
            return None
        return Place(home.name, home.latitude, home.longitude, home.elevation, home.time_zone)
    latitude, longitude = float(data["latitude"]), float(data["longitude"])
    name = str(data.get("name") or f"{latitude:.4f}, {longitude:.4f}")
    return Place(name, latitude, longitude)


INTEGRATION = OpenMeteoIntegration()
