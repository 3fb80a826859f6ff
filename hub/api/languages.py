"""``GET /api/languages``: the languages the hub speaks, each named in its own language (babel)."""

from __future__ import annotations

from aiohttp import web

from hub.api.access import principal_of
from hub.api.state import TRANSLATIONS


async def list_languages(request: web.Request) -> web.Response:
    """Languages with translations, e.g. ``{"code": "de", "name": "Deutsch"}``."""
    principal_of(request)
    from babel import Locale, UnknownLocaleError  # imported on first use: start-up stays light

    languages = []
    for code in sorted(request.app[TRANSLATIONS].languages()):
        try:
            locale = Locale.parse(code, sep="-")
            name = locale.get_display_name(locale) or code
        except (ValueError, UnknownLocaleError):
            name = code
        languages.append({"code": code, "name": name[:1].upper() + name[1:]})
    return web.json_response({"languages": languages})


def register(app: web.Application) -> None:
    """Add the languages route."""
    app.router.add_get("/api/languages", list_languages)
