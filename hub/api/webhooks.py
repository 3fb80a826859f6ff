"""Inbound webhooks: ``POST /webhooks/integration/{entry_id}?token=…``, parsed, handed over, answered.

The service (``hub.entities.webhooks``) checks the token, the rate and the signature and calls the
entry's runtime; this module reads the request and serializes the answer.
"""

from __future__ import annotations

import secrets
from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from hub.api.access import entry_for, principal_of
from hub.api.errors import respond
from hub.api.request import parse_json, read_body, read_json
from hub.api.state import CONFIG, CONFIG_ENTRIES, DATABASE, ENTITIES, KEYRING
from hub.entities.webhook_replays import ReplayGuard
from hub.entities.webhooks import (
    SIGNATURE_HEADER,
    SIGNING_FIELD,
    TIMESTAMP_HEADER,
    TokenBuckets,
    WebhookRateLimitedError,
    WebhookService,
    sign,
)

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WEBHOOKS", "register", "sign"]

WEBHOOKS: Final = web.AppKey("webhooks", WebhookService)


async def receive(request: web.Request) -> web.Response:
    """Admit the sender (a wrong token and an unknown entry look the same), then hand the body over."""
    service = request.app[WEBHOOKS]
    token = request.query.get("token") or request.headers.get("X-Hub-Token") or ""
    try:
        entry = service.admit(request.match_info["entry_id"], token)
    except WebhookRateLimitedError as err:
        response = respond(request, err)
        response.headers["Retry-After"] = str(err.retry_after)
        return response
    body = await read_body(request, request.app[CONFIG].http.webhook_max_body_kib * 1024)
    stamp = request.headers.get(TIMESTAMP_HEADER, "")
    await service.check_signature(entry, body, stamp, request.headers.get(SIGNATURE_HEADER, ""))
    payload = parse_json(body, "The body") if body.strip() else None
    return web.json_response(await service.handle(entry, payload))


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
            "signed": bool(entry.webhook_signing),
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
        await entries.set_settings(entry.entry_id, webhook_signing=sealed)
        answer["signing_secret"] = secret
    else:
        await entries.set_settings(entry.entry_id, webhook_signing=None)
    return web.json_response(answer)


def register(app: web.Application) -> None:
    """Add the webhook routes and the service behind them."""
    http = app[CONFIG].http
    app[WEBHOOKS] = WebhookService(
        app[CONFIG_ENTRIES],
        app[KEYRING],
        app[ENTITIES],
        TokenBuckets(http.webhook_rate_per_second, http.webhook_burst),
        ReplayGuard(app[DATABASE]),
    )
    app.router.add_post("/webhooks/integration/{entry_id}", receive)
    app.router.add_get("/api/config-entries/{entry_id}/webhook", webhook_info)
    app.router.add_post("/api/config-entries/{entry_id}/webhook/signing", set_signing)
