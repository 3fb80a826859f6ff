"""``EmailReader`` against a real Dovecot: new mail once, oldest first, in batches, never \\Seen."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from hub.integrations.capabilities import IncomingMessage
from integrations.email.imap import ImapAuthError
from integrations.email.reader import EmailReader
from tests.support.dovecot import DovecotServer

pytestmark = pytest.mark.usefixtures("no_lingering_tasks")


def mail(number: int, *, sender: str = "bob@example.net", extra: bytes = b"") -> bytes:
    """A small message whose subject and id carry ``number``."""
    return (
        f"From: Bob <{sender}>\r\nTo: alice@example.org\r\nSubject: Message {number}\r\n"
        f"Message-ID: <m{number}@example.net>\r\n".encode()
        + extra
        + f"\r\nBody of message {number}.\r\n".encode()
    )


@pytest.fixture
async def reader(dovecot: DovecotServer) -> AsyncIterator[EmailReader]:
    """Alice's reader, closed after the test."""
    reader = EmailReader(
        dovecot.settings(), history_days=30, own_addresses=["alice@example.org"], timeout=10
    )
    yield reader
    await reader.aclose()


def subjects(messages: list[IncomingMessage]) -> list[str]:
    """The subjects, in the order returned."""
    return [message.subject for message in messages]


async def test_new_mail_arrives_once_oldest_first_and_stays_unread(
    dovecot: DovecotServer, reader: EmailReader
) -> None:
    for number in (1, 2, 3):
        await dovecot.deliver(mail(number))
    await dovecot.deliver(mail(4, sender="alice@example.org"))
    first = await reader.list_messages(None, 10)
    assert subjects(first) == ["Message 1", "Message 2", "Message 3", "Message 4"]
    assert [m.external_id for m in first] == [
        "m1@example.net",
        "m2@example.net",
        "m3@example.net",
        "m4@example.net",
    ]
    assert [m.from_me for m in first] == [False, False, False, True]
    assert first[0].body == "Body of message 1."
    assert first[0].sender_address == "bob@example.net"
    assert await reader.list_messages(None, 10) == []
    await dovecot.deliver(mail(5))
    assert subjects(await reader.list_messages("INBOX", 10)) == ["Message 5"]
    assert await dovecot.seen_flags() == [False] * 5


async def test_a_backlog_drains_batch_by_batch(dovecot: DovecotServer, reader: EmailReader) -> None:
    await dovecot.deliver_many([mail(number) for number in range(1, 121)])
    batches = []
    while batch := await reader.list_messages(None, 50):
        batches.append(batch)
    assert [len(batch) for batch in batches] == [50, 50, 20]
    seen = [m.subject for batch in batches for m in batch]
    assert seen == [f"Message {number}" for number in range(1, 121)]


async def test_a_call_cancelled_half_way_loses_nothing(
    dovecot: DovecotServer, reader: EmailReader
) -> None:
    await dovecot.deliver_many([mail(number) for number in range(1, 301)])
    # The hub's deadline may cancel a call at any point; try a few points.
    for delay in (0.0, 0.01, 0.05):
        task = asyncio.create_task(reader.list_messages(None, 300))
        await asyncio.sleep(delay)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    seen: list[str] = []
    while batch := await reader.list_messages(None, 100):
        seen.extend(m.subject for m in batch)
    assert seen == [f"Message {number}" for number in range(1, 301)]


async def test_the_first_read_reaches_back_history_days_only(
    dovecot: DovecotServer, reader: EmailReader
) -> None:
    now = datetime.now(UTC)
    await dovecot.deliver(mail(1), received=now - timedelta(days=90))
    await dovecot.deliver(mail(2), received=now - timedelta(days=5))
    assert subjects(await reader.list_messages(None, 10)) == ["Message 2"]
    # What arrives later is read even when it claims to be old (a move from another folder).
    await dovecot.deliver(mail(3), received=now - timedelta(days=400))
    assert subjects(await reader.list_messages(None, 10)) == ["Message 3"]


async def test_an_empty_window_still_skips_the_old_mail_later(dovecot: DovecotServer) -> None:
    old = datetime.now(UTC) - timedelta(days=90)
    await dovecot.deliver(mail(1), received=old)
    reader = EmailReader(dovecot.settings(), history_days=30, timeout=10)
    try:
        assert await reader.list_messages(None, 10) == []
        await dovecot.deliver(mail(2))
        assert subjects(await reader.list_messages(None, 10)) == ["Message 2"]
    finally:
        await reader.aclose()


async def test_a_recreated_folder_is_read_again_from_its_new_start(
    dovecot: DovecotServer, reader: EmailReader
) -> None:
    await dovecot.create_folder("Projects")
    for number in (1, 2, 3):
        await dovecot.deliver(mail(number), folder="Projects")
    assert len(await reader.list_messages("Projects", 10)) == 3
    await dovecot.delete_folder("Projects")
    await dovecot.create_folder("Projects")
    await dovecot.deliver(mail(7), folder="Projects")
    # UID 1 again, below the old cursor: only a new UIDVALIDITY says it is new.
    assert subjects(await reader.list_messages("Projects", 10)) == ["Message 7"]
    assert await reader.list_messages("Projects", 10) == []


async def test_the_reader_reconnects_after_the_server_went_away(
    dovecot: DovecotServer, reader: EmailReader
) -> None:
    await dovecot.deliver(mail(1))
    assert subjects(await reader.list_messages(None, 10)) == ["Message 1"]
    await dovecot.stop()
    await dovecot.start()
    await dovecot.deliver(mail(2))
    assert subjects(await reader.list_messages(None, 10)) == ["Message 2"]


async def test_a_refused_password_raises_an_auth_error(dovecot: DovecotServer) -> None:
    reader = EmailReader(dovecot.settings(password="wrong"), timeout=10)
    with pytest.raises(ImapAuthError):
        await reader.list_messages(None, 10)
    await reader.aclose()


async def test_a_30_mb_message_is_read_without_downloading_it(
    dovecot: DovecotServer, reader: EmailReader
) -> None:
    attachment = b"QUFBQUFB" * 9 + b"\r\n"  # 74 bytes of base64 a line
    raw = (
        b"From: bob@example.net\r\nSubject: The big one\r\nMessage-ID: <big@example.net>\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nSee the attached scan.\r\n"
        b"--b\r\nContent-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="scan.bin"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + attachment * (30 * 1024 * 1024 // 74)
        + b"--b--\r\n"
    )
    await dovecot.deliver(raw)
    await dovecot.deliver(mail(2))
    messages = await reader.list_messages(None, 10)
    assert subjects(messages) == ["The big one", "Message 2"]
    assert messages[0].body == "See the attached scan."
    await reader.aclose()
    # Dovecot logs what each session sent: two deliveries, then the reader's, far less than 30 MB.
    sessions = await dovecot.log_matches(r"imap\(alice\).*Logged out in=\d+ out=(\d+)", at_least=3)
    assert int(sessions[2][1]) < 2 * 1024 * 1024
