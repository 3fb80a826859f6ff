"""The ``Origin`` check: a browser page from another site may not onboard or open the websocket.

Browsers send ``Origin`` on cross-site form posts and on every websocket handshake, and a page
cannot forge it; scripts and curl send none and pass. The hub's own origin is the scheme and
``Host`` the request arrived with; ``http.allowed_origins`` adds others (a reverse proxy's).
"""

from __future__ import annotations

from aiohttp import hdrs, web
from yarl import URL

from hub.api.state import CONFIG
from hub.core.errors import ORIGIN_NOT_ALLOWED, ForbiddenError

_DEFAULT_PORTS = {"http": 80, "https": 443}


class OriginNotAllowedError(ForbiddenError):
    """A browser page of another site sent this request."""

    code = ORIGIN_NOT_ALLOWED


def check_origin(request: web.Request) -> None:
    """Pass a request without ``Origin`` or from an allowed one; refuse any other with a 403."""
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        return
    allowed = {normalize(f"{request.scheme}://{request.host}")}
    allowed.update(normalize(extra) for extra in request.app[CONFIG].http.allowed_origins)
    allowed.discard(None)
    if normalize(origin) not in allowed:
        shown = origin[:100].encode("ascii", "backslashreplace").decode()
        raise OriginNotAllowedError(
            f"a page from {shown!r} may not do this: only pages of the hub itself may "
            "(add the origin to http.allowed_origins if it is yours)"
        )


def normalize(origin: str) -> str | None:
    """``scheme://host:port`` in lower case with the port spelled out; ``None`` if not an origin."""
    try:
        url = URL(origin.strip())
        port = url.port
    except ValueError:
        return None
    scheme = url.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not url.host or url.path not in ("", "/"):
        return None
    if url.user is not None or url.query_string or url.fragment:
        return None
    return f"{scheme}://{url.host.lower()}:{port or _DEFAULT_PORTS[scheme]}"
