"""What the bridge's envelopes become: messages in their chat, and nothing for receipts or junk."""

from __future__ import annotations

import base64
from typing import Any

from integrations.signal.entities import messages

NUMBER = "+4915112345678"
ADA = "+4917012345678"


def envelope(**fields: Any) -> dict[str, Any]:
    return {
        "envelope": {"source": ADA, "sourceNumber": ADA, "timestamp": 1_700_000_000_000, **fields}
    }


def test_a_note_written_on_the_phone_is_from_me_in_the_chat_it_went_to() -> None:
    sent = {"destinationNumber": ADA, "timestamp": 1_700_000_000_500, "message": "On my way"}
    item = {"envelope": {"source": NUMBER, "timestamp": 1, "syncMessage": {"sentMessage": sent}}}
    [message] = messages([item], NUMBER)
    assert message.from_me is True
    assert message.thread_id == ADA
    assert message.sender_address == NUMBER
    assert message.recipients == (ADA,)


def test_a_picture_without_text_is_kept_with_its_attachment_listed() -> None:
    picture = {"contentType": "image/jpeg", "filename": "cat.jpg", "id": "a1", "size": 2048}
    data = {"timestamp": 1_700_000_000_000, "attachments": [picture]}
    [message] = messages([envelope(dataMessage=data)], NUMBER)
    assert message.body == ""
    assert [(a.filename, a.content_type, a.size) for a in message.attachments] == [
        ("cat.jpg", "image/jpeg", 2048)
    ]


def test_a_group_message_belongs_to_the_group() -> None:
    data = {
        "timestamp": 5,
        "message": "Hi all",
        "groupInfo": {"groupId": "abc=", "type": "DELIVER"},
    }
    [message] = messages([envelope(dataMessage=data)], NUMBER)
    assert message.thread_id == "group." + base64.b64encode(b"abc=").decode()
    assert message.sender_address == ADA


def test_receipts_typing_reactions_and_junk_are_left_out_and_the_rest_kept() -> None:
    items: list[Any] = [
        envelope(receiptMessage={"isDelivery": True, "timestamps": [1]}),
        envelope(typingMessage={"action": "STARTED"}),
        envelope(dataMessage={"timestamp": 2, "reaction": {"emoji": "👍"}}),
        envelope(timestamp=-1, dataMessage={"timestamp": -1, "message": "no time"}),
        {"envelope": {"dataMessage": {"timestamp": 3, "message": "nobody sent this"}}},
        "not even an object",
        {"envelope": None},
        envelope(dataMessage={"timestamp": 4, "message": "kept"}),
    ]
    [message] = messages(items, NUMBER)
    assert message.body == "kept"
    assert message.external_id == f"{ADA}/{ADA}/4"
