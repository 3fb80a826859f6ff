"""The hub's home location: one place, set once by an admin, that location-aware integrations use.

An integration reads it live through ``ctx.home_location()`` (in a hook) or
``self.home_location()`` (in a config flow), so a change reaches an entry at its next sync without
reloading it. ``None`` means nobody has set it yet.
"""

from __future__ import annotations

import asyncio
import re
import zoneinfo
from collections.abc import Callable
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.core.committed import Committed
from hub.core.storage import StorageManager

HOME_KEY: Final = "core.home"
HOME_VERSION: Final = 1
DEFAULT_TIME_ZONE: Final = "UTC"
# An IANA name as a path of plain words (Europe/Berlin, America/Argentina/Buenos_Aires, UTC):
# checked before the zone database is asked, so no input can name a file outside it.
_ZONE_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")


class HomeLocation(BaseModel):
    """Where the household is: degrees north and east, metres above sea level, its time zone."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    # Strict: JSON's true is not a coordinate (pydantic would take it as 1.0).
    latitude: float = Field(ge=-90, le=90, strict=True)
    longitude: float = Field(ge=-180, le=180, strict=True)
    elevation: float | None = Field(default=None, ge=-500, le=9000, strict=True)
    time_zone: str = Field(default=DEFAULT_TIME_ZONE, max_length=64)
    name: str = Field(default="Home", min_length=1, max_length=100)

    @field_validator("name")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone_shape(cls, value: str) -> str:
        if not _ZONE_NAME.match(value) or ".." in value:
            raise ValueError("must be an IANA time zone such as Europe/Berlin")
        return value


HomeSource = Callable[[], HomeLocation | None]
"""Answers the home location as it is now."""


def no_home() -> HomeLocation | None:
    """The source before a hub wires its own: no home location."""
    return None


async def time_zone_exists(name: str) -> bool:
    """Whether the zone database knows ``name``; it reads a file, so off the event loop."""
    return await asyncio.to_thread(_zone_exists, name)


def _zone_exists(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # A slim image may ship no zone database at all: then only the name's shape is checked.
        return not zoneinfo.available_timezones()
    return True


class HomeSetting:
    """The stored home location, in ``.storage/core.home``."""

    def __init__(self, storage: StorageManager) -> None:
        self._state = Committed[HomeLocation | None](
            storage.store(HOME_KEY, HOME_VERSION), None, _encode
        )

    async def load(self) -> None:
        """Read the stored value; a damaged one is dropped rather than stopping the hub."""
        data = await self._state.store.load()
        home = data.get("home") if isinstance(data, dict) else None
        if home is None:
            return
        try:
            self._state.reset(HomeLocation.model_validate(home))
        except ValueError:
            return

    def get(self) -> HomeLocation | None:
        """The home location, or ``None`` until an admin sets it."""
        return self._state.value

    async def set(self, home: HomeLocation | None) -> HomeLocation | None:
        """Replace (``None``: clear) the home location, on disk and then in memory."""
        return await self._state.change(lambda _: home)


def _encode(home: HomeLocation | None) -> dict[str, Any]:
    return {"home": None if home is None else home.model_dump(mode="json")}
