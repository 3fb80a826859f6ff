"""Who is calling: the person behind a valid token."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in person as a request or a websocket sees them."""

    person_id: str
    username: str
    display_name: str
    is_admin: bool
    language: str | None
    token_id: str
    """The refresh or long-lived token this access descends from; revoking it ends the access."""
    expires_at: float | None = None
    """Unix time the access token stops working (``None`` for a long-lived token)."""
