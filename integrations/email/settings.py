"""One mail account as its entry stores it: the IMAP and SMTP servers, the sender, the history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

from .tls import SECURITIES, Security, ServerSettings

DEFAULT_IMAP_PORT: Final = 993
DEFAULT_SMTP_PORT: Final = 465
DEFAULT_SECURITY: Final[Security] = "tls"
DEFAULT_HISTORY_DAYS: Final = 30


class EmailSettingsError(ValueError):
    """The entry's data cannot describe a working account (a missing host, an unknown security)."""


@dataclass(frozen=True, slots=True)
class EmailSettings:
    """Both servers of one mailbox; the SMTP login falls back to the IMAP one when left blank."""

    imap: ServerSettings
    smtp: ServerSettings
    from_address: str
    history_days: int = DEFAULT_HISTORY_DAYS

    @property
    def own_addresses(self) -> frozenset[str]:
        """The addresses that mark a message as the person's own (lower case)."""
        candidates = (self.from_address, self.imap.username, self.smtp.username)
        return frozenset(address.lower() for address in candidates if "@" in address)

    @classmethod
    def from_entry(cls, data: Mapping[str, Any], secrets: Mapping[str, str]) -> EmailSettings:
        """Build from an entry's ``data`` and decrypted ``secrets`` (the flow's field names)."""
        ca_pem = _text(data, "ca_certificate") or None
        allow = data.get("allow_unencrypted") is True
        imap = ServerSettings(
            host=_required(data, "imap_host"),
            port=_port(data, "imap_port", DEFAULT_IMAP_PORT),
            security=_security(data, "imap_security"),
            username=_required(data, "imap_username"),
            password=secrets.get("imap_password") or "",
            ca_pem=ca_pem,
            allow_unencrypted=allow,
        )
        smtp = ServerSettings(
            host=_required(data, "smtp_host"),
            port=_port(data, "smtp_port", DEFAULT_SMTP_PORT),
            security=_security(data, "smtp_security"),
            username=_text(data, "smtp_username") or imap.username,
            password=secrets.get("smtp_password") or imap.password,
            ca_pem=ca_pem,
            allow_unencrypted=allow,
        )
        return cls(
            imap=imap,
            smtp=smtp,
            from_address=_text(data, "from_address") or imap.username,
            history_days=_history_days(data),
        )


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    return value.strip() if isinstance(value, str) else ""


def _required(data: Mapping[str, Any], name: str) -> str:
    value = _text(data, name)
    if not value:
        raise EmailSettingsError(f"{name} is missing")
    return value


def _port(data: Mapping[str, Any], name: str, default: int) -> int:
    value = data.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise EmailSettingsError(f"{name} is not a port number")
    port = int(value)
    if not 0 < port < 65536:
        raise EmailSettingsError(f"{name} is not between 1 and 65535")
    return port


def _security(data: Mapping[str, Any], name: str) -> Security:
    value = data.get(name) or DEFAULT_SECURITY
    if value not in SECURITIES:
        raise EmailSettingsError(f"{name} must be one of {', '.join(SECURITIES)}")
    return cast(Security, value)


def _history_days(data: Mapping[str, Any]) -> int:
    value = data.get("history_days", DEFAULT_HISTORY_DAYS)
    if value is None:
        return DEFAULT_HISTORY_DAYS
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise EmailSettingsError("history_days is not a whole number")
    return max(0, int(value))
