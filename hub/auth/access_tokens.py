"""Access tokens: short-lived, HMAC-signed with a key that lives only as long as the process."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Final

from hub.auth.models import TokenPair, TokenRecord

ACCESS_TOKEN_SECONDS: Final = 1800
ACCESS_PREFIX: Final = "hat1"


class AccessTokens:
    """Issues and reads access tokens ``hat1.<token id>.<expiry>.<signature>``."""

    def __init__(self) -> None:
        # Access tokens are short-lived; a key that dies with the process only means a refresh.
        self._signing_key = secrets.token_bytes(32)

    def pair(self, record: TokenRecord, refresh_token: str) -> TokenPair:
        """A new access token descending from ``record``, beside its refresh (or new) token."""
        return TokenPair(self.issue(record), refresh_token, ACCESS_TOKEN_SECONDS, record.token_id)

    def issue(self, record: TokenRecord) -> str:
        """An access token descending from ``record``, good for ``ACCESS_TOKEN_SECONDS``."""
        expires = str(int(time.time()) + ACCESS_TOKEN_SECONDS)
        return f"{ACCESS_PREFIX}.{record.token_id}.{expires}.{self._sign(f'{record.token_id}.{expires}')}"

    def read(self, bearer: str) -> tuple[str, float] | None:
        """The token id and expiry a well-signed access token names, or ``None``."""
        parts = bearer.split(".")
        if len(parts) != 4 or parts[0] != ACCESS_PREFIX:
            return None
        _, token_id, expires, signature = parts
        expected = self._sign(f"{token_id}.{expires}")
        if not hmac.compare_digest(expected, signature):
            return None
        try:
            return token_id, float(expires)
        except ValueError:
            return None

    def _sign(self, payload: str) -> str:
        digest = hmac.new(self._signing_key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")
