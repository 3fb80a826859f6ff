"""The one entity type: a mail as the inbox and the search index see it."""

from __future__ import annotations

from typing import Final

from hub.integrations.entities import EntityStateRecord, EntityStateTypeDescriptor
from hub.integrations.manifest import FieldDescriptor

EMAIL_MESSAGE_TYPE: Final = "email_message"
_SEARCH_BODY_CHARS: Final = 16 * 1024
"""What search indexes of a body: the start carries the meaning; quoted history follows it."""


def email_text(record: EntityStateRecord) -> str:
    """What search finds a mail by: its subject, its sender, then its body."""
    attributes = record.attributes
    subject = attributes.get("subject") or record.name
    sender = attributes.get("sender") or ""
    address = attributes.get("sender_address") or ""
    who = f"{sender} <{address}>" if sender and address else sender or address
    lines = [f"Subject: {subject}"]
    if who:
        lines.append(f"From: {who}")
    body = attributes.get("body")
    if isinstance(body, str) and body:
        lines.extend(("", body[:_SEARCH_BODY_CHARS]))
    return "\n".join(lines)


# The English here is the fallback: a person reads translations/<lang>.json "entity.email_message".
EMAIL_MESSAGE: Final = EntityStateTypeDescriptor(
    key=EMAIL_MESSAGE_TYPE,
    name="Email message",
    attributes=(
        FieldDescriptor(name="sender", label="From", required=False),
        FieldDescriptor(name="sender_address", label="Sender address", required=False),
        FieldDescriptor(name="recipients", label="To", required=False),
        FieldDescriptor(name="subject", label="Subject", required=False),
        FieldDescriptor(name="body", label="Text", required=False),
        FieldDescriptor(name="thread_id", label="Thread", required=False),
        FieldDescriptor(name="received_at", label="Received", type="datetime"),
        FieldDescriptor(name="folder", label="Folder", required=False),
        FieldDescriptor(name="from_me", label="Sent by me", type="bool"),
    ),
    rag=True,
    to_text=email_text,
    message=True,
)
