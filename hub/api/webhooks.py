"""Inbound webhooks: ``POST /webhooks/integration/{entry_id}?token=…``, checked, limited, applied."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import secrets
import time
from typing import Any, Final, cast

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from hub.api.access import entry_for, principal_of
from hub.api.errors import error_response
from hub.api.request import parse_json, read_body, read_json
from hub.api.state import CONFIG, CONFIG_ENTRIES, DATABASE, ENTITIES, KEYRING, REGISTRY
from hub.core.disk import DiskFaultError
from hub.core.errors import BadRequestError
from hub.core.redact import SECRETS
from hub.entities.webhook_replays import REPLAY_WINDOW, ReplayGuard
from hub.integrations.entities import EntityStateSyncResult
from hub.integrations.entry import ConfigEntry, EntryState
from hub.integrations.entry_lifecycle import refused_reason
from hub.integrations.integration import ConfigEntryAuthFailed, WebhookPayloadError

_LOGGER = logging.getLogger(__name__)

WEBHOOK_TIMEOUT: Final = 30.0
SIGNATURE_HEADER: Final = "X-Hub-Signature"
TIMESTAMP_HEADER: Final = "X-Hub-Timestamp"
SIGNING_FIELD: Final = "webhook_signing_secret"

_NOT_FOUND: Final = ("not_found", "Not found")


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


LIMITS: Final = web.AppKey("webhook_limits", TokenBuckets)
REPLAYS: Final = web.AppKey("webhook_replays", ReplayGuard)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature a sender puts in ``X-Hub-Signature``: ``sha256=`` HMAC of ``timestamp.body``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


async def receive(request: web.Request) -> web.Response:
    """Check the token (a wrong one and an unknown entry look the same), then hand the body over."""
    app = request.app
    entries = app[CONFIG_ENTRIES]
    entry_id = request.match_info["entry_id"]
    token = request.query.get("token") or request.headers.get("X-Hub-Token", "")
    if not token or not entries.verify_webhook(entry_id, token):
        return error_response(404, *_NOT_FOUND)
    entry = entries.require(entry_id)
    http = app[CONFIG].http
    wait = app[LIMITS].allow(entry_id)
    if wait:
        response = error_response(429, "rate_limited", "Too many requests for this webhook")
        response.headers["Retry-After"] = str(max(1, round(wait)))
        return response
    body = await read_body(request, http.webhook_max_body_kib * 1024)
    problem = await _check_signature(request, entry, body)
    if problem:
        return error_response(401, "signature_invalid", problem)
    try:
        payload = parse_json(body, "The body") if body.strip() else None
    except BadRequestError as err:
        return error_response(400, err.code, err.message)
    loaded = app[REGISTRY].get(entry.domain)
    if loaded is None or entry.state is not EntryState.LOADED:
        return error_response(503, "entry_not_loaded", f"{entry.domain} is not loaded right now")
    try:
        async with asyncio.timeout(WEBHOOK_TIMEOUT):
            result = await loaded.integration.async_handle_webhook(entries.context(entry), payload)
    except WebhookPayloadError as err:
        return error_response(400, "webhook_payload_invalid", SECRETS.redact(str(err))[:500])
    except DiskFaultError:
        raise  # the integration's own writes hit the hub's full disk: 507/503, not its bug
    except ConfigEntryAuthFailed as err:
        # The service refused the stored credentials: the person is asked for new ones, as a
        # sync would; the sender learns the entry cannot take webhooks until then.
        await entries.request_reauth(entry.entry_id, refused_reason(err))
        return error_response(503, "entry_not_loaded", f"{entry.domain} needs new credentials")
    except Exception:  # an integration bug answers 502 with an id, never a 500
        correlation_id = secrets.token_hex(4)
        _LOGGER.exception(
            "Webhook of %s (%s) failed [correlation id %s]", entry_id, entry.domain, correlation_id
        )
        return error_response(
            502,
            "webhook_failed",
            "The integration could not handle this webhook",
            correlation_id=correlation_id,
        )
    if result is None:
        return web.json_response({"ok": True})
    if not isinstance(cast(object, result), EntityStateSyncResult):  # integrations break contracts
        _LOGGER.error(
            "Webhook of %s (%s) returned %s", entry_id, entry.domain, type(result).__name__
        )
        return error_response(502, "webhook_failed", "The integration returned something unusable")
    outcome = await app[ENTITIES].apply(entry_id, entry.domain, result)
    return web.json_response({"ok": True, **outcome.counts()})


async def _check_signature(request: web.Request, entry: ConfigEntry, body: bytes) -> str | None:
    sealed = entry.extra.get("webhook_signing")
    if not sealed:
        return None
    stamp = request.headers.get(TIMESTAMP_HEADER, "")
    given = request.headers.get(SIGNATURE_HEADER, "")
    if not stamp or not given:
        return f"this webhook needs {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}"
    try:
        moment = float(stamp)
    except ValueError:
        moment = math.nan
    if not math.isfinite(moment):  # ``nan`` compares as within any window; ``inf`` never expires
        return f"{TIMESTAMP_HEADER} must be unix seconds"
    now = time.time()
    if abs(now - moment) > REPLAY_WINDOW:
        return f"{TIMESTAMP_HEADER} is more than {REPLAY_WINDOW:g} s away from the hub's clock"
    secret = request.app[KEYRING].decrypt(entry.entry_id, SIGNING_FIELD, str(sealed))
    if not hmac.compare_digest(sign(secret, stamp, body).encode(), given.encode()):
        return "the signature does not match the body"
    if not await request.app[REPLAYS].first_use(f"{entry.entry_id}:{given}", moment, now):
        return "this signed request was already received"
    return None


class SigningBody(BaseModel):
    """``POST /api/config-entries/{id}/webhook/signing``."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool


