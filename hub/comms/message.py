"""One inbox message: the channel's words (its entity) and the inbox's state of it (its row)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from hub.core.errors import MESSAGE_NOT_FOUND, NotFoundError

Importance = Literal["high", "normal", "low"]
IMPORTANCES: Final[tuple[Importance, ...]] = ("high", "normal", "low")


class MessageNotFoundError(NotFoundError):
    """No inbox message with that id (or not one the caller may see)."""

    code = MESSAGE_NOT_FOUND


@dataclass(frozen=True, slots=True)
class InboxMessage:
    """One message as the inbox shows it: the channel's words and the inbox's state of it."""

    entity_id: int
    entry_id: str
    domain: str
    entity_type: str
    external_id: str
    thread_key: str
    received_at: str
    sender: str
    sender_address: str
    recipients: tuple[str, ...]
    subject: str
    body: str
    importance: str | None
    summary: str | None
    triage: str
    triage_error: str | None
    read: bool
    archived: bool
    from_me: bool
    contact_id: int | None
    attachments: tuple[dict[str, Any], ...] = ()
    """Name, type and size of what came with the message (never the bytes)."""

    def to_json(self) -> dict[str, Any]:
        """As the API shows it (``id`` is the entity's id, which tools and drafts use too)."""
        return {
            "id": self.entity_id,
            "entry_id": self.entry_id,
            "domain": self.domain,
            "external_id": self.external_id,
            "thread_key": self.thread_key,
            "received_at": self.received_at,
            "sender": self.sender,
            "sender_address": self.sender_address,
            "recipients": list(self.recipients),
            "subject": self.subject,
            "body": self.body,
            "importance": self.importance,
            "summary": self.summary,
            "triage": self.triage,
            "triage_error": self.triage_error,
            "read": self.read,
            "archived": self.archived,
            "from_me": self.from_me,
            "contact_id": self.contact_id,
            "attachments": list(self.attachments),
        }


def thread_key(entry_id: str, thread_id: str | None, external_id: str) -> str:
    """The key a message's thread is grouped by: threads never span two accounts."""
    return f"{entry_id}:{thread_id or external_id}"


def received_ms(value: Any) -> int:
    """Milliseconds since the epoch of an ISO 8601 time; 0 for one that does not parse."""
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value).timestamp() * 1000)
        except ValueError:
            return 0
    return 0


COLUMNS: Final = """
    m.entity_id, e.entry_id, e.domain, e.entity_type, e.external_id, m.thread_key,
    e.attributes, m.importance, m.summary, m.triage, m.triage_error, m.read, m.archived,
    m.from_me, m.contact_id
"""


def message_from_row(row: Sequence[Any]) -> InboxMessage:
    (
        entity_id,
        entry_id,
        domain,
        entity_type,
        external_id,
        key,
        raw,
        importance,
        summary,
        triage,
        triage_error,
        read,
        archived,
        from_me,
        contact_id,
    ) = row
    attrs = attributes(raw)
    recipients = attrs.get("recipients")
    return InboxMessage(
        entity_id=int(entity_id),
        entry_id=entry_id,
        domain=domain,
        entity_type=entity_type,
        external_id=external_id,
        thread_key=key,
        received_at=_text(attrs.get("received_at")),
        sender=_text(attrs.get("sender")),
        sender_address=_text(attrs.get("sender_address")),
        recipients=tuple(str(r) for r in recipients) if isinstance(recipients, list) else (),
        subject=_text(attrs.get("subject")),
        body=_text(attrs.get("body")),
        importance=importance,
        summary=summary,
        triage=triage,
        triage_error=triage_error,
        read=bool(read),
        archived=bool(archived),
        from_me=bool(from_me),
        contact_id=contact_id,
        attachments=_attachments(attrs.get("attachments")),
    )


def _attachments(value: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, dict))


def attributes(raw: Any) -> Mapping[str, Any]:
    """An entity's stored attributes; empty when they are not a JSON object."""
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
