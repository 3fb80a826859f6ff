"""A raw mail message as an ``IncomingMessage``: headers decoded, body as plain text, bounded.

Mail comes from strangers, so nothing here trusts it: a header that does not parse is read as
text, an unknown charset decodes with replacement characters, HTML is reduced to its text, and
attachments never reach the body. The work is CPU-bound; callers run it on a worker thread.
"""

from __future__ import annotations

import codecs
import contextlib
import email.utils
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import Final

from hub.integrations.capabilities import AttachmentInfo, IncomingMessage

MAX_BODY: Final = 64 * 1024
"""Bytes of UTF-8 text kept of a body."""
MAX_PART: Final = 4 * 1024 * 1024
"""Bytes of one part decoded at most: the kept text lies near the start anyway."""
MAX_HTML: Final = 1024 * 1024
"""Characters of HTML parsed at most, to bound the parser's work."""
MAX_HEADER: Final = 2000
"""Characters kept of a one-line header (subject, sender)."""
MAX_RAW_HEADER: Final = 32 * 1024
"""Characters of one header decoded at most (an address list of a few hundred recipients)."""
MAX_ATTACHMENTS: Final = 100
_TEXTS: Final = frozenset({"plain", "html"})
MAX_ID: Final = 998
"""A message id's length at most (RFC 5322's line limit)."""
_ID: Final = re.compile(r"<([^<>\s]+)>")
_SPACE: Final = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_LINES: Final = re.compile(r"\n\s*\n(\s*\n)+")
_BLOCK_TAGS: Final = frozenset(
    {"p", "div", "br", "li", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
     "pre", "hr", "section", "article", "header", "footer", "ul", "ol", "dd", "dt"}
)  # fmt: skip
_HIDDEN_TAGS: Final = frozenset({"script", "style", "head", "title", "template", "noscript"})
_PARSER: Final = BytesParser(policy=policy.compat32)
"""compat32 keeps headers as raw text: ``policy.default`` would build a structured header for
every look at one (content types while walking the parts too); here only the few read are."""


def parse_message(
    raw: bytes,
    *,
    uid: int,
    uidvalidity: int,
    folder: str,
    own_addresses: frozenset[str],
    internal_date: datetime | None = None,
) -> IncomingMessage:
    """Parse ``raw`` (a whole message, or its header and the start of its body)."""
    message = _PARSER.parsebytes(raw)
    sender_name, sender_address = _first_address(header(message, "From"))
    if not sender_address:
        sender_name, sender_address = _first_address(header(message, "Sender"))
    recipients = tuple(
        address
        for name in ("To", "Cc")
        for _, address in email.utils.getaddresses([header(message, name)])
        if address
    )
    own_id = _ids(raw_header(message, "Message-ID"))
    external_id = own_id[0] if own_id else f"uid-{uidvalidity}-{uid}"
    references = _ids(raw_header(message, "References")) or _ids(raw_header(message, "In-Reply-To"))
    return IncomingMessage(
        external_id=external_id,
        sender=_one_line(sender_name or sender_address),
        sender_address=_one_line(sender_address),
        recipients=recipients,
        subject=_one_line(header(message, "Subject")),
        body=body_text(message),
        thread_id=references[0] if references else external_id,
        received_at=_date(raw_header(message, "Date")) or internal_date or datetime.now(UTC),
        folder=folder,
        from_me=sender_address.lower() in {address.lower() for address in own_addresses},
        attachments=attachments(message),
    )


def attachments(message: Message) -> tuple[AttachmentInfo, ...]:
    """What the message carries beside its text: names, types and sizes (never the bytes)."""
    found = []
    for part in _walk(message):
        if part.is_multipart() or part is message:
            continue
        text = part.get_content_maintype() == "text" and part.get_content_subtype() in _TEXTS
        if text and not (_is_attachment(part) or _filename(part)):
            continue  # a body alternative, not something attached
        payload = part.get_payload()
        size = len(payload) if isinstance(payload, str) else 0
        if str(part.get("Content-Transfer-Encoding", "")).strip().lower() == "base64":
            size = size * 3 // 4  # what the encoded text decodes to, near enough
        found.append(
            AttachmentInfo(
                filename=_one_line(_filename(part)),
                content_type=_one_line(part.get_content_type()),
                size=size,
            )
        )
        if len(found) >= MAX_ATTACHMENTS:
            break
    return tuple(found)


