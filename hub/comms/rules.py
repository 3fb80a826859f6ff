"""Triage rules: each person's (and the household's) way of saying what matters, and the pure decision.

Stored in ``.storage/comms.triage_rules``, keyed by person id; the household's rules (for messages
of household channels) under ``HOUSEHOLD``. A person without rules of their own gets the defaults.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from hub.core.committed import CommittedItems
from hub.core.storage import StorageManager

RULES_KEY: Final = "comms.triage_rules"
HOUSEHOLD: Final = "@household"
"""The key of the household's rules, which no person id can be."""
MAX_KEYWORDS: Final = 200
MAX_ENTRIES: Final = 1_000
SCANNED_BODY: Final = 4_000
"""Characters of a body searched for keywords: the opening says what a message is about."""

Importance = Literal["high", "normal", "low"]
Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class _Rules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Keywords(_Rules):
    """Words that make a message high or low importance (case-insensitive, subject and body)."""

    high: tuple[Keyword, ...] = Field(default=(), max_length=MAX_KEYWORDS)
    low: tuple[Keyword, ...] = Field(default=(), max_length=MAX_KEYWORDS)


class TriageRules(_Rules):
    """``GET/PUT /api/inbox/rules``: one person's rules; every field has a default."""

    keywords: Keywords = Keywords()
    contacts: dict[str, Literal["high", "low"]] = Field(
        default_factory=dict, max_length=MAX_ENTRIES
    )
    """Contact id (as text, JSON keys are) → its messages' importance."""
    channels: dict[str, Importance] = Field(default_factory=dict, max_length=MAX_ENTRIES)
    """Entry id → the importance of its messages when nothing more specific applies."""
    known_contacts: Literal["normal", "high"] = "normal"
    """The importance of a message from a contact seen before, when nothing more specific applies."""
    draft_replies: Literal["never", "high_known", "high"] = "never"
    """When triage proposes a reply (a model writes it; a person approves it like any draft)."""

    @field_validator("contacts")
    @classmethod
    def _contact_ids(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if not key.isdigit() or len(key) > 18:
                raise ValueError(f"{key[:40]!r} is not a contact id")
        return value


def decide(
    rules: TriageRules,
    *,
    entry_id: str,
    subject: str,
    body: str,
    contact_id: int | None,
    known: bool,
) -> tuple[Importance, bool]:
    """The message's importance, and whether a rule said so explicitly (a model may not overrule).

    The most specific rule wins: the contact's, a high keyword, a low keyword, the channel's, then
    ``known_contacts`` for a sender seen before; else normal.
    """
    if contact_id is not None:
        by_contact = rules.contacts.get(str(contact_id))
        if by_contact is not None:
            return by_contact, True
    text = f"{subject}\n{body[:SCANNED_BODY]}".casefold()
    if any(word.casefold() in text for word in rules.keywords.high):
        return "high", True
    if any(word.casefold() in text for word in rules.keywords.low):
        return "low", True
    by_channel = rules.channels.get(entry_id)
    if by_channel is not None:
        return by_channel, True
    if known and rules.known_contacts == "high":
        return "high", True
    return "normal", False


def wants_draft(rules: TriageRules, importance: str, *, known: bool) -> bool:
    """Whether triage should propose a reply to a message of this importance."""
    if importance != "high":
        return False
    return rules.draft_replies == "high" or (rules.draft_replies == "high_known" and known)


def summary_line(subject: str, body: str, limit: int = 140) -> str:
    """A one-line summary without a model: the subject, else the body's first line, trimmed."""
    for text in (subject, *body.splitlines()[:50]):
        line = " ".join(text.split())
        if line:
            return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
    return ""


class RulesStore:
    """Every person's triage rules and the household's, in one storage file."""

    def __init__(self, storage: StorageManager) -> None:
        self._items = CommittedItems[str, TriageRules](storage.store(RULES_KEY, 1), _encode)
        self._loaded = False

    async def load(self) -> None:
        """Read the stored rules (once; later calls keep what memory has)."""
        if self._loaded:
            return
        data = await self._items.store.load()
        if data is not None:
            self._items.reset(
                {key: TriageRules.model_validate(value) for key, value in data["rules"].items()}
            )
        self._loaded = True

    def of(self, key: str) -> TriageRules:
        """A person's rules (``HOUSEHOLD`` for the household's); the defaults until saved."""
        return self._items.value.get(key, TriageRules())

    async def put(self, key: str, rules: TriageRules) -> TriageRules:
        """Replace a person's (or the household's) rules."""
        await self.load()
        await self._items.set_item(key, rules)
        return rules

    async def forget_person(self, person_id: str) -> None:
        """Drop a removed person's rules."""
        await self.load()
        if person_id in self._items.value:
            await self._items.set_item(person_id, None)


def _encode(items: dict[str, TriageRules]) -> dict[str, Any]:
    return {"rules": {key: rules.model_dump(mode="json") for key, rules in items.items()}}
