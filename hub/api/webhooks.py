"""Inbound webhooks: ``POST /webhooks/integration/{entry_id}?token=…``, parsed, handed over, answered.

The service (``hub.entities.webhooks``) checks the token, the rate and the signature and calls the
entry's runtime; this module reads the request and serializes the answer.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.api.access import entry_for, principal_of
from hub.api.client_address import client_address
from hub.api.errors import respond
from hub.api.request import parse_json, read_body, read_json, read_query
from hub.api.state import BUS, CONFIG, CONFIG_ENTRIES, DATABASE, ENTITIES, KEYRING, SCHEDULER
from hub.core.errors import HubError
from hub.entities.webhook_deliveries import DeliveryLog
from hub.entities.webhook_replays import ReplayGuard
from hub.entities.webhook_signatures import hub_signature as sign
from hub.entities.webhooks import (
    SIGNATURE_HEADER,
    SIGNING_FIELD,
    TIMESTAMP_HEADER,
    TokenBuckets,
    WebhookRateLimitedError,
    WebhookService,
)

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WEBHOOKS", "register", "sign"]

WEBHOOKS: Final = web.AppKey("webhooks", WebhookService)
PRUNE_SECONDS: Final = 600.0
"""How often the delivery log drops rows past their retention and ids past the dedupe window."""


async def receive(request: web.Request) -> web.Response:
    """Admit the sender (a wrong token and an unknown entry look the same), then hand the body over.

    Every delivery the token admits is in the entry's delivery log, refused ones too.
    """
    service = request.app[WEBHOOKS]
    entry_id = request.match_info["entry_id"]
    token = request.query.get("token") or request.headers.get("X-Hub-Token") or ""
    remote = client_address(request)
    try:
        entry = service.admit(entry_id, token)
    except WebhookRateLimitedError as err:
        await service.log_refused(entry_id, request.headers, remote, err)
        response = respond(request, err)
        response.headers["Retry-After"] = str(err.retry_after)
        return response
    try:
        body = await read_body(request, request.app[CONFIG].http.webhook_max_body_kib * 1024)
    except HubError as err:
        await service.log_refused(entry_id, request.headers, remote, err)
        raise
    status, answer = await service.receive(entry, headers=request.headers, body=body, remote=remote)
    return web.json_response(answer, status=status)


class DeliveriesQuery(BaseModel):
    """``GET /api/config-entries/{id}/deliveries``."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=200)
    before: str | None = Field(default=None, max_length=64)


async def deliveries(request: web.Request) -> web.Response:
    """The entry's delivery log, newest first; ``before`` pages to older ones."""
    query = read_query(request, DeliveriesQuery)
    entry = entry_for(
        request.app, principal_of(request), request.match_info["entry_id"], manage=True
    )
    rows = await request.app[WEBHOOKS].deliveries(entry, limit=query.limit, before=query.before)
    after = rows[-1].id if len(rows) == query.limit else None
    return web.json_response({"deliveries": [row.as_json() for row in rows], "next_before": after})


async def replay(request: web.Request) -> web.Response:
    """Apply a logged delivery's body again (no signature check, no dedupe), as a new log row."""
    entry = entry_for(
        request.app, principal_of(request), request.match_info["entry_id"], manage=True
    )
    answer = await request.app[WEBHOOKS].replay(entry, request.match_info["delivery"])
    return web.json_response(answer)


class PreviewBody(BaseModel):
    """``POST /api/config-entries/{id}/webhook/preview``: the unsaved mapping options."""

    model_config = ConfigDict(extra="forbid")

    options: dict[str, Any] = Field(default_factory=dict)


async def preview(request: web.Request) -> web.Response:
    """What the unsaved options make of the entry's newest delivery with a body; applies nothing."""
    body = await read_json(request, PreviewBody)
    entry = entry_for(
        request.app, principal_of(request), request.match_info["entry_id"], manage=True
    )
    result = await request.app[WEBHOOKS].preview(entry, body.options)
    return web.json_response({"preview": dict(result)})


class SigningBody(BaseModel):
    """``POST /api/config-entries/{id}/webhook/signing``."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool


async def webhook_info(request: web.Request) -> web.Response:
    """The entry's webhook path with its token, whether the hub's own signing is on, and the
    scheme its deliveries are verified with (``None``: unsigned)."""
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
            "scheme": request.app[WEBHOOKS].scheme(entry),
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
    """Add the webhook routes, the service behind them, and the delivery log's pruning."""
    config = app[CONFIG]
    http = config.http
    log = DeliveryLog(app[DATABASE], config.webhooks)
    app[WEBHOOKS] = WebhookService(
        app[CONFIG_ENTRIES],
        app[KEYRING],
        app[ENTITIES],
        TokenBuckets(http.webhook_rate_per_second, http.webhook_burst),
        ReplayGuard(app[DATABASE]),
        log,
        lambda raw: parse_json(raw, "The body"),
        config.webhooks,
        bus=app[BUS],
    )
    app[CONFIG_ENTRIES].on_remove.append(lambda entry: log.forget_entry(entry.entry_id))

    async def prune() -> None:
        await log.prune(time.time())

    app[SCHEDULER].add_interval_job(
        "prune:webhook-deliveries", prune, seconds=PRUNE_SECONDS, jitter=60.0, timeout=PRUNE_SECONDS
    )
    app.on_shutdown.append(_drain)
    app.router.add_post("/webhooks/integration/{entry_id}", receive)
    app.router.add_get("/api/config-entries/{entry_id}/webhook", webhook_info)
    app.router.add_post("/api/config-entries/{entry_id}/webhook/signing", set_signing)
    app.router.add_post("/api/config-entries/{entry_id}/webhook/preview", preview)
    app.router.add_get("/api/config-entries/{entry_id}/deliveries", deliveries)
    app.router.add_post("/api/config-entries/{entry_id}/deliveries/{delivery}/replay", replay)


async def _drain(app: web.Application) -> None:
    # Handling that outlasted its answer gets a moment to finish and log its outcome.
    await app[WEBHOOKS].drain(grace=5.0)
