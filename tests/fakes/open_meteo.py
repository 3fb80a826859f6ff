"""A fake Open-Meteo on 127.0.0.1 speaking ``GET /v1/forecast`` as open-meteo.com/en/docs documents it.

Serve ``FakeOpenMeteo().app()`` with pytest-aiohttp's ``aiohttp_server``, or on its own to try the
integration without the service: ``python -m tests.fakes.open_meteo --port 8900``, then start the
hub with ``HUB_OPEN_METEO_URL=http://127.0.0.1:8900``. The weather is made up but steady: each
value follows from the coordinates (``temperature_at``), so a test knows what to expect. ``mode``
makes it fail as the real service can: ``down`` (503), ``rate_limited`` (429), ``garbage`` (a
proxy's HTML page with 200) or ``bad_shape`` (JSON whose hourly lists do not match).
"""

from __future__ import annotations

import argparse
import math
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

Mode = Literal["ok", "down", "rate_limited", "garbage", "bad_shape"]
CURRENT_KNOWN: Final = frozenset(
    {
        "temperature_2m",
        "relative_humidity_2m",
        "apparent_temperature",
        "is_day",
        "precipitation",
        "weather_code",
        "wind_speed_10m",
        "wind_direction_10m",
        "wind_gusts_10m",
    }
)
HOURLY_KNOWN: Final = frozenset(
    {
        "temperature_2m",
        "precipitation_probability",
        "precipitation",
        "weather_code",
        "wind_speed_10m",
    }
)
UNITS: Final = {
    "temperature_2m": "°C",
    "apparent_temperature": "°C",
    "relative_humidity_2m": "%",
    "is_day": "",
    "precipitation": "mm",
    "precipitation_probability": "%",
    "weather_code": "wmo code",
    "wind_speed_10m": "km/h",
    "wind_direction_10m": "°",
    "wind_gusts_10m": "km/h",
}


class FakeOpenMeteo:
    """The fake service, what it was asked, and how it should misbehave."""

    def __init__(self) -> None:
        self.mode: Mode = "ok"
        self.weather_code = 2
        """The current WMO code; the hours cycle through 2, 3, 61 and 0 from the next one."""
        self.requests: list[dict[str, str]] = []

    @staticmethod
    def temperature_at(latitude: float, longitude: float) -> float:
        """The current temperature (°C) the fake reports at a place."""
        return round(25 - abs(latitude) / 3 + longitude / 100, 1)

    def app(self) -> web.Application:
        """The aiohttp application to serve."""
        app = web.Application()
        app.router.add_get("/v1/forecast", self._forecast)
        return app

    async def _forecast(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.requests.append(query)
        if self.mode == "down":
            return web.Response(
                status=503, text="<html><body>503 Service Unavailable</body></html>"
            )
        if self.mode == "rate_limited":
            reason = "Minutely API request limit exceeded. Please try again in one minute."
            return _error(reason, status=429)
        if self.mode == "garbage":
            return web.Response(text="<html><body>Welcome to nginx!</body></html>")
        try:
            latitude = _coordinate(query, "latitude", 90)
            longitude = _coordinate(query, "longitude", 180)
            hours = int(query.get("forecast_hours", "168"))
            zone_name = query.get("timezone", "GMT")
            zone = _zone(zone_name)
        except ValueError as err:
            return _error(str(err))
        if not 0 < hours <= 384:
            return _error(f"Parameter 'forecast_hours' must be between 1 and 384. Given: {hours}.")
        current = [name for name in query.get("current", "").split(",") if name]
        hourly = [name for name in query.get("hourly", "").split(",") if name]
        for name in (*current, *hourly):
            if name not in CURRENT_KNOWN | HOURLY_KNOWN:
                return _error(f"Cannot initialize WeatherVariable from invalid String value {name}")
        resolved = "GMT" if zone_name in ("auto", "GMT") else zone_name
        now = datetime.now(UTC).astimezone(zone)
        body: dict[str, Any] = {
            "latitude": round(latitude, 2),
            "longitude": round(longitude, 2),
            "generationtime_ms": 0.05,
            "utc_offset_seconds": int((now.utcoffset() or timedelta()).total_seconds()),
            "timezone": resolved,
            "timezone_abbreviation": now.tzname() or "GMT",
            "elevation": float(query.get("elevation", 38.0)),
        }
        quarter = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
        base = self.temperature_at(latitude, longitude)
        if current:
            values = self._current(base)
            body["current_units"] = {"time": "iso8601", "interval": "seconds"} | {
                name: UNITS[name] for name in current
            }
            body["current"] = {"time": _iso(quarter), "interval": 900} | {
                name: values[name] for name in current
            }
        if hourly:
            start = now.replace(minute=0, second=0, microsecond=0)
            times = [start + timedelta(hours=index) for index in range(hours)]
            columns = {name: [self._hour(base, i)[name] for i in range(hours)] for name in hourly}
            if self.mode == "bad_shape":
                columns[hourly[0]] = columns[hourly[0]][:1]
            body["hourly_units"] = {"time": "iso8601"} | {name: UNITS[name] for name in hourly}
            body["hourly"] = {"time": [_iso(time) for time in times]} | columns
        return web.json_response(body)

    def _current(self, base: float) -> dict[str, Any]:
        return {
            "temperature_2m": base,
            "relative_humidity_2m": 71,
            "apparent_temperature": round(base - 2.5, 1),
            "is_day": 1,
            "precipitation": 0.0,
            "weather_code": self.weather_code,
            "wind_speed_10m": 12.3,
            "wind_direction_10m": 240,
            "wind_gusts_10m": 27.4,
        }

    def _hour(self, base: float, index: int) -> dict[str, Any]:
        return {
            "temperature_2m": round(base + 3 * math.sin(index / 24 * 2 * math.pi), 1),
            "precipitation_probability": (index * 7) % 100,
            "precipitation": 0.4 if index % 4 == 2 else 0.0,
            "weather_code": (2, 3, 61, 0)[index % 4],
            "wind_speed_10m": 10.0 + index % 5,
        }


def _coordinate(query: dict[str, str], name: str, limit: int) -> float:
    raw = query.get(name)
    if raw is None:
        raise ValueError(f"Parameter '{name}' is required.")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"Cannot initialize Float from invalid String value {raw}") from None
    if not -limit <= value <= limit:
        label = name.capitalize()
        raise ValueError(f"{label} must be in range of -{limit} to {limit}°. Given: {value}.")
    return value


def _zone(name: str) -> Any:
    if name in ("auto", "GMT"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"Invalid timezone: {name}") from None


def _iso(time: datetime) -> str:
    return time.strftime("%Y-%m-%dT%H:%M")


def _error(reason: str, *, status: int = 400) -> web.Response:
    return web.json_response({"error": True, "reason": reason}, status=status)


def main() -> None:
    """Serve the fake until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    args = parser.parse_args()
    web.run_app(FakeOpenMeteo().app(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
