"""``EmailSender`` against a real aiosmtpd on 127.0.0.1: what arrives, and what never leaves."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hub.integrations.capabilities import MessageAttachment
from hub.integrations.integration import ConfigEntryAuthFailed
from integrations.email.smtp import EmailSender, SmtpTlsError, check_login
from integrations.email.tls import Security, ServerSettings, UnencryptedRefusedError
from tests.bench.startup import free_port
from tests.support.smtp import SmtpServer

FROM = "alice@example.org"
ORIGINAL = "CAF=3Dx.1234@mail.example.net"


def sender(server: SmtpServer, security: Security = "none", **kw: str) -> EmailSender:
    """A sender as the entry would build it."""
    ca_pem = server.ca_pem if security != "none" else None
    return EmailSender(server.settings(security=security, ca_pem=ca_pem, **kw), FROM, timeout=10)


async def test_a_reply_arrives_threaded_with_every_header(smtp: SmtpServer) -> None:
    result = await sender(smtp).send(
        to="Bob <bob@example.net>",
        subject="Re: Dinner on Friday — ça va?",
        body="Friday works.\nSee you at eight.",
        in_reply_to=ORIGINAL,
        cc=["carol@example.com"],
        attachments=(),
    )
    [received] = smtp.messages
    assert received.login == "alice"
    assert received.mail_from == FROM
    assert set(received.rcpt_tos) == {"bob@example.net", "carol@example.com"}
    message = received.message
    assert message["From"] == FROM
    assert message["To"] == "Bob <bob@example.net>"
    assert message["Cc"] == "carol@example.com"
    assert message["Subject"] == "Re: Dinner on Friday — ça va?"
    assert message["In-Reply-To"] == f"<{ORIGINAL}>"
    assert message["References"] == f"<{ORIGINAL}>"
    assert message["Date"]
    assert message["Message-ID"] == f"<{result['message_id']}>"
    assert result["message_id"].endswith("@example.org")
    body = message.get_body(("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == "Friday works.\nSee you at eight.\n"


async def test_a_new_message_has_no_threading_and_carries_its_attachment(smtp: SmtpServer) -> None:
    attachment = MessageAttachment(filename="list.txt", content_type="text/plain", data=b"eggs\n")
    await sender(smtp).send(
        to="bob@example.net",
        subject="Shopping",
        body="See the list.",
        in_reply_to=None,
        cc=(),
        attachments=[attachment],
    )
    [received] = smtp.messages
    message = received.message
    assert message["In-Reply-To"] is None
    assert message["References"] is None
    [part] = list(message.iter_attachments())
    assert part.get_filename() == "list.txt"
    assert part.get_content() == "eggs\n"


@pytest.mark.parametrize(
    ("field", "to", "subject", "cc"),
    [
        ("to", "bob@example.net\r\nBcc: eve@example.com", "Hi", []),
        ("subject", "bob@example.net", "Hi\nBcc: eve@example.com", []),
        ("cc", "bob@example.net", "Hi", ["carol@example.com\r\nBcc: eve@example.com"]),
        ("to", "not an address", "Hi", []),
    ],
)
async def test_header_injection_and_non_addresses_are_refused_before_anything_is_sent(
    smtp: SmtpServer, field: str, to: str, subject: str, cc: list[str]
) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        await sender(smtp).send(
            to=to, subject=subject, body="x", in_reply_to=None, cc=cc, attachments=()
        )
    assert smtp.messages == []


async def test_a_wrong_password_asks_for_reauth_and_sends_nothing(smtp: SmtpServer) -> None:
    with pytest.raises(ConfigEntryAuthFailed) as caught:
        await sender(smtp, password="wrong-password-123").send(
            to="bob@example.net", subject="Hi", body="x", in_reply_to=None, cc=(), attachments=()
        )
    assert "wrong-password-123" not in str(caught.value)
    assert smtp.messages == []
    assert smtp.recorder.failed_logins >= 1  # aiosmtplib tries each offered mechanism


async def test_a_closed_port_is_a_connection_error() -> None:
    with pytest.raises(ConnectionError):
        await EmailSender(nowhere(free_port()), FROM, timeout=5).send(
            to="bob@example.net", subject="Hi", body="x", in_reply_to=None, cc=(), attachments=()
        )


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_tls_verifies_against_the_pasted_ca(smtp: SmtpServer, security: Security) -> None:
    await sender(smtp, security).send(
        to="bob@example.net", subject="Hi", body="x", in_reply_to=None, cc=(), attachments=()
    )
    assert len(smtp.messages) == 1


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_tls_without_the_ca_fails_verification(smtp: SmtpServer, security: Security) -> None:
    with pytest.raises(SmtpTlsError):
        await check_login(smtp.settings(security=security), timeout=10)
    assert smtp.messages == []


async def test_plain_text_to_another_host_is_refused_unless_allowed() -> None:
    remote = nowhere(587, host="mail.example.org")
    with pytest.raises(UnencryptedRefusedError):
        await check_login(remote, timeout=5)
    # Allowed, the check passes and the (unreachable) server is tried.
    allowed = replace(remote, host="192.0.2.1", allow_unencrypted=True)
    with pytest.raises(ConnectionError):
        await check_login(allowed, timeout=0.5)


def nowhere(port: int, host: str = "127.0.0.1") -> ServerSettings:
    """Plain-text settings for where no SMTP server listens."""
    return ServerSettings(
        host=host, port=port, security="none", username="alice", password="alice-pass-1"
    )
