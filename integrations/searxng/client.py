"""SearXNG's JSON search API: ``GET /search?q=…&format=json``, with every failure told apart."""

from __future__ import annotations

import json
from typing import Any, Final

import aiohttp

from hub.integrations.web import HitFields, hit_fields, host_of, read_bounded

DEFAULT_TIMEOUT: Final = 15.0
MAX_BODY: Final = 2_000_000
"""Bytes of an answer read at most: a search page is far smaller, a wrong server may not be."""
USER_AGENT: Final = "hub-searxng/1.0"

CANNOT_CONNECT: Final = "cannot_connect"
TIMEOUT: Final = "timeout"
JSON_DISABLED: Final = "json_disabled"
RATE_LIMITED: Final = "rate_limited"
AUTH_REQUIRED: Final = "auth_required"
NOT_SEARXNG: Final = "not_searxng"


class SearxngError(Exception):
    """A search that failed; ``kind`` is one of the constants above (also the flow's error key)."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class SearxngClient:
    """One SearXNG instance; each search opens and closes its own connection."""

    def __init__(self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout

    @property
    def host(self) -> str:
        """The instance's host and port, as a person would recognise it."""
        return host_of(self.base_url)

    async def search(self, query: str, *, limit: int) -> list[HitFields]:
        """At most ``limit`` results for ``query``, best first, as the instance ranked them."""
        status, body = await self._get("/search", {"q": query, "format": "json"})
        _check_status(status, self.host)
        return _hits(body, self.host)[: max(0, limit)]

    async def _get(self, path: str, params: dict[str, str]) -> tuple[int, bytes]:
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout, headers=headers) as session,
                session.get(f"{self.base_url}{path}", params=params) as response,
            ):
                return response.status, await _read_bounded(response)
        except TimeoutError:
            raise SearxngError(
                f"SearXNG at {self.host} did not answer within {self._timeout:g} s", kind=TIMEOUT
            ) from None
        except (aiohttp.ClientError, ValueError) as err:
            # ValueError: aiohttp refuses a URL it cannot parse before connecting.
            raise SearxngError(
                f"cannot reach SearXNG at {self.host} ({type(err).__name__})", kind=CANNOT_CONNECT
            ) from None


async def _read_bounded(response: aiohttp.ClientResponse) -> bytes:
    body = await read_bounded(response, MAX_BODY)
    if body is None:
        raise SearxngError(
            f"the answer is larger than {MAX_BODY // 1_000_000} MB; this is not a SearXNG"
            " search page",
            kind=NOT_SEARXNG,
        )
    return body


def _check_status(status: int, host: str) -> None:
    if status == 403:
        raise SearxngError(
            f"SearXNG at {host} refuses JSON output: its settings.yml must list json under"
            " search: formats (e.g. formats: [html, json])",
            kind=JSON_DISABLED,
        )
    if status == 429:
        raise SearxngError(
            f"SearXNG at {host} is limiting requests (HTTP 429); try again later", kind=RATE_LIMITED
        )
    if status in (401, 407):
        raise SearxngError(
            f"SearXNG at {host} asks for a password (HTTP {status}); the hub needs an instance"
            " it can reach without one",
            kind=AUTH_REQUIRED,
        )
    if status in (502, 503, 504):
        raise SearxngError(
            f"SearXNG at {host} is unavailable right now (HTTP {status})", kind=CANNOT_CONNECT
        )
    if status != 200:
        raise SearxngError(
            f"{host} answered HTTP {status} to a search; is this the address of a SearXNG?",
            kind=NOT_SEARXNG,
        )


def _hits(body: bytes, host: str) -> list[HitFields]:
    try:
        data: Any = json.loads(body)
    except ValueError:  # UnicodeDecodeError is one
        data = None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise SearxngError(
            f"{host} did not answer with SearXNG's JSON results; is this the address of a SearXNG?",
            kind=NOT_SEARXNG,
        )
    return [hit for item in results if (hit := hit_fields(item)) is not None]
