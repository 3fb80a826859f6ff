"""The mailbox form: IMAP and SMTP servers, checked by logging in to both before the entry exists.

Plain text is refused unless the server is on this machine or the person ticked "allow
unencrypted"; a pasted CA certificate replaces the system store for both servers (self-hosted
mail often runs under its own CA). Reauth asks for the passwords only.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, ClassVar, Final

from hub.integrations.config_flow import BASE_ERROR, STEP_REAUTH, FlowResult
from hub.integrations.manifest import FieldDescriptor, SelectOption
from hub.integrations.simple_flow import SimpleConfigFlow

from . import imap, smtp
from .settings import (
    DEFAULT_HISTORY_DAYS,
    DEFAULT_IMAP_PORT,
    DEFAULT_SECURITY,
    DEFAULT_SMTP_PORT,
    EmailSettings,
    EmailSettingsError,
)
from .tls import SECURITIES, InvalidCaError, UnencryptedRefusedError, check_plaintext, ssl_context

LOGIN_TIMEOUT: Final = 8.0
"""Each step of a server's login check; each server's check takes at most twice it."""
MAX_HISTORY_DAYS: Final = 3650
SECRET_FIELDS: Final = ("imap_password", "smtp_password")
_LABEL: Final = re.compile(rb"[A-Za-z0-9_-]{1,63}")

AUTH_FAILED: Final = "auth_failed"
CANNOT_CONNECT: Final = "cannot_connect"
CERTIFICATE_INVALID: Final = "certificate_invalid"
INVALID_CA: Final = "invalid_ca"
UNENCRYPTED_NOT_ALLOWED: Final = "unencrypted_not_allowed"
SMTP_AUTH_FAILED: Final = "smtp_auth_failed"
SMTP_CANNOT_CONNECT: Final = "smtp_cannot_connect"
INVALID_HOST: Final = "invalid_host"
INVALID_PORT: Final = "invalid_port"
INVALID_ADDRESS: Final = "invalid_address"
INVALID_HISTORY_DAYS: Final = "invalid_history_days"


def _field(name: str, **kw: Any) -> FieldDescriptor:
    return FieldDescriptor(
        name=name, label=f"field.{name}.label", description=f"field.{name}.description", **kw
    )


def _security(name: str) -> FieldDescriptor:
    options = tuple(
        SelectOption(value=value, label=f"field.security.{value}") for value in SECURITIES
    )
    return _field(name, type="select", options=options, default=DEFAULT_SECURITY)


SCHEMA: Final = [
    _field("imap_host", placeholder="field.imap_host.placeholder"),
    _field("imap_port", type="number", default=DEFAULT_IMAP_PORT),
    _security("imap_security"),
    _field("imap_username"),
    # "password", not "secret": a password is kept exactly as typed, blanks included.
    _field("imap_password", type="password"),
    _field("smtp_host", placeholder="field.smtp_host.placeholder"),
    _field("smtp_port", type="number", default=DEFAULT_SMTP_PORT),
    _security("smtp_security"),
    _field("smtp_username", required=False),
    _field("smtp_password", type="password", required=False),
    _field("from_address", placeholder="field.from_address.placeholder"),
    _field(
        "ca_certificate",
        required=False,
        multiline=True,
        placeholder="field.ca_certificate.placeholder",
    ),
    _field("allow_unencrypted", type="bool", required=False, default=False),
    _field("history_days", type="number", required=False, default=DEFAULT_HISTORY_DAYS),
]


class EmailConfigFlow(SimpleConfigFlow):
    """One form for both servers; ``reconfigure`` edits it, ``reauth`` asks for the passwords."""

    domain = "email"
    SCHEMA = SCHEMA
    TITLE_FIELD = "from_address"
    VALIDATE_TIMEOUT: ClassVar[float] = 4 * LOGIN_TIMEOUT + 4  # both servers, with a margin

    async def async_step_reauth(self, user_input: dict[str, Any] | None) -> FlowResult:
        """New passwords for the stored servers, checked like a new entry's."""
        if user_input is None:
            return self._reauth_form({})
        data = self.preprocess(self._merged(user_input))
        errors = self.validate_fields(data)
        if not errors:
            key = await self._async_run_validate(data)
            errors = {BASE_ERROR: key} if key is not None else {}
        if errors:
            return self._reauth_form(errors)
        return self.async_create_entry(title=self.entry_title(data), data=self.entry_data(data))

    def validate_fields(self, data: dict[str, Any]) -> dict[str, str]:
        """The required checks, then ports, the address, plain text and the pasted CA."""
        errors = super().validate_fields(data)
        for name in ("imap_host", "smtp_host"):
            if name not in errors and not _is_host(str(data.get(name) or "")):
                errors[name] = INVALID_HOST
        for name in ("imap_port", "smtp_port"):
            port = data.get(name)
            if (
                name not in errors
                and port is not None
                and not (isinstance(port, int) and 0 < port < 65536)
            ):
                errors[name] = INVALID_PORT
        address = str(data.get("from_address") or "")
        if "from_address" not in errors and not _looks_like_address(address):
            errors["from_address"] = INVALID_ADDRESS
        days = data.get("history_days")
        if (
            "history_days" not in errors
            and days is not None
            and not (isinstance(days, int) and 0 <= days <= MAX_HISTORY_DAYS)
        ):
            errors["history_days"] = INVALID_HISTORY_DAYS
        if errors:
            return errors
        try:
            settings = _settings(data)
        except EmailSettingsError:  # unreachable: the checks above catch each cause first
            return {BASE_ERROR: CANNOT_CONNECT}
        for name, server in (("imap_security", settings.imap), ("smtp_security", settings.smtp)):
            try:
                check_plaintext(server)
            except UnencryptedRefusedError:
                errors[name] = UNENCRYPTED_NOT_ALLOWED
        try:
            ssl_context(settings.imap.ca_pem)
        except InvalidCaError:
            errors["ca_certificate"] = INVALID_CA
        return errors

    async def validate(self, data: dict[str, Any]) -> str | None:
        """Log in to IMAP, then to SMTP: the first refusal or silence names the server."""
        settings = _settings(data)
        try:
            await imap.check_login(settings.imap, timeout=LOGIN_TIMEOUT)
        except imap.ImapAuthError:
            return AUTH_FAILED
        except imap.ImapTlsError:
            return CERTIFICATE_INVALID
        except (imap.ImapError, OSError, UnicodeError):
            return CANNOT_CONNECT
        try:
            await smtp.check_login(settings.smtp, timeout=LOGIN_TIMEOUT)
        except smtp.SmtpAuthError:
            return SMTP_AUTH_FAILED
        except smtp.SmtpTlsError:
            return CERTIFICATE_INVALID
        except smtp.SmtpError:
            return SMTP_CANNOT_CONNECT
        return None

    def entry_title(self, data: dict[str, Any]) -> str:
        """The sending address, else the IMAP username."""
        for name in ("from_address", "imap_username"):
            value = data.get(name)
            if isinstance(value, str) and value.strip():
                return value.strip()
        return self.domain

    def _reauth_form(self, errors: dict[str, str]) -> FlowResult:
        shown = {item.name for item in SCHEMA if item.name in SECRET_FIELDS}
        # A stored field gone wrong (not on this form) is reported for the whole form.
        errors = {(name if name in shown else BASE_ERROR): key for name, key in errors.items()}
        return self.async_show_form(
            step_id=STEP_REAUTH,
            data_schema=[item for item in SCHEMA if item.name in shown],
            errors=errors,
            description_placeholders={"account": self.entry_title(self._collected)},
        )


def _settings(data: dict[str, Any]) -> EmailSettings:
    secrets = {name: str(data.get(name) or "") for name in SECRET_FIELDS}
    return EmailSettings.from_entry(data, secrets)


def _looks_like_address(value: str) -> bool:
    local, at, domain = value.strip().rpartition("@")
    return bool(local and at and domain) and not any(
        ch.isspace() or ch in "<>,;" for ch in value.strip()
    )


def _is_host(value: str) -> bool:
    """A name DNS could hold (international names too) or an IP address, brackets allowed."""
    host = value.strip()
    try:
        ipaddress.ip_address(host[1:-1] if host.startswith("[") and host.endswith("]") else host)
    except ValueError:
        pass
    else:
        return True
    try:
        encoded = host.encode("idna")  # refuses a label past 63 characters, among others
    except UnicodeError:
        return False
    labels = encoded.removesuffix(b".").split(b".")
    return len(encoded) <= 253 and all(_LABEL.fullmatch(label) for label in labels)
