"""``parse_message`` on the mail strangers send: malformed, mislabelled, oversized, hostile."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hub.integrations.capabilities import IncomingMessage
from integrations.email.mime import MAX_BODY, html_to_text, parse_message

OWN = frozenset({"alice@example.org"})


def parse(raw: bytes, internal_date: datetime | None = None) -> IncomingMessage:
    """Parse as the reader does, UID 7 under UIDVALIDITY 99 in INBOX."""
    return parse_message(
        raw,
        uid=7,
        uidvalidity=99,
        folder="INBOX",
        own_addresses=OWN,
        internal_date=internal_date,
    )


PLAIN = (
    b"From: =?utf-8?q?Bj=C3=B6rn_M=C3=BCller?= <Bjoern@Example.NET>\r\n"
    b"To: Alice <alice@example.org>, carol@example.com\r\n"
    b"Cc: dave@example.com\r\n"
    b"Subject: =?utf-8?b?R3LDvMOfZQ==?= from Bj\xc3\xb6rn\r\n"
    b"Date: Fri, 04 Dec 2026 10:00:00 +0100\r\n"
    b"Message-ID: <abc.123@example.net>\r\n"
    b"References: <root@example.net> <parent@example.net>\r\n"
    b"In-Reply-To: <parent@example.net>\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Hallo Alice,\r\nbis Freitag.\r\n"
)


def test_a_plain_message_becomes_an_incoming_message() -> None:
    message = parse(PLAIN)
    assert message.external_id == "abc.123@example.net"
    assert message.thread_id == "root@example.net"
    assert message.sender == "Björn Müller"
    assert message.sender_address == "Bjoern@Example.NET"
    assert message.recipients == ("alice@example.org", "carol@example.com", "dave@example.com")
    assert message.subject == "Grüße from Björn"
    assert message.body == "Hallo Alice,\nbis Freitag."
    assert message.received_at == datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    assert message.folder == "INBOX"
    assert not message.from_me


def test_threading_falls_back_to_in_reply_to_then_the_own_id() -> None:
    reply = parse(b"Message-ID: <b@x>\r\nIn-Reply-To: <a@x>\r\n\r\nhi\r\n")
    assert reply.thread_id == "a@x"
    first = parse(b"Message-ID: <a@x>\r\n\r\nhi\r\n")
    assert first.thread_id == "a@x"


def test_missing_headers_get_an_id_from_the_uid_and_a_date_from_the_server() -> None:
    arrived = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    message = parse(b"\r\nno headers at all\r\n", internal_date=arrived)
    assert message.external_id == "uid-99-7"
    assert message.thread_id == "uid-99-7"
    assert message.received_at == arrived
    assert message.sender == ""
    undated = parse(b"Date: the day after tomorrow\r\n\r\nx")
    assert undated.received_at.tzinfo is not None
    assert abs((datetime.now(UTC) - undated.received_at).total_seconds()) < 3600


def test_mail_from_an_own_address_is_marked_from_me() -> None:
    assert parse(b"From: Alice <ALICE@example.org>\r\n\r\nsent\r\n").from_me


def test_html_only_mail_is_read_as_its_text() -> None:
    raw = (
        b"Content-Type: text/html; charset=iso-8859-1\r\n\r\n"
        b"<html><head><title>T</title><style>p{color:red}</style></head><body>"
        b"<script>alert('x')</script><p>Gr\xfc\xdfe &amp; hello</p><p>line&nbsp;two<br>three</p>"
        b"</body></html>"
    )
    body = parse(raw).body
    assert body.splitlines() == ["Grüße & hello", "", "line two", "three"]
    assert "alert" not in body
    assert "color" not in body
    assert html_to_text("<p>unclosed <b>tags <i>everywhere") == "\nunclosed tags everywhere"


def test_plain_text_is_preferred_over_html_and_attachments_stay_out() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n'
        b"--outer\r\n"
        b'Content-Type: multipart/alternative; boundary="inner"\r\n\r\n'
        b"--inner\r\nContent-Type: text/plain\r\n\r\nthe plain words\r\n"
        b"--inner\r\nContent-Type: text/html\r\n\r\n<p>the html words</p>\r\n"
        b"--inner--\r\n"
        b"--outer\r\n"
        b'Content-Type: text/plain; name="secret.txt"\r\n'
        b'Content-Disposition: attachment; filename="secret.txt"\r\n\r\n'
        b"ATTACHMENT-BYTES\r\n"
        b"--outer\r\n"
        b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"JVBERi0xLjQK\r\n"
        b"--outer--\r\n"
    )
    message = parse(raw)
    assert message.body == "the plain words"
    # What was attached is listed by name, type and size; its bytes are kept nowhere.
    assert [(a.filename, a.content_type, a.size) for a in message.attachments] == [
        ("secret.txt", "text/plain", 16),
        ("", "application/pdf", 9),
    ]
    assert "ATTACHMENT-BYTES" not in json.dumps(message.model_dump(mode="json"))


def test_unknown_and_bogus_charsets_are_decoded_with_replacement() -> None:
    for charset in (b"x-unknown-42", b"base64_codec", b"rot13", b'"'):
        raw = b"Content-Type: text/plain; charset=" + charset + b"\r\n\r\ncaf\xe9 ok\r\n"
        body = parse(raw).body
        assert body.startswith("caf")
        assert body.endswith(" ok")
    raw = b"Subject: caf\xe9 \xff\r\nFrom: J\xe9r\xf4me <j@x.org>\r\n\r\n\xff\xfe"
    message = parse(raw)
    json.dumps(message.model_dump(mode="json"))  # every text is encodable
    assert message.subject.startswith("caf")


def test_malformed_mime_never_raises() -> None:
    samples = [
        b'Content-Type: multipart/mixed; boundary="never-closed"\r\n\r\n--never-closed\r\n'
        b"Content-Type: text/plain\r\n\r\nkept text",
        b"Content-Type: multipart/mixed\r\n\r\nno boundary at all",
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64$$$",
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=\r\n",
        b"From: <<<@@@>>>\r\nTo: ,,,;;;\r\nMessage-ID: <>\r\nReferences: < >\r\n\r\nx",
        b"Content-Type: ;;;\r\n\r\nbody",
        b"\x00\x01\x02 binary junk \xff\xfe",
        b"",
    ]
    for raw in samples:
        message = parse(raw)
        assert message.external_id
        json.dumps(message.model_dump(mode="json"))
    assert parse(samples[0]).body == "kept text"


def test_a_huge_body_is_capped_at_64_kib_of_text() -> None:
    raw = b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + "ü".encode() * 200_000
    body = parse(raw).body
    assert len(body.encode()) <= MAX_BODY
    assert len(body.encode()) > MAX_BODY - 4
    assert set(body) == {"ü"}


def test_header_injection_stays_text_in_one_line() -> None:
    raw = (
        b"Subject: =?utf-8?q?Invoice=0D=0ABcc=3A_attacker=40evil=2Eexample?=\r\n"
        b"From: =?utf-8?q?Eve=0D=0AX-Evil=3A_1?= <eve@evil.example>\r\n"
        b"\r\nbody\r\n"
    )
    message = parse(raw)
    assert message.subject == "Invoice Bcc: attacker@evil.example"
    assert "\n" not in message.sender
    assert "\r" not in message.sender
    assert message.sender_address == "eve@evil.example"


def test_giant_headers_are_cut_before_they_are_parsed() -> None:
    raw = b"To: " + b"a@b.example, " * 500_000 + b"\r\nSubject: " + b"x" * 1_000_000 + b"\r\n\r\nhi"
    message = parse(raw)
    assert 0 < len(message.recipients) < 5000
    assert len(message.subject) <= 2000
    assert message.body == "hi"
