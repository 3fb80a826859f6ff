"""The ``signal_message`` type, and a bridge's envelopes read as channel-neutral messages.

Signal has no threads: a message's ``thread_id`` is its conversation, the other party's number
for a direct chat or ``group.<id>`` (the bridge's name for a group) for a group, so the inbox
shows each chat as one thread. A message is identified by its conversation, author and timestamp
(Signal's own identity of a message is the author and the timestamp).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from hub.integrations.capabilities import AttachmentInfo, IncomingMessage
from hub.integrations.entities import EntityStateRecord, EntityStateTypeDescriptor
from hub.integrations.manifest import FieldDescriptor

_LOGGER = logging.getLogger(__name__)

SIGNAL_MESSAGE_TYPE: Final = "signal_message"
GROUP_PREFIX: Final = "group."
MAX_TEXT: Final = 64 * 1024
_SEARCH_CHARS: Final = 16 * 1024


def signal_text(record: EntityStateRecord) -> str:
    """What search finds a message by: who wrote it, then what they wrote."""
    attributes = record.attributes
    who = attributes.get("sender") or attributes.get("sender_address") or ""
    body = attributes.get("body")
    text = body[:_SEARCH_CHARS] if isinstance(body, str) else ""
    return f"{who}: {text}" if who else text


# The English here is the fallback: a person reads translations/<lang>.json "entity.signal_message".
SIGNAL_MESSAGE: Final = EntityStateTypeDescriptor(
    key=SIGNAL_MESSAGE_TYPE,
    name="Signal message",
    attributes=(
        FieldDescriptor(name="sender", label="From", required=False),
        FieldDescriptor(name="sender_address", label="Number", required=False),
        FieldDescriptor(name="recipients", label="To", required=False),
        FieldDescriptor(name="body", label="Text", required=False),
        FieldDescriptor(name="thread_id", label="Chat", required=False),
        FieldDescriptor(name="received_at", label="Received", type="datetime"),
        FieldDescriptor(name="from_me", label="Sent by me", type="bool"),
    ),
    rag=True,
    to_text=signal_text,
    message=True,
)


def group_thread(group_id: str) -> str:
    """The bridge's id of a group (what ``/v2/send`` takes), from an envelope's ``groupId``."""
    return GROUP_PREFIX + base64.b64encode(group_id.encode("utf-8")).decode("ascii")


def external_id(thread: str, author: str, timestamp: int) -> str:
    """A message's stable id: its conversation, its author and its timestamp."""
    return f"{thread}/{author}/{timestamp}"


def thread_of(message_id: str) -> str | None:
    """The conversation part of an id made by ``external_id``."""
    thread, _, rest = message_id.partition("/")
    return thread if rest else None


def messages(items: Iterable[Any], number: str) -> list[IncomingMessage]:
    """The text messages among a receive's envelopes; receipts, typing and the like are left out."""
    found: list[IncomingMessage] = []
    for item in items:
        try:
            message = _message(item, number)
        except (TypeError, ValueError, OverflowError) as err:
            # One odd envelope must not cost the others: the bridge has already forgotten them.
            _LOGGER.warning("Skipped an envelope the bridge sent for %s: %s", number, err)
            continue
        if message is not None:
            found.append(message)
    return found


def _message(item: Any, number: str) -> IncomingMessage | None:
    envelope = item.get("envelope") if isinstance(item, Mapping) else None
    if not isinstance(envelope, Mapping):
        return None
    author = _text(envelope.get("sourceNumber")) or _text(envelope.get("source"))
    author = author or _text(envelope.get("sourceUuid"))
    name = _text(envelope.get("sourceName"))
    data = envelope.get("dataMessage")
    sync = envelope.get("syncMessage")
    sent = sync.get("sentMessage") if isinstance(sync, Mapping) else None
    if isinstance(data, Mapping):
        body, from_me, peer = data.get("message"), False, author
    elif isinstance(sent, Mapping):  # written on the person's phone: theirs, in the chat it went to
        data, body, from_me = sent, sent.get("message"), True
        peer = _text(sent.get("destinationNumber")) or _text(sent.get("destination"))
        author, name = number, ""
    else:
        return None
    attachments = _attachments(data.get("attachments"))
    if not isinstance(body, str) and not attachments:
        return None  # a reaction, an edit or a deletion: nothing to read
    text = body[:MAX_TEXT] if isinstance(body, str) else ""
    timestamp = _timestamp(data.get("timestamp"), envelope.get("timestamp"))
    group = data.get("groupInfo")
    group_id = group.get("groupId") if isinstance(group, Mapping) else None
    thread = group_thread(group_id) if isinstance(group_id, str) and group_id else peer
    if not author or not thread:
        raise ValueError("an envelope without a sender")
    return IncomingMessage(
        external_id=external_id(thread, author, timestamp),
        sender=name or author,
        sender_address=author,
        recipients=(thread if from_me else number,),
        body=text,
        thread_id=thread,
        received_at=datetime.fromtimestamp(timestamp / 1000, UTC),
        from_me=from_me,
        attachments=attachments,
    )


def _attachments(value: Any) -> tuple[AttachmentInfo, ...]:
    if not isinstance(value, list):
        return ()
    found = []
    for item in value[:100]:
        if isinstance(item, Mapping):
            size = item.get("size")
            found.append(
                AttachmentInfo(
                    filename=_text(item.get("filename"))[:200],
                    content_type=_text(item.get("contentType"))[:100] or "application/octet-stream",
                    size=size if isinstance(size, int) and size >= 0 else 0,
                )
            )
    return tuple(found)


def _timestamp(*values: Any) -> int:
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    raise ValueError("an envelope without a timestamp")


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
