"""IMAP's wire format, apart from any connection: parsing responses, quoting, dates, names.

Pure functions over bytes; malformed input raises ``MalformedResponseError`` (a ``ValueError``).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Final

_MONTHS: Final = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip
LITERAL_END: Final = re.compile(rb"\{(\d{1,10})\+?\}\r\n$")
"""A line that announces a literal: its bytes follow."""
MAX_DEPTH: Final = 32
"""Parentheses nested deeper than this are refused (a BODYSTRUCTURE needs a handful)."""
_LITERAL: Final = re.compile(rb"\{(\d{1,10})\+?\}\r\n")
_QUOTABLE: Final = re.compile(r"[\x01-\x09\x0b\x0c\x0e-\x7f]*")


class MalformedResponseError(ValueError):
    """The server's answer does not follow IMAP's grammar."""


Value = bytes | list["Value"] | None
"""A parsed IMAP value: an atom, string or literal as bytes, a parenthesized list, or NIL."""


@dataclass(frozen=True, slots=True)
class Response:
    """One server response: ``tag`` is ``*`` for untagged, ``+`` for a continuation."""

    tag: str
    raw: bytes
    """The whole response, literals included, without the final CRLF."""

    @property
    def words(self) -> list[str]:
        """The first few space-separated words after the tag, upper-cased (for dispatch)."""
        head = self.raw.split(b"\r\n", 1)[0].split(b" ", 4)[1:4]
        return [word.decode("ascii", "replace").upper() for word in head]

    @property
    def text(self) -> str:
        """The response's first line after the tag, for error messages."""
        line = self.raw.split(b"\r\n", 1)[0]
        return line.split(b" ", 1)[1].decode("utf-8", "replace") if b" " in line else ""


def imap_date(day: datetime) -> str:
    """A SEARCH date: ``5-Dec-2026`` (English month names, whatever the locale)."""
    return f"{day.day}-{_MONTHS[day.month - 1]}-{day.year}"


def parse_internaldate(text: str) -> datetime | None:
    """``05-Dec-2026 04:00:00 +0100`` as an aware datetime, or None when it does not parse."""
    match = re.fullmatch(
        r"\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\s*", text
    )
    if match is None or match[2].title() not in _MONTHS:
        return None
    offset = timedelta(hours=int(match[8]), minutes=int(match[9]))
    try:
        return datetime(
            int(match[3]),
            _MONTHS.index(match[2].title()) + 1,
            int(match[1]),
            int(match[4]),
            int(match[5]),
            int(match[6]),
            tzinfo=timezone(-offset if match[7] == "-" else offset),
        )
    except ValueError:
        return None


def parse_values(data: bytes) -> list[Value]:
    """Parse IMAP data (atoms, quoted strings, literals, lists, NIL) into values."""
    return _parse_list(data, 0, depth=0)[0]


def _parse_list(data: bytes, pos: int, *, depth: int) -> tuple[list[Value], int]:
    if depth > MAX_DEPTH:
        raise MalformedResponseError("parentheses nested too deep")
    nested = depth > 0
    values: list[Value] = []
    size = len(data)
    while pos < size:
        char = data[pos]
        if char in b" \r\n":
            pos += 1
        elif char == ord(")"):
            if nested:
                return values, pos + 1
            pos += 1
        elif char == ord("("):
            inner, pos = _parse_list(data, pos + 1, depth=depth + 1)
            values.append(inner)
        elif char == ord('"'):
            value, pos = _parse_quoted(data, pos + 1)
            values.append(value)
        elif char == ord("{"):
            match = _LITERAL.match(data, pos)
            if match is None:
                raise MalformedResponseError("malformed literal")
            start = match.end()
            length = int(match[1])
            if start + length > size:
                raise MalformedResponseError("a literal is cut short")
            values.append(data[start : start + length])
            pos = start + length
        else:
            atom, pos = _parse_atom(data, pos)
            values.append(None if atom.upper() == b"NIL" else atom)
    if nested:
        raise MalformedResponseError("unbalanced parentheses")
    return values, pos


def _parse_quoted(data: bytes, pos: int) -> tuple[bytes, int]:
    out = bytearray()
    while pos < len(data):
        char = data[pos]
        if char == ord("\\") and pos + 1 < len(data):
            out.append(data[pos + 1])
            pos += 2
        elif char == ord('"'):
            return bytes(out), pos + 1
        else:
            out.append(char)
            pos += 1
    raise MalformedResponseError("unterminated quoted string")


def _parse_atom(data: bytes, pos: int) -> tuple[bytes, int]:
    # A fetch item such as BODY[HEADER.FIELDS (FROM)]<0> keeps its brackets and spaces whole.
    start, depth = pos, 0
    while pos < len(data):
        char = data[pos]
        if char == ord("["):
            depth += 1
        elif char == ord("]") and depth:
            depth -= 1
        elif depth == 0 and char in b" ()\r\n":
            break
        pos += 1
    return data[start:pos], pos


def quote(value: str) -> bytes | None:
    """``value`` as a quoted string, or None when it needs a literal (CR, LF, NUL, non-ASCII)."""
    if _QUOTABLE.fullmatch(value) is None:
        return None
    return b'"' + value.replace("\\", "\\\\").replace('"', '\\"').encode("ascii") + b'"'


def encode_mailbox(name: str) -> str:
    """A mailbox name in IMAP's modified UTF-7 (RFC 3501 5.1.3)."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            utf16 = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(utf16).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def fetch_items(response: Response) -> tuple[int, dict[str, Value]] | None:
    """A ``* n FETCH (...)`` response as its sequence number and items by upper-case name."""
    words = response.words
    if response.tag != "*" or len(words) < 2 or words[1] != "FETCH" or not words[0].isdigit():
        return None
    parts = response.raw.split(b" ", 3)
    values = parse_values(parts[3] if len(parts) == 4 else b"")
    if not values or not isinstance(values[0], list):
        raise MalformedResponseError("malformed FETCH response")
    pairs = values[0]
    items: dict[str, Value] = {}
    for index in range(0, len(pairs) - 1, 2):
        key = pairs[index]
        if isinstance(key, bytes):
            items[key.decode("ascii", "replace").upper()] = pairs[index + 1]
    return int(words[0]), items


def response_code(response: Response) -> str | None:
    """The bracketed code of a status response (``AUTHENTICATIONFAILED``, ``UIDVALIDITY 3``)."""
    match = re.match(rb"[^ ]+ [A-Za-z]+ \[([^\]]*)\]", response.raw)
    return match[1].decode("ascii", "replace") if match else None
