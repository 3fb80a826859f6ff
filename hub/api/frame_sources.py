"""The web UI's ``frame-src``: the origins of the iframe cards that stored surfaces show, and no other.

A contributed surface exists only while its entry does (TradingView's chart, say), and a person's
own dashboard keeps its cards; so the allowed set follows the stored surfaces. It is computed once
per change of them (the store swaps in a fresh mapping on every commit), not per request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, Final
from urllib.parse import urlsplit

from aiohttp import web

from hub.integrations.surfaces import Surface, Surfaces

BASE_POLICY: Final = (
    "default-src 'self'; img-src 'self' data: https:; connect-src 'self'; "
    "style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
MAX_ORIGINS: Final = 256
"""Past this many distinct origins the rest stay blocked: a header has to stay a sane size."""
_LABEL: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_SCHEMES: Final = frozenset({"http", "https"})


def frame_origin(url: object) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, or ``None`` when it cannot be a CSP source.

    Rebuilt from checked parts, so a URL carrying ``;``, quotes or blanks can never add a
    directive to the policy. A CSP source cannot name an IPv6 literal, so such a frame stays blocked.
    """
    if not isinstance(url, str) or len(url) > 4096:
        return None
    return _origin(url)


@lru_cache(maxsize=8192)  # a change of one dashboard recomputes the rest from the cache
def _origin(url: str) -> str | None:
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in _SCHEMES or not host:
        return None
    try:
        host = host.encode("idna").decode("ascii")  # the browser compares the punycode form
    except UnicodeError:
        return None
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in host.split(".")):
        return None
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port is not None else "")


def card_origins(config: Mapping[str, Any]) -> set[str]:
    """The origins of a surface's iframe cards."""
    found: set[str] = set()
    views = config.get("views")
    for view in views if isinstance(views, list) else ():
        cards = view.get("cards") if isinstance(view, dict) else None
        for card in cards if isinstance(cards, list) else ():
            if isinstance(card, dict) and card.get("type") == "iframe":
                origin = frame_origin(card.get("url"))
                if origin is not None:
                    found.add(origin)
    return found


def content_security_policy(surfaces: Iterable[Surface]) -> str:
    """The UI's policy with ``frame-src`` listing exactly the surfaces' frame origins."""
    origins: set[str] = set()
    for surface in surfaces:
        origins |= card_origins(surface.config)
    allowed = " ".join(sorted(origins)[:MAX_ORIGINS]) or "'none'"
    return f"{BASE_POLICY}; frame-src {allowed}"


class FrameSources:
    """The current policy, recomputed only when the stored surfaces changed."""

    def __init__(self, surfaces: Surfaces) -> None:
        self._surfaces = surfaces
        self._seen: Mapping[str, Surface] | None = None
        self._policy = content_security_policy(())

    def policy(self) -> str:
        """The ``Content-Security-Policy`` of the UI's pages now."""
        current = self._surfaces.stored
        if current is not self._seen:
            self._policy = content_security_policy(current.values())
            self._seen = current
        return self._policy


FRAME_SOURCES: Final = web.AppKey("frame_sources", FrameSources)
