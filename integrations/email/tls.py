"""How to reach a mail server: its address, credentials and transport security."""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass, field
from typing import Final, Literal

Security = Literal["tls", "starttls", "none"]
"""``tls``: TLS from the first byte; ``starttls``: upgrade a plain connection; ``none``: plain text."""

SECURITIES: Final[tuple[Security, ...]] = ("tls", "starttls", "none")
_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class InvalidCaError(ValueError):
    """The pasted CA certificate is not a PEM certificate."""


class UnencryptedRefusedError(ValueError):
    """Plain text to a host that is neither loopback nor explicitly allowed."""


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """One server (IMAP or SMTP) of a mail account."""

    host: str
    port: int
    security: Security
    username: str
    password: str = field(repr=False)
    ca_pem: str | None = field(default=None, repr=False)
    allow_unencrypted: bool = False


def ssl_context(ca_pem: str | None) -> ssl.SSLContext:
    """A verifying client context: the system store, or exactly the pasted CA when given."""
    if ca_pem is None or not ca_pem.strip():
        return ssl.create_default_context()
    if "-----BEGIN CERTIFICATE-----" not in ca_pem:
        # cadata also accepts DER bytes; a string without a PEM block is a mistake, not DER.
        raise InvalidCaError("no PEM certificate block")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cadata=ca_pem)
    except (ssl.SSLError, ValueError) as err:
        raise InvalidCaError("the CA certificate does not parse") from err
    return context


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_plaintext(settings: ServerSettings) -> None:
    """Refuse plain text unless it stays on this machine or the person allowed it."""
    if settings.security != "none" or settings.allow_unencrypted or is_loopback(settings.host):
        return
    raise UnencryptedRefusedError(f"plain text to {settings.host} is not allowed")
