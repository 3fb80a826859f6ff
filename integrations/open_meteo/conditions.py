"""The WMO weather codes Open-Meteo reports, as condition keys and their English descriptions.

A condition key is an entity's state; the web UI shows it in the person's language from
``entity.condition.state.<key>`` in the translations. The English here is what the agent reads.
"""

from __future__ import annotations

from typing import Final

UNKNOWN: Final = "unknown"

CONDITIONS: Final[dict[int, tuple[str, str]]] = {
    0: ("clear_sky", "Clear sky"),
    1: ("mainly_clear", "Mainly clear"),
    2: ("partly_cloudy", "Partly cloudy"),
    3: ("overcast", "Overcast"),
    45: ("fog", "Fog"),
    48: ("rime_fog", "Depositing rime fog"),
    51: ("drizzle_light", "Light drizzle"),
    53: ("drizzle_moderate", "Moderate drizzle"),
    55: ("drizzle_dense", "Dense drizzle"),
    56: ("freezing_drizzle_light", "Light freezing drizzle"),
    57: ("freezing_drizzle_dense", "Dense freezing drizzle"),
    61: ("rain_slight", "Slight rain"),
    63: ("rain_moderate", "Moderate rain"),
    65: ("rain_heavy", "Heavy rain"),
    66: ("freezing_rain_light", "Light freezing rain"),
    67: ("freezing_rain_heavy", "Heavy freezing rain"),
    71: ("snow_slight", "Slight snowfall"),
    73: ("snow_moderate", "Moderate snowfall"),
    75: ("snow_heavy", "Heavy snowfall"),
    77: ("snow_grains", "Snow grains"),
    80: ("showers_slight", "Slight rain showers"),
    81: ("showers_moderate", "Moderate rain showers"),
    82: ("showers_violent", "Violent rain showers"),
    85: ("snow_showers_slight", "Slight snow showers"),
    86: ("snow_showers_heavy", "Heavy snow showers"),
    95: ("thunderstorm", "Thunderstorm"),
    96: ("thunderstorm_hail_slight", "Thunderstorm with slight hail"),
    99: ("thunderstorm_hail_heavy", "Thunderstorm with heavy hail"),
}

CONDITION_KEYS: Final = (*(key for key, _ in CONDITIONS.values()), UNKNOWN)


def condition(code: int | None) -> str:
    """The condition key of a WMO code; ``unknown`` for none or one outside the table."""
    found = CONDITIONS.get(code) if code is not None else None
    return found[0] if found else UNKNOWN


def description(code: int | None) -> str:
    """The English description of a WMO code."""
    found = CONDITIONS.get(code) if code is not None else None
    return found[1] if found else "Unknown"
