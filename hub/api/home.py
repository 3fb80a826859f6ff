"""The home location over HTTP: ``GET/PUT/DELETE /api/home``.

Everyone signed in may read it (integrations show and use it); only admins change it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from hub.api.access import principal_of, require_admin
from hub.api.request import read_json
from hub.api.state import HOME
from hub.core.errors import BadRequestError
from hub.integrations.location import HomeLocation, time_zone_exists


def _answer(home: HomeLocation | None) -> web.Response:
    return web.json_response({"home": None if home is None else home.model_dump(mode="json")})


async def get_home(request: web.Request) -> web.Response:
    """The home location, ``{"home": null}`` until set."""
    principal_of(request)
    return _answer(request.app[HOME].get())


async def put_home(request: web.Request) -> web.Response:
    """Set the home location (admins); a field left out takes its default."""
    require_admin(principal_of(request))
    home = await read_json(request, HomeLocation)
    if not await time_zone_exists(home.time_zone):
        raise BadRequestError(
            f"time_zone: unknown time zone {home.time_zone!r}",
            key="errors.unknown_time_zone",
            time_zone=home.time_zone,
        )
    return _answer(await request.app[HOME].set(home))


async def delete_home(request: web.Request) -> web.Response:
    """Clear the home location (admins)."""
    require_admin(principal_of(request))
    return _answer(await request.app[HOME].set(None))


async def home_context(app: web.Application) -> AsyncIterator[None]:
    """Read the stored home location before any entry is set up."""
    await app[HOME].load()
    yield


def register(app: web.Application) -> None:
    """Add the home-location routes."""
    app.router.add_get("/api/home", get_home)
    app.router.add_put("/api/home", put_home)
    app.router.add_delete("/api/home", delete_home)
