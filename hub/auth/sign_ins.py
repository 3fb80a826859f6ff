"""Sign-in and token bookkeeping: what ``.storage/auth`` holds, and how each change makes the next."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any, Final

from hub.auth.models import Person, TokenRecord

REFRESH_PREFIX: Final = "hrt_"
LONG_LIVED_PREFIX: Final = "hlt_"
REFRESH_IDLE_SECONDS: Final = 30 * 86_400
"""A sign-in not refreshed for 30 days ends: a forgotten browser's token stops being a key."""
MAX_SIGN_INS: Final = 100
"""Sign-ins kept per person; a new one drops the least recently used (a browser long gone)."""
MAX_LONG_LIVED: Final = 50
"""Named tokens per person; the 51st is refused, since dropping a script's token would break it."""
KEEP_ROTATED: Final = 20
"""Earlier refresh tokens remembered per sign-in, to recognise a stolen one being replayed."""


@dataclass(frozen=True, slots=True)
class AuthState:
    """People and tokens as stored; every change builds a new one (its dicts are never mutated)."""

    people: dict[str, Person]
    tokens: dict[str, TokenRecord]

    @classmethod
    def from_json(cls, data: Any, now: float) -> AuthState:
        """Read what ``encode`` stored; expired sign-ins are dropped (the next save drops them)."""
        records = (TokenRecord.from_json(t) for t in data["tokens"])
        return cls(
            {p["person_id"]: Person(**p) for p in data["people"]},
            {t.token_id: t for t in records if not expired(t, now)},
        )

    def encode(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "people": [asdict(p) for p in self.people.values()],
            "tokens": [asdict(t) for t in self.tokens.values()],
        }

    def with_person(self, person: Person) -> AuthState:
        """A person added or changed."""
        return replace(self, people={**self.people, person.person_id: person})

    def without_person(self, person_id: str) -> AuthState:
        """A person and every token they hold gone."""
        people = {pid: p for pid, p in self.people.items() if pid != person_id}
        return replace(self, people=people).without_tokens(self.held_by(person_id))

    def with_token(self, record: TokenRecord) -> AuthState:
        """A token added or changed (a rotated refresh token keeps its id)."""
        return replace(self, tokens={**self.tokens, record.token_id: record})

    def without_tokens(self, token_ids: Iterable[str]) -> AuthState:
        """Tokens gone."""
        doomed = set(token_ids)
        if not doomed:
            return self
        return replace(self, tokens={i: t for i, t in self.tokens.items() if i not in doomed})

    def tokens_of(self, person_id: str) -> list[TokenRecord]:
        """A person's tokens, oldest first."""
        return sorted(
            (t for t in self.tokens.values() if t.person_id == person_id),
            key=lambda t: t.created_at,
        )

    def held_by(self, person_id: str, *, keep: str | None = None) -> list[str]:
        """The ids of a person's tokens, but ``keep``."""
        return [
            t.token_id
            for t in self.tokens.values()
            if t.person_id == person_id and t.token_id != keep
        ]


@dataclass(frozen=True, slots=True)
class TokenIndex:
    """Tokens by the hash of what their holder presents, and earlier refresh tokens' hashes."""

    by_hash: dict[str, TokenRecord]
    by_rotated: dict[str, str]
    """An earlier refresh token's hash → its sign-in's id."""

    @classmethod
    def of(cls, tokens: Iterable[TokenRecord]) -> TokenIndex:
        """The index of ``tokens``."""
        by_hash: dict[str, TokenRecord] = {}
        by_rotated: dict[str, str] = {}
        for record in tokens:
            by_hash[record.token_hash] = record
            for old in record.rotated:
                by_rotated[old] = record.token_id
        return cls(by_hash, by_rotated)


def new_sign_in(
    state: AuthState, person: Person, client: str, *, limit: int, now: float
) -> tuple[AuthState, TokenRecord, str, list[str]]:
    """A new sign-in: the next state, its record, its refresh token, and the ids it pushed out.

    Expired sign-ins of the person go, and the least recently used beyond ``limit``.
    """
    token = REFRESH_PREFIX + secrets.token_urlsafe(32)
    record = TokenRecord(
        token_id=secrets.token_hex(8),
        person_id=person.person_id,
        kind="refresh",
        name=f"sign-in from {client}"[:100],
        token_hash=digest(token),
        created_at=now,
        last_used=now,
    )
    state = state.with_token(record)
    sign_ins = [t for t in state.tokens_of(person.person_id) if t.kind == "refresh"]
    stale = [t for t in sign_ins if expired(t, now)]
    fresh = sorted((t for t in sign_ins if not expired(t, now)), key=lambda t: t.used_at)
    dropped = [t.token_id for t in stale + fresh[: max(0, len(fresh) - limit)]]
    return state.without_tokens(dropped), record, token, dropped


def rotate(record: TokenRecord, now: float) -> tuple[TokenRecord, str]:
    """The sign-in with a new refresh token (the old one remembered as rotated), and the token."""
    token = REFRESH_PREFIX + secrets.token_urlsafe(32)
    rotated = replace(
        record,
        token_hash=digest(token),
        last_used=now,
        rotated=(*record.rotated, record.token_hash)[-KEEP_ROTATED:],
    )
    return rotated, token


def expired(record: TokenRecord, now: float) -> bool:
    """Whether a sign-in went unused for longer than ``REFRESH_IDLE_SECONDS``."""
    return record.kind == "refresh" and now - record.used_at > REFRESH_IDLE_SECONDS


def digest(token: str) -> str:
    """What is stored of a token: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()
