"""Server limits a reverse proxy would set: connection caps, slow heads closed, quiet accept errors."""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from yarl import URL

from hub.core.log_throttle import LogThrottle

if TYPE_CHECKING:
    import ssl

    from hub.config import HttpConfig

_LOGGER = logging.getLogger(__name__)

LOG_INTERVAL: Final = 60.0
"""Seconds between two log lines about refused connections, or about failing ``accept()`` calls."""
IPV6_CLIENT_PREFIX: Final = 64
"""An IPv6 client owns a whole /64: counting each address of it would let it open billions."""
_ACCEPT_ERRNOS: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

Network = IPv4Network | IPv6Network


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How many connections may be open at once, in all and from one client address."""

    total: int
    per_address: int
    exempt: tuple[Network, ...] = ()
    """Trusted proxies: every client behind one shares its address, so it has only the total cap."""

    @classmethod
    def of(cls, http: HttpConfig) -> ConnectionLimits:
        """The limits ``configuration.yaml`` sets."""
        return cls(http.max_connections, http.max_connections_per_address, http.trusted_proxies)


def address_key(peername: object, exempt: tuple[Network, ...] = ()) -> str | None:
    """The client address ``peername`` is counted under, or None when it is not counted per address."""
    if not isinstance(peername, tuple) or not peername or not isinstance(peername[0], str):
        return None
    try:
        address: IPv4Address | IPv6Address = ip_address(peername[0])
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    if any(address in network for network in exempt):
        return None
    if isinstance(address, IPv6Address):
        return str(IPv6Network((int(address), IPV6_CLIENT_PREFIX), strict=False))
    return str(address)


class ConnectionGate:
    """Counts open connections and closes one over a cap the moment it opens, before aiohttp parses a byte."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.open = 0
        self._by_address: dict[str, int] = {}
        self._refusals = LogThrottle(_LOGGER, LOG_INTERVAL)

    def protocol_factory(
        self, handler_factory: Callable[[], asyncio.Protocol]
    ) -> Callable[[], asyncio.Protocol]:
        """A ``loop.create_server`` factory: this gate first, then ``handler_factory``'s protocol."""
        return partial(_Gated, self, handler_factory)

    def admit(self, peername: object) -> tuple[bool, str | None]:
        """Whether a connection from ``peername`` may open, and the key it is counted under."""
        key = address_key(peername, self.limits.exempt)
        if self.open >= self.limits.total:
            self._refuse(peername, "%d connections are open (http.max_connections)", self.open)
            return False, key
        if key is not None and self._by_address.get(key, 0) >= self.limits.per_address:
            self._refuse(
                peername,
                "%d connections are open from it (http.max_connections_per_address)",
                self._by_address[key],
            )
            return False, key
        self.open += 1
        if key is not None:
            self._by_address[key] = self._by_address.get(key, 0) + 1
        return True, key

    def release(self, key: str | None) -> None:
        """A connection counted under ``key`` has closed."""
        self.open -= 1
        if key is None:
            return
        left = self._by_address[key] - 1
        if left:
            self._by_address[key] = left
        else:
            del self._by_address[key]

    def _refuse(self, peername: object, why: str, count: int) -> None:
        host = peername[0] if isinstance(peername, tuple) and peername else "an unknown address"
        self._refusals.log("Closed a new connection from %s at once: " + why, host, count)


class _Gated(asyncio.Protocol):
    """One connection: admitted by the gate, then every event handed to aiohttp's protocol."""

    __slots__ = ("_factory", "_gate", "_inner", "_key")

    def __init__(self, gate: ConnectionGate, factory: Callable[[], asyncio.Protocol]) -> None:
        self._gate = gate
        self._factory = factory
        self._inner: asyncio.Protocol | None = None
        self._key: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        admitted, self._key = self._gate.admit(transport.get_extra_info("peername"))
        if not admitted:
            transport.close()  # nothing to flush: the descriptor is freed now, no parser is built
            return
        self._inner = self._factory()
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        inner, self._inner = self._inner, None
        if inner is not None:
            self._gate.release(self._key)
            inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()


class GatedSite(web.BaseSite):
    """aiohttp's ``TCPSite`` with a ``ConnectionGate`` in front of every connection."""

    __slots__ = ("_handshake_timeout", "_host", "_port", "gate")

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        gate: ConnectionGate,
        *,
        ssl_context: ssl.SSLContext | None = None,
        handshake_timeout: float = 10.0,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context)
        self._host = host
        self._port = port
        self._handshake_timeout = handshake_timeout
        self.gate = gate

    @property
    def name(self) -> str:
        """The site's URL."""
        scheme = "https" if self._ssl_context else "http"
        return str(URL.build(scheme=scheme, host=self._host or "0.0.0.0", port=self._port))

    async def start(self) -> None:
        """Listen; every accepted connection goes through the gate."""
        await super().start()
        server = self._runner.server
        assert server is not None
        options: dict[str, Any] = {}
        if self._ssl_context is not None:  # a TLS handshake is part of the request head's time
            options["ssl_handshake_timeout"] = self._handshake_timeout
        self._server = await asyncio.get_running_loop().create_server(
            self.gate.protocol_factory(server),
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            **options,
        )


def app_runner(app: web.Application, http: HttpConfig) -> web.AppRunner:
    """A runner whose connections close when slow to send a request head, or idle between requests."""
    # aiohttp arms its keep-alive timer when a connection opens and after each answer, and fires it
    # only while the connection waits for a complete request head: so it is the head timeout too.
    return web.AppRunner(app, handle_signals=False, keepalive_timeout=http.header_timeout_seconds)


async def start_site(
    runner: web.AppRunner, http: HttpConfig, ssl_context: ssl.SSLContext | None = None
) -> GatedSite:
    """Listen on ``http.host``:``http.port`` with the connection caps of ``http``."""
    site = GatedSite(
        runner,
        http.host,
        http.port,
        ConnectionGate(ConnectionLimits.of(http)),
        ssl_context=ssl_context,
        handshake_timeout=http.header_timeout_seconds,
    )
    await site.start()
    return site


@contextmanager
def quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """Log a failing ``accept()`` (no file descriptors left) once a minute instead of each time."""
    # asyncio reports each failed accept() to the loop's exception handler with a traceback, up to
    # a backlog's worth per turn: out of files, that filled an SD card with 144,458 lines in 20 s.
    throttle = LogThrottle(_LOGGER, LOG_INTERVAL, level=logging.ERROR)
    previous = loop.get_exception_handler()

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if "socket" in context and isinstance(exc, OSError) and exc.errno in _ACCEPT_ERRNOS:
            throttle.log(
                "Cannot accept connections: %s; the hub retries every second "
                "(see http.max_connections and the open-file limit)",
                exc.strerror or exc,
            )
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handle)
    try:
        yield
    finally:
        loop.set_exception_handler(previous)
