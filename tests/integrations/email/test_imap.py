"""``ImapClient`` and ``check_login`` against a real Dovecot, and against servers that misbehave."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

import pytest

from integrations.email.imap import (
    ImapAuthError,
    ImapClient,
    ImapConnectionError,
    ImapError,
    ImapTlsError,
    check_login,
)
from integrations.email.imap_wire import encode_mailbox, parse_internaldate, parse_values
from integrations.email.tls import (
    InvalidCaError,
    ServerSettings,
    UnencryptedRefusedError,
    check_plaintext,
    ssl_context,
)
from tests.bench.startup import free_port
from tests.support.dovecot import USERS, DovecotServer

pytestmark = pytest.mark.usefixtures("no_lingering_tasks")

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.mark.parametrize("user", ["alice", "bob", "carol"])
async def test_login_works_for_passwords_that_need_quoting_or_a_literal(
    dovecot: DovecotServer, user: str
) -> None:
    client = ImapClient(dovecot.settings(user), timeout=10)
    await client.connect()
    await client.login()
    assert "IDLE" in client.capabilities
    mailbox = await client.select("INBOX")
    assert mailbox.exists == 0
    assert mailbox.uidvalidity > 0
    await client.logout()
    assert not client.connected


async def test_a_wrong_password_is_an_auth_error_that_never_shows_the_password(
    dovecot: DovecotServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-Alice's-p4ssword"
    with pytest.raises(ImapAuthError) as caught:
        await check_login(dovecot.settings(password=wrong), timeout=10)
    assert isinstance(caught.value, ImapAuthError)
    assert not isinstance(caught.value, ConnectionError)
    assert wrong not in str(caught.value)
    assert wrong not in repr(dovecot.settings(password=wrong))
    assert wrong not in caplog.text


async def test_a_closed_port_is_a_connection_error() -> None:
    settings = ServerSettings("127.0.0.1", free_port(), "none", "alice", "pw")
    with pytest.raises(ImapConnectionError):
        await check_login(settings, timeout=5)


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_tls_is_verified_against_the_pasted_ca(dovecot: DovecotServer, security: str) -> None:
    settings = dovecot.settings(security=security, ca_pem=dovecot.ca_pem)  # type: ignore[arg-type]
    await check_login(settings, timeout=10)
    # The certificate names both localhost and 127.0.0.1: a name it lacks is refused.
    with pytest.raises(ImapTlsError):
        await check_login(replace(settings, host="127.0.0.2"), timeout=10)


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_tls_without_the_ca_is_refused_as_a_certificate_error(
    dovecot: DovecotServer, security: str
) -> None:
    with pytest.raises(ImapTlsError) as caught:
        await check_login(dovecot.settings(security=security), timeout=10)  # type: ignore[arg-type]
    assert "certificate" in str(caught.value)


async def test_plain_text_only_on_loopback_or_when_allowed(dovecot: DovecotServer) -> None:
    remote = ServerSettings("mail.example.org", 143, "none", "alice", "secret")
    with pytest.raises(UnencryptedRefusedError):
        check_plaintext(remote)
    with pytest.raises(UnencryptedRefusedError):
        await check_login(remote, timeout=5)  # refused before any connection is tried
    check_plaintext(replace(remote, allow_unencrypted=True))
    for host in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST."):
        check_plaintext(replace(remote, host=host))
    check_plaintext(replace(remote, security="starttls"))
    await check_login(dovecot.settings(host="localhost"), timeout=10)


def test_a_pasted_ca_that_is_not_a_certificate_is_refused() -> None:
    for bad in ("hello", "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"):
        with pytest.raises(InvalidCaError):
            ssl_context(bad)
    assert ssl_context(None).check_hostname
    assert ssl_context("  ").check_hostname


@asynccontextmanager
async def fake_server(handler: Handler) -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 running ``handler`` per connection; yields its port."""
    tasks: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def test_a_silent_server_times_out_as_a_connection_error() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    async with fake_server(silent) as port:
        settings = ServerSettings("127.0.0.1", port, "none", "alice", "pw")
        with pytest.raises(ImapConnectionError):
            await check_login(settings, timeout=0.5)


