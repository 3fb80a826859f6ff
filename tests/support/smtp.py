"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests: plain with STARTTLS, and implicit TLS.

Both ports require AUTH (PLAIN or LOGIN) as one of the test users before MAIL, also over plain
text (as a loopback relay may), and keep every message they accept: the envelope, the login it came
under, and the raw bytes, parsed on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.message
import email.policy
import shutil
import ssl
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.bench.startup import free_port
from tests.support.dovecot import USERS, Certificates, MailServer, make_certificates


@dataclass(frozen=True, slots=True)
class Received:
    """One accepted message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    login: str | None
    raw: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        """The message parsed with the modern policy (``message["Subject"]`` and so on)."""
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed


class _Recorder:
    """The aiosmtpd handler: checks logins against ``USERS`` and keeps what it accepts."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users = users
        self.messages: list[Received] = []
        self.failed_logins = 0

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            login = data.login.decode("utf-8", "replace")
            password = data.password.decode("utf-8", "replace")
            if self.users.get(login) == password:
                return AuthResult(success=True, auth_data=login)
        self.failed_logins += 1
        return AuthResult(success=False, handled=False)

    async def handle_MAIL(  # aiosmtpd's name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:  # aiosmtpd's name
        content = envelope.original_content or b""
        login = session.auth_data if isinstance(session.auth_data, str) else None
        self.messages.append(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=tuple(envelope.rcpt_tos),
                login=login,
                raw=bytes(content),
            )
        )
        return "250 OK"


@dataclass
class SmtpServer(MailServer):
    """Two aiosmtpd servers sharing one mailbag: ``port`` (plain, STARTTLS offered) and ``tls_port``."""

    port: int
    tls_port: int
    certificates: Certificates
    recorder: _Recorder
    users: dict[str, str] = field(default_factory=lambda: dict(USERS))

    @property
    def messages(self) -> list[Received]:
        """Every message accepted so far, oldest first."""
        return self.recorder.messages


_STOP_TIMEOUT: Final = 10.0


@contextlib.asynccontextmanager
async def running_smtp(certificates: Certificates | None = None) -> AsyncIterator[SmtpServer]:
    """Start both servers under ``certificates`` (a fresh CA when not given); stop them after."""
    certs = certificates if certificates is not None else await asyncio.to_thread(make_certificates)
    root = Path(tempfile.mkdtemp(prefix="smtpd-", dir="/tmp"))
    recorder = _Recorder(dict(USERS))
    controllers: list[Controller] = []
    try:
        context = await asyncio.to_thread(_server_context, root, certs)
        port, tls_port = free_port(), free_port()
        while tls_port == port:
            tls_port = free_port()
        common: dict[str, Any] = {
            "hostname": "127.0.0.1",
            "server_hostname": "localhost",
            "authenticator": recorder.authenticate,
            # Required by handle_MAIL instead: aiosmtpd warns about AUTH required without TLS.
            "auth_required": False,
            "auth_require_tls": False,
        }
        plain = Controller(recorder, port=port, tls_context=context, **common)
        implicit = Controller(recorder, port=tls_port, ssl_context=context, **common)
        for controller in (plain, implicit):
            await asyncio.to_thread(controller.start)
            controllers.append(controller)
        yield SmtpServer(port=port, tls_port=tls_port, certificates=certs, recorder=recorder)
    finally:
        for controller in reversed(controllers):
            await asyncio.to_thread(_stop, controller)
        await asyncio.to_thread(shutil.rmtree, root, True)


def _server_context(root: Path, certs: Certificates) -> ssl.SSLContext:
    cert, key = root / "cert.pem", root / "key.pem"
    cert.write_text(certs.cert_pem)
    key.write_text(certs.key_pem)
    key.chmod(0o600)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def _stop(controller: Controller) -> None:
    controller.stop()
    # The controller made its own loop; closed here, it is not left for the garbage collector.
    if not controller.loop.is_closed():
        controller.loop.close()


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    """A running aiosmtpd pair with its own throwaway CA."""
    async with running_smtp() as server:
        yield server