async def webhook_info(request: web.Request) -> web.Response:
    """The entry's webhook path with its token, and whether requests must be signed."""
    entries = request.app[CONFIG_ENTRIES]
    entry = entry_for(
        request.app, principal_of(request), request.match_info["entry_id"], manage=True
    )
    token = entries.webhook_token(entry)
    return web.json_response(
        {
            "entry_id": entry.entry_id,
            "path": f"/webhooks/integration/{entry.entry_id}?token={token}",
            "signed": bool(entry.extra.get("webhook_signing")),
        }
    )


async def set_signing(request: web.Request) -> web.Response:
    """Require signed requests (answering the new signing secret once), or stop requiring them."""
    body = await read_json(request, SigningBody)
    app = request.app
    entries = app[CONFIG_ENTRIES]
    entry = entry_for(app, principal_of(request), request.match_info["entry_id"], manage=True)
    answer: dict[str, Any] = {"entry_id": entry.entry_id, "signed": body.enabled}
    if body.enabled:
        secret = secrets.token_urlsafe(32)
        sealed = await app[KEYRING].encrypt(entry.entry_id, SIGNING_FIELD, secret)
        # On disk before the secret is answered: a crash must not quietly drop the requirement.
        await entries.set_setting(entry.entry_id, "webhook_signing", sealed)
        answer["signing_secret"] = secret
    else:
        await entries.set_setting(entry.entry_id, "webhook_signing", None)
    return web.json_response(answer)


def register(app: web.Application) -> None:
    """Add the webhook routes and their per-entry state."""
    http = app[CONFIG].http
    app[LIMITS] = TokenBuckets(http.webhook_rate_per_second, http.webhook_burst)
    app[REPLAYS] = ReplayGuard(app[DATABASE])
    app.router.add_post("/webhooks/integration/{entry_id}", receive)
    app.router.add_get("/api/config-entries/{entry_id}/webhook", webhook_info)
    app.router.add_post("/api/config-entries/{entry_id}/webhook/signing", set_signing)
