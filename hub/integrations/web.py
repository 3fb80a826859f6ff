"""Helpers for integrations that call web services: addresses, bounded answers, search hits."""

from __future__ import annotations

import math
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import aiohttp


class HitFields(NamedTuple):
    """A search hit's fields as most search APIs name them (``title``, ``url``, ``content``, ``score``)."""

    title: str
    url: str
    content: str
    score: float | None


def is_web_address(url: str) -> bool:
    """Whether ``url`` is an http or https address with a host that parses."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises on a port that is not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def host_of(url: str) -> str:
    """The ``host[:port]`` of an address, for messages that should not repeat a whole URL."""
    try:
        return urlsplit(url).netloc or url
    except ValueError:
        return url[:100]


async def read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The body, or ``None`` as soon as it grows past ``limit`` bytes (the caller says why)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(65_536):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def hit_fields(item: Any) -> HitFields | None:
    """A search API's result object as plain fields; ``None`` for one without an address."""
    if not isinstance(item, dict):
        return None
    url = item.get("url")
    if not isinstance(url, str) or not url.strip():
        return None  # a hit without an address is of no use to anyone
    title, content, score = item.get("title"), item.get("content"), item.get("score")
    return HitFields(
        title=title.strip() if isinstance(title, str) and title.strip() else url.strip(),
        url=url.strip(),
        content=content.strip() if isinstance(content, str) else "",
        score=float(score)
        if isinstance(score, int | float) and not isinstance(score, bool) and math.isfinite(score)
        else None,
    )
