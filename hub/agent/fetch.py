"""The hub's own web reader: fetches a public page over HTTP(S) and returns its readable text."""

from __future__ import annotations

import asyncio
import codecs
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from hub.agent.readable import readable_text
from hub.core.errors import FETCH_FAILED, FETCH_REFUSED, BadRequestError, HubError

USER_AGENT: Final = "hub-fetch/1.0"

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class FetchRefused(BadRequestError):
    """The address may not be fetched: not http(s), credentials in it, or not on the public internet."""

    code = FETCH_REFUSED


class FetchFailed(HubError):
    """The page could not be read: unreachable, too slow, too large, an error status or not text."""

    code = FETCH_FAILED
    http_status = 502


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """How much one fetch may cost: body bytes, seconds (all hops), redirects and characters returned."""

    max_bytes: int = 2_000_000
    timeout: float = 15.0
    max_redirects: int = 5
    max_chars: int = 50_000


DEFAULT_LIMITS: Final = FetchLimits()

_HEADERS: Final = {
    "User-Agent": USER_AGENT,
    "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5",
}
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_HTML_TYPES: Final = frozenset({"text/html", "application/xhtml+xml"})
_TEXT_TYPES: Final = frozenset(
    {"application/json", "application/xml", "application/javascript", "application/yaml"}
)
# Python calls these text encodings, but a page in one is nonsense: read it as UTF-8 instead.
_NOT_CHARSETS: Final = frozenset({"punycode", "idna", "unicode-escape", "raw-unicode-escape"})
_CGNAT: Final = ipaddress.IPv4Network("100.64.0.0/10")
# A NAT64 gateway turns these into the IPv4 address in their low 32 bits, private ones included.
_NAT64: Final = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


class LocalFetchReader:
    """Fetches pages in-process for the agent's ``web_fetch`` capability when no integration does."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        allowed_networks: Iterable[str] = (),
        limits: FetchLimits = DEFAULT_LIMITS,
    ) -> None:
        self._guard = AddressGuard(allow_private=allow_private, allowed_networks=allowed_networks)
        self._limits = limits

    @property
    def name(self) -> str:
        """The provider's name."""
        return "local"

    async def fetch(self, url: str) -> str:
        """The readable text of the page at ``url``, cut to ``max_chars``."""
        target = parse_address(url)
        limits = self._limits
        try:
            async with asyncio.timeout(limits.timeout):
                final, kind, charset, body = await self._download(target)
        except TimeoutError:
            raise FetchFailed(f"{_shown(target)} took longer than {limits.timeout:g} s") from None
        # Decoding and parsing cost CPU in proportion to the body: keep them off the event loop.
        text = await asyncio.to_thread(_to_text, body, kind, charset, str(final), limits.max_chars)
        if len(text) <= limits.max_chars:
            return text
        return text[: limits.max_chars].rstrip() + "\n\n[truncated]"

    async def close(self) -> None:
        """Nothing to release: each fetch opens and closes its own session."""

    async def _download(self, url: URL) -> tuple[URL, str, str | None, bytes]:
        pinned: dict[str, list[ResolveResult]] = {}
        async with aiohttp.ClientSession(
            connector=pinned_connector(pinned), headers=_HEADERS
        ) as session:
            for _ in range(self._limits.max_redirects + 1):
                await self._guard.vet(url, pinned)
                try:
                    async with session.get(url, allow_redirects=False) as response:
                        location = response.headers.get("Location")
                        if response.status not in _REDIRECTS or not location:
                            kind, charset = _check(url, response)
                            return url, kind, charset, await _read(url, response, self._limits)
                except aiohttp.ClientConnectorError as err:
                    where = f"{url.host}:{url.port}"
                    reason = err.strerror or str(err.os_error)
                    raise FetchFailed(f"could not connect to {where}: {reason}") from err
                except aiohttp.ClientError as err:
                    raise FetchFailed(f"could not fetch {_shown(url)}: {err}") from err
                url = _redirect(url, location)
        raise FetchFailed(f"{_shown(url)} redirected more than {self._limits.max_redirects} times")


class AddressGuard:
    """Web fetch's SSRF rule: every address of a host must be on the public internet, unless
    local addresses are allowed (a person's ``allow_local_fetch``) or in ``allowed_networks``."""

    def __init__(
        self, *, allow_private: bool = False, allowed_networks: Iterable[str] = ()
    ) -> None:
        self._allow_private = allow_private
        self._allowed = tuple(ipaddress.ip_network(net, strict=False) for net in allowed_networks)

    async def vet(self, url: URL, pinned: dict[str, list[ResolveResult]]) -> None:
        """Refuse a host with any disallowed address; pin its vetted addresses in ``pinned``."""
        host, port = url.raw_host or "", url.port or 0
        literal = _literal(url.host or "")
        if literal is not None:
            self.check(url, literal)
            return
        if ":" in host:  # aiohttp would dial anything with a colon directly, unresolved
            raise FetchRefused(f"{_shown(url)} has an invalid host")
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as err:
            raise FetchFailed(f"could not find the address of {url.host}: {err}") from err
        vetted: list[ResolveResult] = []
        for family, _kind, proto, _name, sockaddr in infos:
            address = str(sockaddr[0])
            self.check(url, ipaddress.ip_address(address))
            flags = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
            vetted.append(
                ResolveResult(
                    hostname=host, host=address, port=port, family=family, proto=proto, flags=flags
                )
            )
        pinned[_host_key(host)] = vetted

    def check(self, url: URL, address: _Address) -> None:
        """Refuse ``address`` unless it is public, or local ones are allowed."""
        if self._allow_private or any(address in net for net in self._allowed):
            return
        problem = _problem(address)
        if problem is not None:
            raise FetchRefused(
                f"{_shown(url)} is on the local network ({address} is {problem}); "
                "allow local addresses in your settings to fetch it"
            )


