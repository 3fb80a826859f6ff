"""Sending mail over SMTP (aiosmtplib): the login check the flow runs, and ``EmailSender``."""

from __future__ import annotations

import asyncio
import email.policy
import email.utils
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, Final

import aiosmtplib

from hub.integrations.capabilities import MessageAttachment
from hub.integrations.integration import ConfigEntryAuthFailed

from .tls import ServerSettings, check_plaintext, ssl_context

SEND_TIMEOUT: Final = 60.0
_HEADER_BREAKS: Final = ("\r", "\n")


class SmtpError(Exception):
    """The SMTP server did not take the message."""


class SmtpAuthError(SmtpError):
    """The server refused the username or password."""


class SmtpConnectionError(SmtpError, ConnectionError):
    """The server could not be reached, dropped the connection, or answered "try again later"."""


class SmtpTlsError(SmtpConnectionError):
    """The server's certificate did not verify (against the system store or the pasted CA)."""


class SmtpRejectedError(SmtpError, ValueError):
    """The server refused this message for good (an unknown recipient, a sender it rejects)."""


async def check_login(
    settings: ServerSettings,
    *,
    timeout: float,  # noqa: ASYNC109  # aiosmtplib's deadline for each step, as imap.check_login
) -> None:
    """Connect, EHLO, STARTTLS when asked, AUTH when offered; raise the typed error on failure."""
    try:
        # Each step has ``timeout``; the whole check no more than twice it, as on the IMAP side.
        async with asyncio.timeout(timeout * 2), _session(settings, timeout=timeout):
            pass
    except TimeoutError:
        raise SmtpConnectionError(f"{settings.host} did not answer in time") from None


class EmailSender:
    """Implements ``MessageSenderProvider`` for one account; each send is its own SMTP session."""

    def __init__(
        self, settings: ServerSettings, from_address: str, *, timeout: float = SEND_TIMEOUT
    ) -> None:
        """Send as ``from_address`` through ``settings``' server."""
        self._settings = settings
        self._from = from_address
        self._timeout = timeout

    async def send(
        self,
        to: str,
        subject: str,
        body: str,
        in_reply_to: str | None,
        cc: Sequence[str],
        attachments: Sequence[MessageAttachment],
    ) -> dict[str, Any]:
        """Deliver one message; ``{"message_id": <its id without brackets>}``.

        Bad input raises ``ValueError`` naming the field; a refused login
        ``ConfigEntryAuthFailed``; an unreachable server ``ConnectionError``.
        """
        message = build_message(
            from_address=self._from,
            to=to,
            subject=subject,
            body=body,
            in_reply_to=in_reply_to,
            cc=cc,
            attachments=attachments,
        )
        try:
            async with _session(self._settings, timeout=self._timeout) as client:
                await _deliver(client, message)
        except SmtpAuthError as err:
            raise ConfigEntryAuthFailed(str(err)) from None
        return {"message_id": str(message["Message-ID"]).strip().strip("<>")}


def build_message(
    *,
    from_address: str,
    to: str,
    subject: str,
    body: str,
    in_reply_to: str | None,
    cc: Sequence[str],
    attachments: Sequence[MessageAttachment],
) -> EmailMessage:
    """The message as it goes out; ``ValueError`` names a field that could inject a header."""
    _single_line("to", to)
    _single_line("subject", subject)
    for address in cc:
        _single_line("cc", address)
    _address("to", to)
    for address in cc:
        _address("cc", address)
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = from_address
    message["To"] = to
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Date"] = email.utils.format_datetime(datetime.now(UTC))
    # An explicit domain: without one make_msgid asks DNS for this host's name (blocking).
    domain = from_address.rpartition("@")[2] or "hub.invalid"
    message["Message-ID"] = email.utils.make_msgid(domain=domain)
    if in_reply_to is not None and _is_message_id(in_reply_to):
        message["In-Reply-To"] = f"<{in_reply_to}>"
        message["References"] = f"<{in_reply_to}>"
    message.set_content(body)
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        if not subtype or any(ch in attachment.content_type for ch in _HEADER_BREAKS):
            maintype, subtype = "application", "octet-stream"
        message.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return message


