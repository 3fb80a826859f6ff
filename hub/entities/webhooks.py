"""Inbound webhooks: the token, the rate limit and the signature checked, then the entry's runtime."""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from typing import Any, Final

from hub.core.crypto import Keyring
from hub.core.errors import (
    ENTRY_NOT_LOADED,
    RATE_LIMITED,
    SIGNATURE_INVALID,
    HubError,
    NotFoundError,
    UnauthorizedError,
)
from hub.entities.service import EntityService
from hub.entities.webhook_replays import REPLAY_WINDOW, ReplayGuard
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.entry import ConfigEntry, EntryState
from hub.integrations.runtime import WEBHOOK

SIGNATURE_HEADER: Final = "X-Hub-Signature"
TIMESTAMP_HEADER: Final = "X-Hub-Timestamp"
SIGNING_FIELD: Final = "webhook_signing_secret"


class WebhookRateLimitedError(HubError):
    """Too many requests for this entry's webhook; ``retry_after`` says when the next may pass."""

    code = RATE_LIMITED
    http_status = 429

    def __init__(self, retry_after: float) -> None:
        super().__init__("Too many requests for this webhook")
        self.retry_after = max(1, round(retry_after))


class SignatureInvalidError(UnauthorizedError):
    """The entry requires signed requests and this one's signature does not hold."""

    code = SIGNATURE_INVALID


class EntryUnavailableError(HubError):
    """The entry is not set up, so it cannot take a webhook now; the sender may try again later."""

    code = ENTRY_NOT_LOADED
    http_status = 503
    logged = False  # the entry's state says why; a sender's retries are not the hub's errors


class TokenBuckets:
    """A token bucket per entry: ``rate`` requests a second, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str, now: float | None = None) -> float:
        """0 when a request may pass now, else the seconds until one may."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate
        self._buckets[key] = (tokens - 1, now)
        return 0.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature a sender puts in ``X-Hub-Signature``: ``sha256=`` HMAC of ``timestamp.body``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class WebhookService:
    """Admits a webhook request, checks its signature, and hands its payload to the entry."""

    def __init__(
        self,
        entries: ConfigEntries,
        keyring: Keyring,
        entities: EntityService,
        limits: TokenBuckets,
        replays: ReplayGuard,
    ) -> None:
        self._entries = entries
        self._keyring = keyring
        self._entities = entities
        self.limits = limits
        self.replays = replays

    def admit(self, entry_id: str, token: str) -> ConfigEntry:
        """The entry, if ``token`` is its webhook token and its rate allows another request."""
        if not token or not self._entries.verify_webhook(entry_id, token):
            raise NotFoundError("Not found")  # a wrong token and an unknown entry look the same
        wait = self.limits.allow(entry_id)
        if wait:
            raise WebhookRateLimitedError(wait)
        return self._entries.require(entry_id)

    async def check_signature(
        self, entry: ConfigEntry, body: bytes, timestamp: str, signature: str
    ) -> None:
        """Raise ``SignatureInvalidError`` if the entry requires signing and this does not hold."""
        problem = await self._signature_problem(entry, body, timestamp, signature)
        if problem:
            raise SignatureInvalidError(problem)

    async def handle(self, entry: ConfigEntry, payload: Any) -> dict[str, Any]:
        """Hand the payload to the integration through its runtime and apply what it returns."""
        runtime = self._entries.runtime(entry.entry_id)
        if runtime is None or entry.state is not EntryState.LOADED:
            raise EntryUnavailableError(f"{entry.domain} is not loaded right now")
        deadline = self._entries.deadlines.webhook
        result = await runtime.call(WEBHOOK, payload, timeout=deadline, label="webhook")
        if result is None:
            return {"ok": True}
        outcome = await self._entities.apply(entry.entry_id, entry.domain, result)
        return {"ok": True, **outcome.counts()}

    async def _signature_problem(
        self, entry: ConfigEntry, body: bytes, stamp: str, given: str
    ) -> str | None:
        sealed = entry.webhook_signing
        if not sealed:
            return None
        if not stamp or not given:
            return f"this webhook needs {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}"
        try:
            moment = float(stamp)
        except ValueError:
            moment = math.nan
        # ``nan`` compares as within any window, and ``inf`` never expires.
        if not math.isfinite(moment):
            return f"{TIMESTAMP_HEADER} must be unix seconds"
        now = time.time()
        if abs(now - moment) > REPLAY_WINDOW:
            return f"{TIMESTAMP_HEADER} is more than {REPLAY_WINDOW:g} s away from the hub's clock"
        secret = self._keyring.decrypt(entry.entry_id, SIGNING_FIELD, str(sealed))
        if not hmac.compare_digest(sign(secret, stamp, body).encode(), given.encode()):
            return "the signature does not match the body"
        if not await self.replays.first_use(f"{entry.entry_id}:{given}", moment, now):
            return "this signed request was already received"
        return None
