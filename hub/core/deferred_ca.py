"""TLS client contexts made while importing load the system's CA certificates on first use instead."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

_LOCK = threading.Lock()
_LOAD_DEFAULTS = ssl.SSLContext.set_default_verify_paths
"""The real method (``_ssl._SSLContext``'s), whatever the block below puts in front of it."""


class DeferredCAContext(ssl.SSLContext):
    """A context whose default CA certificates are read just before its first connection.

    Until then it trusts no certificate authority, so a use this class does not see fails the
    handshake rather than skipping verification.
    """

    def wrap_socket(self, sock: socket.socket, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        """Load the CA certificates, then wrap as ``ssl.SSLContext`` does."""
        load_deferred(self)
        return ssl.SSLContext.wrap_socket(self, sock, *args, **kwargs)  # its class changed

    def wrap_bio(
        self, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO, *args: Any, **kwargs: Any
    ) -> ssl.SSLObject:
        """Load the CA certificates, then wrap as ``ssl.SSLContext`` does (asyncio's path)."""
        load_deferred(self)
        return ssl.SSLContext.wrap_bio(self, incoming, outgoing, *args, **kwargs)


def load_deferred(context: ssl.SSLContext) -> None:
    """Read the default CA certificates into ``context`` now, if they were deferred."""
    with _LOCK:
        if type(context) is DeferredCAContext:
            _LOAD_DEFAULTS(context)
            cast(Any, context).__class__ = ssl.SSLContext


@contextmanager
def deferred_default_certificates() -> Iterator[None]:
    """Within the block, ``set_default_verify_paths`` marks a context to load them on first use.

    aiohttp's client builds two contexts when imported and each reads the whole system CA bundle:
    ~40 ms of a ~0.4 s start-up and ~3 MiB resident, for a client the hub may never use.
    """
    own = ssl.SSLContext.__dict__.get("set_default_verify_paths")
    ssl.SSLContext.set_default_verify_paths = _defer  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        if own is None:
            del ssl.SSLContext.set_default_verify_paths
        else:
            ssl.SSLContext.set_default_verify_paths = own  # type: ignore[method-assign]


def _defer(context: ssl.SSLContext) -> None:
    if type(context) is ssl.SSLContext:
        context.__class__ = DeferredCAContext
    else:  # someone's subclass: load now rather than change what it is
        _LOAD_DEFAULTS(context)