async def test_an_endless_line_or_a_huge_literal_is_refused_not_buffered() -> None:
    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK " + b"x" * 10_000)
        await writer.drain()
        await reader.read()

    async def huge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK {999999999}\r\n")
        await writer.drain()
        await reader.read()

    for handler in (flood, huge):
        async with fake_server(handler) as port:
            settings = ServerSettings("127.0.0.1", port, "none", "alice", "pw")
            client = ImapClient(settings, timeout=5, max_line=1024, max_literal=4096)
            with pytest.raises(ImapError):
                await client.connect()
            assert not client.connected


async def test_a_server_that_hangs_up_is_a_connection_error() -> None:
    async def rude(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK ready\r\n")
        await writer.drain()
        await reader.readline()  # CAPABILITY, then hang up

    async with fake_server(rude) as port:
        settings = ServerSettings("127.0.0.1", port, "none", "alice", "pw")
        with pytest.raises(ImapConnectionError):
            await check_login(settings, timeout=5)


async def test_a_server_echoing_the_password_in_its_refusal_is_masked() -> None:
    password = "echo-me-Secret-9"

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK ready\r\n")
        while line := await reader.readline():
            tag, command = line.split(b" ", 2)[:2]
            if command.upper() == b"CAPABILITY":
                writer.write(b"* CAPABILITY IMAP4rev1\r\n" + tag + b" OK done\r\n")
            elif command.upper() == b"LOGIN":
                writer.write(tag + b" NO bad: " + line.strip() + b"\r\n")
            else:
                writer.write(tag + b" OK\r\n")
            await writer.drain()

    async with fake_server(echo) as port:
        settings = ServerSettings("127.0.0.1", port, "none", "alice", password)
        with pytest.raises(ImapAuthError) as caught:
            await check_login(settings, timeout=5)
    assert password not in str(caught.value)
    assert "***" in str(caught.value)


def test_fetch_data_with_literals_lists_and_nil_parses() -> None:
    data = b'(UID 7 FLAGS (\\Seen) BODY[HEADER]<0> {5}\r\nab\r\nc ENVELOPE NIL X "q\\"d")'
    [items] = parse_values(data)
    assert items == [
        b"UID",
        b"7",
        b"FLAGS",
        [b"\\Seen"],
        b"BODY[HEADER]<0>",
        b"ab\r\nc",
        b"ENVELOPE",
        None,
        b"X",
        b'q"d',
    ]


def test_malformed_fetch_data_is_refused_not_crashed_on() -> None:
    for bad in (b"(" * 10_000, b"(UID 1", b'"open', b"{5}\r\nab", b"{x}\r\n"):
        with pytest.raises(ValueError):  # noqa: PT011  # MalformedResponseError, whichever
            parse_values(bad)


def test_dates_and_mailbox_names() -> None:
    parsed = parse_internaldate(" 5-Dec-2026 04:00:00 +0130")
    assert parsed is not None
    assert parsed.isoformat() == "2026-12-05T04:00:00+01:30"
    assert parse_internaldate("yesterday") is None
    assert encode_mailbox("INBOX") == "INBOX"
    assert encode_mailbox("Entwürfe & Co") == "Entw&APw-rfe &- Co"


async def test_mailbox_names_that_are_not_ascii_round_trip(dovecot: DovecotServer) -> None:
    await dovecot.create_folder("Entw&APw-rfe")
    client = ImapClient(dovecot.settings(), timeout=10)
    await client.connect()
    await client.login()
    mailbox = await client.select("Entwürfe")
    assert mailbox.uidvalidity > 0
    await client.logout()


def test_users_have_the_passwords_the_tests_expect() -> None:
    assert not USERS["carol"].isascii()
    assert '"' in USERS["bob"]


async def test_a_server_at_its_connection_limit_is_busy_not_a_wrong_password(
    dovecot: DovecotServer,
) -> None:
    # Dovecot allows ten connections per user and address; the eleventh login is answered
    # "NO [LIMIT]", which must not ask the person for a new password.
    settings = dovecot.settings("alice")
    clients = []
    try:
        for _ in range(10):
            client = ImapClient(settings)
            await client.connect()
            await client.login()
            clients.append(client)
        with pytest.raises(ImapConnectionError, match="unavailable") as caught:
            await check_login(settings, timeout=10)
        assert not isinstance(caught.value, ImapAuthError)
    finally:
        for client in clients:
            await client.close()