def pinned_connector(pinned: dict[str, list[ResolveResult]]) -> aiohttp.TCPConnector:
    """A connector that dials only the addresses ``AddressGuard.vet`` pinned, never a new lookup."""
    return aiohttp.TCPConnector(resolver=PinnedResolver(pinned), use_dns_cache=False)


class PinnedResolver(AbstractResolver):
    """Answers only for hosts this fetch vetted, with exactly the addresses that were vetted."""

    def __init__(self, pinned: dict[str, list[ResolveResult]]) -> None:
        self._pinned = pinned

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The vetted addresses; never a fresh lookup, which could answer differently (rebinding)."""
        found = [
            result
            for result in self._pinned.get(_host_key(host), [])
            if family in (socket.AF_UNSPEC, result["family"])
        ]
        if not found:
            raise OSError(f"{host} was not vetted")
        return found

    async def close(self) -> None:
        """Nothing to release."""


def parse_address(raw: str) -> URL:
    """``raw`` as an http(s) address without credentials or fragment; ``FetchRefused`` if not."""
    try:
        url = URL(raw.strip())
    except (ValueError, TypeError):
        raise FetchRefused(f"{raw[:200]!r} is not a web address") from None
    if url.scheme not in ("http", "https"):
        raise FetchRefused(f"{_shown(url)} is not an http or https address")
    if not url.raw_host:
        raise FetchRefused(f"{_shown(url)} has no host name")
    if url.raw_user or url.raw_password:
        shown = _shown(url.with_user(None))
        raise FetchRefused(f"{shown} has a user name or password in it; the reader sends none")
    return url.with_fragment(None)


def _redirect(url: URL, location: str) -> URL:
    try:
        target = url.join(URL(location))
    except (ValueError, TypeError):
        raise FetchFailed(f"{_shown(url)} redirected to an invalid address") from None
    return parse_address(str(target))


def _literal(host: str) -> _Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _problem(address: _Address) -> str | None:
    """Why an address is not on the public internet, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None and (problem := _problem(inner)) is not None:
            return problem
        if address.is_site_local:
            return "a private address"
    checks = (
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_multicast, "a multicast address"),
        (address in _CGNAT, "a carrier-grade NAT address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    )
    return next((problem for failed, problem in checks if failed), None)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _host_key(host: str) -> str:
    return host.rstrip(".").lower()


def _shown(url: URL) -> str:
    text = str(url)
    return text if len(text) <= 200 else text[:199] + "…"


def _check(url: URL, response: aiohttp.ClientResponse) -> tuple[str, str | None]:
    """The response's media type and charset, if it is a page or text the reader can use."""
    if response.status >= 300:
        reason = f" {response.reason}" if response.reason else ""
        raise FetchFailed(f"{_shown(url)} answered HTTP {response.status}{reason}")
    kind = response.content_type
    if kind in _HTML_TYPES or _is_text(kind):
        return kind, response.charset
    raise FetchFailed(f"{_shown(url)} is {kind}, not a web page or text")


def _is_text(kind: str) -> bool:
    return (
        kind.startswith("text/")
        or kind in _TEXT_TYPES
        or (kind.startswith("application/") and kind.endswith(("+json", "+xml")))
    )


async def _read(url: URL, response: aiohttp.ClientResponse, limits: FetchLimits) -> bytes:
    """The body, refused as soon as it passes ``max_bytes`` (counted after decompression)."""
    declared = response.content_length
    body = bytearray()
    if declared is None or declared <= limits.max_bytes:
        async for chunk in response.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > limits.max_bytes:
                break
    if len(body) > limits.max_bytes or (declared or 0) > limits.max_bytes:
        raise FetchFailed(f"{_shown(url)} is larger than {_size(limits.max_bytes)}")
    return bytes(body)


def _size(count: int) -> str:
    for unit, scale in (("MB", 1_000_000), ("kB", 1_000)):
        if count >= scale:
            return f"{count / scale:g} {unit}"
    return f"{count} bytes"


_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([\w.:-]{1,40})""", re.I)


def _to_text(body: bytes, kind: str, charset: str | None, base: str, max_chars: int) -> str:
    if kind not in _HTML_TYPES:
        return _decode(body, charset)
    if charset is None and (meta := _META_CHARSET.search(body[:4096])) is not None:
        charset = meta[1].decode("ascii")
    return readable_text(_decode(body, charset), base_url=base, max_chars=max_chars + 1)


def _decode(body: bytes, charset: str | None) -> str:
    try:
        if charset and codecs.lookup(charset).name not in _NOT_CHARSETS:
            return body.decode(charset, errors="replace").removeprefix("\ufeff")
    except (LookupError, UnicodeError):
        pass  # an unknown or unusable label: read it as UTF-8, as browsers fall back too
    return body.decode("utf-8", errors="replace").removeprefix("\ufeff")


# The HTML reader is a small linear tokenizer, not html.parser: on CPython 3.11 html.parser takes
# minutes on a few kB of "<a <a <a" and hundreds of MB on one tag with a million attributes, and
# a page's bytes are the server's choice. Each regex below is anchored or possessive, so every
# character is looked at a bounded number of times.
