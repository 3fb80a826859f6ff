"""An account, a stored token, and what a sign-in answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

TokenKind = Literal["refresh", "long_lived"]


@dataclass(frozen=True, slots=True)
class Person:
    """An account; ``password_hash`` never leaves this module's storage."""

    person_id: str
    username: str
    display_name: str
    language: str | None
    is_admin: bool
    password_hash: str
    created_at: float
    removing: bool = False
    """Being removed: signed out and unable to sign in while their entries and data go."""

    def public(self) -> dict[str, Any]:
        """What a client may see."""
        return {
            "id": self.person_id,
            "username": self.username,
            "display_name": self.display_name,
            "language": self.language,
            "is_admin": self.is_admin,
        }


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A refresh or long-lived token; only its SHA-256 is stored."""

    token_id: str
    person_id: str
    kind: TokenKind
    name: str
    token_hash: str
    created_at: float
    last_used: float = 0.0
    """Unix time of the sign-in's last refresh (0: never refreshed since ``created_at``)."""
    rotated: tuple[str, ...] = ()
    """SHA-256 of this sign-in's earlier refresh tokens: presenting one again ends the sign-in."""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenRecord:
        """Read what ``asdict`` stored (records from before rotation have neither new field)."""
        return cls(**{**data, "rotated": tuple(data.get("rotated", ()))})

    @property
    def used_at(self) -> float:
        """When the token was last issued or refreshed."""
        return self.last_used or self.created_at

    def public(self) -> dict[str, Any]:
        """What a client may see (never the hash)."""
        return {
            "id": self.token_id,
            "kind": self.kind,
            "name": self.name,
            "created_at": self.created_at,
            "last_used": self.used_at,
        }


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What a login or an onboarding answers."""

    access_token: str
    refresh_token: str
    expires_in: int
    token_id: str

    def body(self) -> dict[str, Any]:
        """The JSON body of the answer."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }
