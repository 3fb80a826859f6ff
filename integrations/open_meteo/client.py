"""Open-Meteo's forecast API over aiohttp: ``GET /v1/forecast``, no key, JSON in fixed units.

The answer is read whole only up to ``MAX_BODY`` and checked field by field: a proxy's page, a
truncated body or lists of different lengths are an ``OpenMeteoResponseError``, never a crash.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp

DEFAULT_BASE_URL: Final = "https://api.open-meteo.com"
BASE_URL_ENV: Final = "HUB_OPEN_METEO_URL"
"""Points the integration at another Open-Meteo (a self-hosted one, or the tests' fake)."""
DEFAULT_TIMEOUT: Final = 15.0
MAX_BODY: Final = 2 * 1024 * 1024
MAX_HOURS: Final = 168
CURRENT_FIELDS: Final = (
    "temperature_2m",
    "relative_humidity_2m",
    "apparent_temperature",
    "is_day",
    "precipitation",
    "weather_code",
    "wind_speed_10m",
    "wind_direction_10m",
    "wind_gusts_10m",
)
HOURLY_FIELDS: Final = (
    "temperature_2m",
    "precipitation_probability",
    "precipitation",
    "weather_code",
    "wind_speed_10m",
)
_UNAVAILABLE: Final = frozenset({502, 503, 504})


class OpenMeteoError(Exception):
    """Open-Meteo could not give a forecast; ``key`` names the reason for a person."""

    key = "odd_answer"


class OpenMeteoConnectionError(OpenMeteoError, ConnectionError):
    """Nothing answered, or Open-Meteo said it is unavailable."""

    key = "unreachable"


class OpenMeteoTimeoutError(OpenMeteoError, TimeoutError):
    """Open-Meteo did not answer in time."""

    key = "timeout"


class OpenMeteoRateLimitError(OpenMeteoError):
    """Open-Meteo answered 429: too many requests from this address for now."""

    key = "rate_limited"


class OpenMeteoResponseError(OpenMeteoError):
    """Open-Meteo refused the request (its ``reason``) or answered something unusable."""


@dataclass(frozen=True, slots=True)
class Current:
    """The conditions now, in °C, %, mm and km/h."""

    time: str
    temperature: float | None
    apparent_temperature: float | None
    humidity: float | None
    precipitation: float | None
    weather_code: int | None
    wind_speed: float | None
    wind_direction: float | None
    wind_gusts: float | None
    is_day: bool | None


@dataclass(frozen=True, slots=True)
class Hour:
    """One hour of the forecast."""

    time: str
    temperature: float | None
    precipitation_probability: float | None
    precipitation: float | None
    weather_code: int | None
    wind_speed: float | None


@dataclass(frozen=True, slots=True)
class Forecast:
    """What one ``/v1/forecast`` call answered."""

    latitude: float
    longitude: float
    elevation: float | None
    time_zone: str
    current: Current
    hours: tuple[Hour, ...]


def base_url() -> str:
    """The API's address: ``HUB_OPEN_METEO_URL`` when set, else Open-Meteo's own."""
    return (os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")


class OpenMeteoClient:
    """One HTTP session to Open-Meteo; opens it on first use."""

    def __init__(self, url: str | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.base_url = (url or base_url()).rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"<OpenMeteoClient {self.base_url}>"

    async def __aenter__(self) -> OpenMeteoClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session; later calls fail with ``OpenMeteoConnectionError``."""
        self._closed = True
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def forecast(
        self,
        latitude: float,
        longitude: float,
        *,
        hours: int = 24,
        time_zone: str = "auto",
        elevation: float | None = None,
    ) -> Forecast:
        """The current conditions and the next ``hours`` hours (1 to 168) at a place."""
        params = {
            "latitude": f"{latitude:.4f}",
            "longitude": f"{longitude:.4f}",
            "current": ",".join(CURRENT_FIELDS),
            "hourly": ",".join(HOURLY_FIELDS),
            "forecast_hours": str(max(1, min(hours, MAX_HOURS))),
            "timezone": time_zone,
        }
        if elevation is not None:
            params["elevation"] = f"{elevation:g}"
        return parse_forecast(await self._get("/v1/forecast", params))

    async def _get(self, path: str, params: dict[str, str]) -> Any:
        if self._closed:
            raise OpenMeteoConnectionError("this Open-Meteo connection was closed")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, headers={"Accept": "application/json"}
            )
        try:
            async with self._session.get(f"{self.base_url}{path}", params=params) as response:
                status = response.status
                raw = await _read_bounded(response)
        except TimeoutError:
            raise OpenMeteoTimeoutError(
                f"Open-Meteo at {self._host} did not answer within {self._timeout.total:g} s"
            ) from None
        except aiohttp.ClientError as err:
            raise OpenMeteoConnectionError(
                f"cannot reach Open-Meteo at {self._host} ({type(err).__name__})"
            ) from None
        data = _json(raw)
        if status == 429:
            raise OpenMeteoRateLimitError(f"Open-Meteo is limiting requests: {_reason(data, 429)}")
        if status in _UNAVAILABLE:
            raise OpenMeteoConnectionError(f"Open-Meteo is unavailable: {_reason(data, status)}")
        if status >= 400:
            raise OpenMeteoResponseError(f"Open-Meteo refused the request: {_reason(data, status)}")
        return data

    @property
    def _host(self) -> str:
        return urlsplit(self.base_url).netloc or self.base_url


async def _read_bounded(response: aiohttp.ClientResponse) -> bytes:
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > MAX_BODY:
            raise OpenMeteoResponseError(f"Open-Meteo's answer is over {MAX_BODY // 1024} KiB")
    return bytes(body)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        return None


def _reason(data: Any, status: int) -> str:
    reason = data.get("reason") if isinstance(data, dict) else None
    return reason.strip()[:200] if isinstance(reason, str) and reason.strip() else f"HTTP {status}"


# Parsing


def parse_forecast(data: Any) -> Forecast:
    """A forecast from Open-Meteo's JSON; ``OpenMeteoResponseError`` names what is missing."""
    if not isinstance(data, dict):
        raise OpenMeteoResponseError("Open-Meteo answered something other than a JSON object")
    current = data.get("current")
    hourly = data.get("hourly")
    if not isinstance(current, dict) or not isinstance(hourly, dict):
        raise OpenMeteoResponseError("Open-Meteo's answer has no current or hourly values")
    return Forecast(
        latitude=_required_number(data, "latitude"),
        longitude=_required_number(data, "longitude"),
        elevation=_number(data.get("elevation")),
        time_zone=str(data.get("timezone") or "GMT")[:64],
        current=_current(current),
        hours=_hours(hourly),
    )


def _current(values: dict[str, Any]) -> Current:
    return Current(
        time=_time(values.get("time")),
        temperature=_number(values.get("temperature_2m")),
        apparent_temperature=_number(values.get("apparent_temperature")),
        humidity=_number(values.get("relative_humidity_2m")),
        precipitation=_number(values.get("precipitation")),
        weather_code=_code(values.get("weather_code")),
        wind_speed=_number(values.get("wind_speed_10m")),
        wind_direction=_number(values.get("wind_direction_10m")),
        wind_gusts=_number(values.get("wind_gusts_10m")),
        is_day=None if values.get("is_day") is None else bool(_number(values.get("is_day"))),
    )


def _hours(values: dict[str, Any]) -> tuple[Hour, ...]:
    times = values.get("time")
    if not isinstance(times, list):
        raise OpenMeteoResponseError("Open-Meteo's hourly values have no times")
    times = times[:MAX_HOURS]
    columns: dict[str, list[Any]] = {}
    for name in HOURLY_FIELDS:
        column = values.get(name, [None] * len(times))
        if not isinstance(column, list) or len(column) < len(times):
            raise OpenMeteoResponseError(f"Open-Meteo's hourly {name} does not match its times")
        columns[name] = column
    return tuple(
        Hour(
            time=_time(time),
            temperature=_number(columns["temperature_2m"][index]),
            precipitation_probability=_number(columns["precipitation_probability"][index]),
            precipitation=_number(columns["precipitation"][index]),
            weather_code=_code(columns["weather_code"][index]),
            wind_speed=_number(columns["wind_speed_10m"][index]),
        )
        for index, time in enumerate(times)
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _required_number(data: dict[str, Any], name: str) -> float:
    number = _number(data.get(name))
    if number is None:
        raise OpenMeteoResponseError(f"Open-Meteo's answer has no {name}")
    return number


def _code(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and 0 <= number < 1000 else None


def _time(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise OpenMeteoResponseError("Open-Meteo's answer has a value without a time")
    return value.strip()[:32]
