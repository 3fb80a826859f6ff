"""The Open-Meteo form: the hub's home location, or coordinates of the entry's own.

With a home location set, a menu offers both; without one, the coordinates form says so. No key,
no connection test: the service is public, and an entry's health says when it cannot be reached.
"""

from __future__ import annotations

import math
from typing import Any, Final

from hub.integrations.config_flow import BASE_ERROR, ConfigFlow, FlowResult
from hub.integrations.manifest import FieldDescriptor

STEP_USE_HOME: Final = "use_home"
STEP_COORDINATES: Final = "coordinates"
LOCATION_HOME: Final = "home"
LOCATION_COORDINATES: Final = "coordinates"
NO_HOME: Final = "no_home_location"
MAX_NAME: Final = 100

_NO_HOME_NOTE: Final = FieldDescriptor(
    name="no_home", label="field.no_home.label", type="note", required=False
)
COORDINATES: Final = (
    FieldDescriptor(
        name="latitude",
        label="field.latitude.label",
        type="number",
        description="field.latitude.description",
    ),
    FieldDescriptor(
        name="longitude",
        label="field.longitude.label",
        type="number",
        description="field.longitude.description",
    ),
    FieldDescriptor(
        name="name",
        label="field.name.label",
        required=False,
        placeholder="field.name.placeholder",
    ),
)


class OpenMeteoConfigFlow(ConfigFlow):
    """``user`` (a menu, or the coordinates form), ``use_home`` and ``coordinates``; reconfigure alike."""

    domain = "open_meteo"

    async def async_step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        """Offer the home location when there is one, else ask for coordinates."""
        home = self.home_location()
        if home is None:
            return self._coordinates_form({}, note=True)
        return self.async_show_menu(
            step_id="user",
            menu_options=[STEP_USE_HOME, STEP_COORDINATES],
            description_placeholders={"home": home.name},
        )

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None) -> FlowResult:
        """The same choice for an existing entry."""
        return await self.async_step_user(user_input)

    async def async_step_use_home(self, user_input: dict[str, Any] | None) -> FlowResult:
        """Follow the home location, wherever an admin moves it; gone meanwhile: coordinates."""
        home = self.home_location()
        if home is None:
            return self._coordinates_form({BASE_ERROR: NO_HOME}, note=True)
        return self.async_create_entry(title=home.name, data={"location": LOCATION_HOME})

    async def async_step_coordinates(self, user_input: dict[str, Any] | None) -> FlowResult:
        """Latitude within ±90, longitude within ±180, and an optional name for the place."""
        if user_input is None:
            return self._coordinates_form({}, note=self.home_location() is None)
        latitude = _degrees(user_input.get("latitude"), 90)
        longitude = _degrees(user_input.get("longitude"), 180)
        name = user_input.get("name")
        errors: dict[str, str] = {}
        if latitude is None:
            errors["latitude"] = "invalid_latitude"
        if longitude is None:
            errors["longitude"] = "invalid_longitude"
        if name is not None and (not isinstance(name, str) or len(name.strip()) > MAX_NAME):
            errors["name"] = "invalid_name"
        if errors or latitude is None or longitude is None:
            return self._coordinates_form(errors, note=self.home_location() is None)
        title = name.strip() if isinstance(name, str) and name.strip() else ""
        data: dict[str, Any] = {
            "location": LOCATION_COORDINATES,
            "latitude": latitude,
            "longitude": longitude,
        }
        if title:
            data["name"] = title
        return self.async_create_entry(title=title or f"{latitude:.4f}, {longitude:.4f}", data=data)

    def _coordinates_form(self, errors: dict[str, str], *, note: bool) -> FlowResult:
        schema = (_NO_HOME_NOTE, *COORDINATES) if note else COORDINATES
        return self.async_show_form(step_id=STEP_COORDINATES, data_schema=schema, errors=errors)


def _degrees(value: Any, limit: float) -> float | None:
    """A number within ±``limit``; a numeric string counts, as a form may send one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip().replace(",", "."))
        except ValueError:
            return None
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value) if -limit <= value <= limit else None
