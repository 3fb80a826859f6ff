"""The weather provider behind the agent's generic ``weather`` tool."""

from __future__ import annotations

from typing import Any, Final

from .client import OpenMeteoClient, OpenMeteoError
from .conditions import condition, description
from .entities import hour_view

NAME: Final = "Open-Meteo"


class OpenMeteoWeather:
    """Answers ``weather(latitude, longitude, hours)`` from Open-Meteo, in °C, %, mm and km/h."""

    def __init__(self, client: OpenMeteoClient) -> None:
        self._client = client

    @property
    def name(self) -> str:
        """Shown with the forecast."""
        return NAME

    async def weather(self, latitude: float, longitude: float, hours: int) -> dict[str, Any]:
        """The conditions now and the next ``hours`` hours, in the place's own time zone."""
        try:
            forecast = await self._client.forecast(latitude, longitude, hours=hours)
        except (ConnectionError, TimeoutError):
            raise  # the hub answers these as "not ready" and "timed out", whoever called
        except OpenMeteoError as err:
            raise ValueError(str(err)) from None  # the agent reads why (limited, refused, garbled)
        now = forecast.current
        return {
            "provider": NAME,
            "latitude": forecast.latitude,
            "longitude": forecast.longitude,
            "elevation_m": forecast.elevation,
            "time_zone": forecast.time_zone,
            "units": {"temperature": "°C", "wind_speed": "km/h", "precipitation": "mm"},
            "current": {
                "time": now.time,
                "temperature": now.temperature,
                "apparent_temperature": now.apparent_temperature,
                "humidity_percent": now.humidity,
                "precipitation": now.precipitation,
                "wind_speed": now.wind_speed,
                "wind_direction_degrees": now.wind_direction,
                "wind_gusts": now.wind_gusts,
                "weather_code": now.weather_code,
                "condition": condition(now.weather_code),
                "description": description(now.weather_code),
                "is_day": now.is_day,
            },
            "hourly": [
                hour_view(hour) | {"description": description(hour.weather_code)}
                for hour in forecast.hours[:hours]
            ],
        }
