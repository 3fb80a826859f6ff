"""What a draft is, pure: the stored record, its JSON, its errors, and what its content may hold.

``hub.comms.drafts`` keeps drafts in ``hub.db`` and sends them; nothing here does I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Final, Literal, TypedDict

from hub.core.bus import EventType
from hub.core.errors import (
    DRAFT_CONFLICT,
    DRAFT_INVALID,
    DRAFT_NOT_FOUND,
    DRAFT_RESEND_UNCONFIRMED,
    HEADER_INJECTION,
    BadRequestError,
    HubError,
    NotFoundError,
)
from hub.entities.listing import iso_millis

DraftState = Literal["draft", "sending", "sent", "failed"]
MAX_BODY: Final = 100_000
"""Characters a draft's body may have: a long mail, not an attachment pasted as text."""
MAX_FIELD: Final = 998
"""Characters a recipient or the subject may have: RFC 5322's line limit."""
MAX_CC: Final = 50
INTERRUPTED: Final = "interrupted; it may have been sent"
"""The error of a draft that was ``sending`` when the hub stopped."""
REPLY_PREFIX: Final = "Re: "
AGENT: Final = "agent"
TRIAGE: Final = "triage"

COLUMNS: Final = (
    "id, entry_id, in_reply_to, thread_key, recipient, cc, subject, body, state, author, "
    "approved_by, error, result, created_ms, updated_ms, sent_ms"
)


class DraftEventData(TypedDict):
    """``inbox.draft``: a draft was made, changed, sent, failed or discarded (``state``)."""

    entry_id: str
    draft_id: str
    thread_key: str | None
    state: str


EVENT_INBOX_DRAFT: Final = EventType[DraftEventData]("inbox.draft")


class DraftNotFoundError(NotFoundError):
    """No draft with that id, or not one the caller may see."""

    code = DRAFT_NOT_FOUND


class DraftConflictError(HubError):
    """The draft is not in a state that allows this (sending, sent)."""

    code = DRAFT_CONFLICT
    http_status = 409


class ResendUnconfirmedError(HubError):
    """The draft's last send was interrupted: sending it again needs ``confirm_resend``."""

    code = DRAFT_RESEND_UNCONFIRMED
    http_status = 409


class DraftInvalidError(BadRequestError):
    """A draft's content is refused (empty body, no recipient, a channel that cannot send)."""

    code = DRAFT_INVALID


class HeaderInjectionError(BadRequestError):
    """A recipient or the subject holds a line break: it would forge headers of the message."""

    code = HEADER_INJECTION


@dataclass(frozen=True, slots=True)
class Draft:
    """One draft as stored; ``failure`` is the translatable form of ``error`` (code, key, params)."""

    id: str
    entry_id: str
    in_reply_to: int | None
    thread_key: str | None
    to: str
    cc: tuple[str, ...]
    subject: str
    body: str
    state: str
    author: str
    approved_by: str | None
    error: str | None
    result: dict[str, Any] | None
    created_ms: int
    updated_ms: int
    sent_ms: int | None

    @property
    def interrupted(self) -> bool:
        """Whether the last send may or may not have gone out (the hub stopped mid-send)."""
        return self.state == "failed" and self.error == INTERRUPTED

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Draft:
        """Read a row of ``COLUMNS``."""
        values = list(row)
        values[5] = tuple(json.loads(values[5]))
        values[12] = None if values[12] is None else json.loads(values[12])
        return cls(*values)

    def to_row(self) -> tuple[Any, ...]:
        """The row of ``COLUMNS`` that stores the draft."""
        values: list[Any] = [getattr(self, item.name) for item in fields(self)]
        values[5] = json.dumps(list(self.cc))
        values[12] = None if self.result is None else json.dumps(self.result)
        return tuple(values)

    def public(self, *, domain: str | None, may_approve: bool) -> dict[str, Any]:
        """The contract's draft JSON, plus ``interrupted`` and the error's translation key."""
        failure = (self.result or {}).get("failure") if self.state == "failed" else None
        return {
            "id": self.id,
            "entry_id": self.entry_id,
            "domain": domain,
            "in_reply_to": self.in_reply_to,
            "thread_key": self.thread_key,
            "to": self.to,
            "cc": list(self.cc),
            "subject": self.subject,
            "body": self.body,
            "state": self.state,
            "author": self.author,
            "approved_by": self.approved_by,
            "error": self.error,
            "error_key": failure.get("key") if failure else None,
            "error_params": failure.get("params", {}) if failure else None,
            "interrupted": self.interrupted,
            "result": (self.result or {}).get("sent") if self.state == "sent" else None,
            "created_at": iso_millis(self.created_ms / 1000),
            "updated_at": iso_millis(self.updated_ms / 1000),
            "sent_at": None if self.sent_ms is None else iso_millis(self.sent_ms / 1000),
            "may_approve": may_approve,
        }


@dataclass(frozen=True, slots=True)
class DraftChanges:
    """What a person changes on a draft; ``None`` keeps the field."""

    to: str | None = None
    cc: Sequence[str] | None = None
    subject: str | None = None
    body: str | None = None


def check_header(field: str, value: str) -> str:
    """``value`` trimmed; a line break in it is refused (it would forge another header)."""
    if "\r" in value or "\n" in value or "\x00" in value:
        raise HeaderInjectionError(
            f"{field}: must not contain a line break", key="errors.header_injection", field=field
        )
    value = value.strip()
    if len(value) > MAX_FIELD:
        raise DraftInvalidError(
            f"{field}: at most {MAX_FIELD} characters",
            key="errors.draft_field_too_long",
            field=field,
            limit=MAX_FIELD,
        )
    return value


def check_content(
    to: str, cc: Iterable[str], subject: str, body: str
) -> tuple[str, tuple[str, ...], str, str]:
    """The draft's fields as stored, or the first thing wrong with them."""
    to = check_header("to", to)
    if not to:
        raise DraftInvalidError("to: a recipient is needed", key="errors.draft_recipient_missing")
    cc_list = tuple(c for c in (check_header("cc", item) for item in cc) if c)
    if len(cc_list) > MAX_CC:
        raise DraftInvalidError(
            f"cc: at most {MAX_CC} recipients", key="errors.draft_too_many_cc", limit=MAX_CC
        )
    subject = check_header("subject", subject)
    if not body.strip():
        raise DraftInvalidError("body: write the message", key="errors.draft_body_empty")
    if len(body) > MAX_BODY:
        raise DraftInvalidError(
            f"body: at most {MAX_BODY} characters", key="errors.draft_body_too_long", limit=MAX_BODY
        )
    return to, cc_list, subject, body


def reply_subject(subject: str) -> str:
    """``Re: <subject>``, the prefix added once."""
    subject = " ".join(subject.split())
    return subject if subject.casefold().startswith("re:") else REPLY_PREFIX + subject