def _filename(part: Message) -> str:
    try:
        return clean(part.get_filename() or "")
    except Exception:  # noqa: BLE001  # a malformed parameter is a nameless attachment
        return ""


def raw_header(message: Message, name: str) -> str:
    """A header's text as sent (ids and dates are ASCII: nothing to decode), or ``""``."""
    value = message.get(name)
    return "" if value is None else clean(str(value)[:MAX_RAW_HEADER])


def header(message: Message, name: str) -> str:
    """A header's decoded text, or its raw text when decoding fails, or ``""``; always encodable."""
    wanted = name.lower()
    raw = next((str(value) for key, value in message.raw_items() if key.lower() == wanted), None)
    if raw is None:
        return ""
    # Cut before decoding: the structured header parsers are slow on huge input.
    raw = raw[:MAX_RAW_HEADER]
    try:
        return clean(str(policy.default.header_fetch_parse(name, raw)))
    except Exception:  # noqa: BLE001  # the stdlib's header decoders raise many kinds on bad input
        return clean(raw)


def clean(text: str) -> str:
    """``text`` with undecodable bytes (kept by the parser as surrogates) as U+FFFD."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def _first_address(value: str) -> tuple[str, str]:
    try:
        pairs = email.utils.getaddresses([value])
    except Exception:  # noqa: BLE001  # a malformed address list is just not an address
        return "", ""
    for name, address in pairs:
        if address or name:
            return name, address
    return "", ""


def _ids(value: str) -> list[str]:
    found = [match[:MAX_ID] for match in _ID.findall(value)]
    if not found and value.strip():
        found = [value.split()[0].strip("<>")[:MAX_ID]]
    return [found_id for found_id in found if found_id]


def _one_line(value: str) -> str:
    """A header value on one line: folded or smuggled line breaks become spaces."""
    text = " ".join(value.replace("\x00", "").split())
    return text[:MAX_HEADER]


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def body_text(message: Message) -> str:
    """The message's text: its text/plain part, else its HTML as text; at most ``MAX_BODY``."""
    part = _text_part(message)
    if part is None:
        return ""
    text = _decode(part)
    if part.get_content_subtype() == "html":
        text = html_to_text(text[:MAX_HTML])
    text = _BLANK_LINES.sub("\n\n", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    return cap(text)


def cap(text: str, limit: int = MAX_BODY) -> str:
    """``text`` cut to ``limit`` bytes of UTF-8, never inside a character."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


def _text_part(message: Message) -> Message | None:
    if isinstance(message, EmailMessage):
        try:
            body = message.get_body(preferencelist=("plain", "html"))
        except Exception:  # noqa: BLE001  # malformed structure: fall back to walking it
            body = None
        if body is not None:
            return body
    plain: Message | None = None
    html: Message | None = None
    for part in _walk(message):
        if part.get_content_maintype() != "text" or _is_attachment(part):
            continue
        if part.get_content_subtype() == "plain" and plain is None:
            plain = part
        elif part.get_content_subtype() == "html" and html is None:
            html = part
    return plain or html


def _walk(message: Message) -> Iterable[Message]:
    # A broken tree ends the walk, not the message.
    with contextlib.suppress(Exception):
        yield from message.walk()


def _is_attachment(part: Message) -> bool:
    try:
        return part.get_content_disposition() == "attachment"
    except Exception:  # noqa: BLE001
        return True


def _decode(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001  # broken transfer encoding: nothing usable
        return ""
    if not isinstance(payload, bytes):
        return ""
    charset = _charset(part)
    return payload[:MAX_PART].decode(charset, "replace")


def _charset(part: Message) -> str:
    try:
        name = part.get_content_charset() or "utf-8"
        codec = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        return "utf-8"
    # Only text codecs: a "charset" naming e.g. base64_codec or rot13 is not one.
    return codec.name if codec._is_text_encoding else "utf-8"


class _TextExtractor(HTMLParser):
    """Collects the visible text of HTML, with line breaks where blocks end."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden += 1
        elif tag in _BLOCK_TAGS:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.chunks.append(data)


def html_to_text(html: str) -> str:
    """The visible text of ``html``: no tags, scripts or styles; blocks on their own lines."""
    extractor = _TextExtractor()
    try:
        extractor.feed(html)
        extractor.close()
    except Exception:  # noqa: BLE001, S110  # keep what was read before the parser gave up
        pass
    lines = (_SPACE.sub(" ", line).strip() for line in "".join(extractor.chunks).split("\n"))
    return "\n".join(lines)