def _single_line(field: str, value: str) -> None:
    if any(ch in value for ch in _HEADER_BREAKS):
        raise ValueError(f"{field}: must not contain line breaks")


def _address(field: str, value: str) -> None:
    _, address = email.utils.parseaddr(value)
    local, at, domain = address.rpartition("@")
    if not (local and at and domain) or any(ch.isspace() for ch in address):
        raise ValueError(f"{field}: {value!r} is not an email address")


def _is_message_id(value: str) -> bool:
    # A message without a Message-ID is known by "uid-<validity>-<uid>": nothing to thread on.
    return "@" in value and not any(ch.isspace() or ch in "<>" for ch in value)


@asynccontextmanager
async def _session(
    settings: ServerSettings,
    *,
    timeout: float,  # noqa: ASYNC109  # aiosmtplib applies it to each read and write
) -> AsyncIterator[aiosmtplib.SMTP]:
    """A connected, authenticated session; the typed errors above for every failure."""
    check_plaintext(settings)
    secure = settings.security != "none"
    client = aiosmtplib.SMTP(
        hostname=settings.host,
        port=settings.port,
        use_tls=settings.security == "tls",
        # False, not None: None would upgrade whenever offered, and "none" means plain text.
        start_tls=settings.security == "starttls",
        tls_context=ssl_context(settings.ca_pem) if secure else None,
        timeout=timeout,
    )
    try:
        await client.connect()
        if client.is_ehlo_or_helo_needed:  # connect() greets only when it upgraded to TLS
            await client.ehlo()
        if client.supports_extension("auth"):
            await client.login(settings.username, settings.password)
    except aiosmtplib.SMTPAuthenticationError as err:
        await _close(client)
        raise SmtpAuthError(f"the SMTP server refused the login ({err.code})") from None
    except (aiosmtplib.SMTPException, OSError, UnicodeError) as err:
        # UnicodeError: a host name IDNA cannot encode never reaches DNS.
        await _close(client)
        raise _connection_error(settings, err) from None
    try:
        yield client
    finally:
        await _close(client)


async def _deliver(client: aiosmtplib.SMTP, message: EmailMessage) -> None:
    try:
        await client.send_message(message)
    except aiosmtplib.SMTPRecipientsRefused as err:
        codes = ", ".join(str(refused.code) for refused in err.recipients)
        raise SmtpRejectedError(f"the SMTP server refused the recipient ({codes})") from None
    except aiosmtplib.SMTPResponseException as err:
        if 500 <= err.code < 600:
            raise SmtpRejectedError(f"the SMTP server refused the message ({err.code})") from None
        raise SmtpConnectionError(f"the SMTP server answered {err.code}; try again") from None
    except (aiosmtplib.SMTPException, OSError) as err:
        raise SmtpConnectionError(f"the SMTP connection failed ({type(err).__name__})") from None


def _connection_error(settings: ServerSettings, err: BaseException) -> SmtpConnectionError:
    where = f"{settings.host}:{settings.port}"
    if _verification_failed(err):
        return SmtpTlsError(f"the certificate of {where} did not verify")
    return SmtpConnectionError(f"cannot reach the SMTP server {where} ({type(err).__name__})")


def _verification_failed(err: BaseException | None) -> bool:
    # aiosmtplib wraps the handshake's failure; its cause (or the text) tells verification apart.
    seen = 0
    while err is not None and seen < 8:
        if isinstance(err, ssl.SSLCertVerificationError):
            return True
        if "CERTIFICATE_VERIFY_FAILED" in str(err):
            return True
        err = err.__cause__ or err.__context__
        seen += 1
    return False


async def _close(client: aiosmtplib.SMTP) -> None:
    if not client.is_connected:
        return
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError):
        client.close()
