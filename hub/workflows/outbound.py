"""A workflow's http step: one outbound request behind web fetch's SSRF guard, bounded in time and size.

The request goes only to addresses the guard vetted (a private or loopback one only while the owner
allows local fetches), redirects are answered, never followed (each hop would need vetting and a
redirect could carry the request's headers elsewhere), and the answer is cut at a size limit. What
the run trace keeps of the request has secret-looking header and query values masked.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
from aiohttp.abc import ResolveResult
from yarl import URL

from hub.agent.fetch import (
    AddressGuard,
    FetchFailed,
    FetchRefused,
    parse_address,
    pinned_connector,
)
from hub.core.errors import HTTP_STATUS, BadRequestError, HubError
from hub.core.redact import MASK, SECRETS

USER_AGENT: Final = "hub-workflows/1.0"
_SECRET_NAME: Final = re.compile(
    r"auth|token|secret|key|cookie|passw|signature|session|credential", re.IGNORECASE
)
"""Header and query parameter names whose values are credentials (Authorization, X-Api-Key, …)."""
_KEPT_HEADERS: Final = ("Content-Type", "Location")
_PARSE_OFF_LOOP: Final = 256 * 1024
"""Bodies larger than this are decoded and parsed on a worker thread."""


class HttpStatusError(HubError):
    """The address answered with a status of 400 or more; ``answer`` is what it said."""

    code = HTTP_STATUS
    http_status = 502

    def __init__(self, message: str, answer: dict[str, Any]) -> None:
        super().__init__(message, status=int(answer["status"]))
        self.answer = answer


@dataclass(frozen=True, slots=True)
class Request:
    """An http step's request after rendering."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: Any

    def shown(self) -> dict[str, Any]:
        """The request as the run trace keeps it: credentials in headers and the query masked."""
        return {
            "method": self.method,
            "url": shown_url(self.url),
            "headers": {name: _shown_header(name, value) for name, value in self.headers.items()},
            "body": self.body,
        }


async def send(
    request: Request, *, allow_local: bool, seconds: float, max_bytes: int
) -> dict[str, Any]:
    """The answer as ``{"status", "headers", "body", "truncated"}``; a ``HubError`` when the
    address is refused or unreachable, too slow, or answers 400 or more (its ``answer`` attached)."""
    try:
        target = parse_address(request.url)
        async with asyncio.timeout(seconds):
            guard = AddressGuard(allow_private=allow_local)
            return await _exchange(request, target, guard, max_bytes)
    except TimeoutError:
        raise FetchFailed(f"{shown_url(request.url)} took longer than {seconds:g} s") from None
    except (FetchRefused, FetchFailed) as err:
        # The guard's messages repeat the address, query credentials included.
        raise type(err)(_masked(str(err), request.url)) from None


def _masked(message: str, url: str) -> str:
    shown = shown_url(url)
    for spelling in {url, url.strip(), _normalised(url)}:
        if spelling:
            message = message.replace(spelling, shown)
    return message


def _normalised(url: str) -> str:
    try:
        return str(URL(url.strip()).with_fragment(None))
    except (ValueError, TypeError):
        return ""


async def _exchange(
    request: Request, target: URL, guard: AddressGuard, max_bytes: int
) -> dict[str, Any]:
    pinned: dict[str, list[ResolveResult]] = {}
    await guard.vet(target, pinned)
    where = shown_url(request.url)
    try:
        async with (
            aiohttp.ClientSession(
                connector=pinned_connector(pinned), headers={"User-Agent": USER_AGENT}
            ) as session,
            session.request(
                request.method,
                target,
                headers=dict(request.headers),
                json=request.body,
                allow_redirects=False,
            ) as response,
        ):
            raw, cut = await _read_cut(response, max_bytes)
            answer = {
                "status": response.status,
                "headers": {
                    name.lower(): response.headers[name]
                    for name in _KEPT_HEADERS
                    if name in response.headers
                },
                "body": await _body(raw, cut, response.content_type, response.charset),
                "truncated": cut,
            }
            reason = response.reason or ""
    except aiohttp.ClientConnectorError as err:
        reason = err.strerror or str(err.os_error)
        raise FetchFailed(f"could not connect to {target.host}:{target.port}: {reason}") from err
    except aiohttp.ClientError as err:
        raise FetchFailed(f"could not send the request to {where}: {err}") from err
    except ValueError as err:  # a header name or value aiohttp will not send (a line break, …)
        raise BadRequestError(f"the request to {where} is not valid: {err}") from err
    if answer["status"] >= 400:
        message = f"{where} answered HTTP {answer['status']} {reason}".rstrip()
        raise HttpStatusError(message, answer)
    return answer


async def _read_cut(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of the body, and whether there was more."""
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            return bytes(body[:limit]), True
    return bytes(body), False


async def _body(raw: bytes, cut: bool, kind: str, charset: str | None) -> Any:
    if len(raw) > _PARSE_OFF_LOOP:
        return await asyncio.to_thread(_decode, raw, cut, kind, charset)
    return _decode(raw, cut, kind, charset)


def _decode(raw: bytes, cut: bool, kind: str, charset: str | None) -> Any:
    """JSON parsed when it is JSON and whole; else text (a cut multi-byte character replaced)."""
    try:
        text = raw.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = raw.decode("utf-8", errors="replace")
    if not cut and (kind == "application/json" or kind.endswith("+json")):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def shown_url(url: str) -> str:
    """``url`` for the trace and messages: secret-looking query values masked, known secrets too."""
    try:
        parsed = URL(url)
        query = [
            (name, MASK if _SECRET_NAME.search(name) else value)
            for name, value in parsed.query.items()
        ]
        if query:
            url = str(parsed.with_query(query))
    except (ValueError, TypeError):
        pass  # not a URL at all: the guard refuses it, and the text is shown as given
    shown = SECRETS.redact(url)
    return shown if len(shown) <= 300 else shown[:299] + "…"


def _shown_header(name: str, value: str) -> str:
    return MASK if _SECRET_NAME.search(name) else SECRETS.redact(value)
