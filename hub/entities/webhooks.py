"""Inbound webhooks: the token, the rate limit and the signature checked, then the entry's runtime."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Final, TypedDict

from hub.config import WebhooksConfig
from hub.core.bus import EventBus, EventType
from hub.core.crypto import Keyring
from hub.core.errors import (
    DELIVERY_NOT_FOUND,
    DELIVERY_TRUNCATED,
    ENTRY_NOT_LOADED,
    NO_DELIVERIES,
    RATE_LIMITED,
    SIGNATURE_INVALID,
    WEBHOOK_PREVIEW_UNSUPPORTED,
    BadRequestError,
    HubError,
    NotFoundError,
    UnauthorizedError,
)
from hub.entities.service import EntityService
from hub.entities.webhook_deliveries import (
    DeliveryLog,
    NewDelivery,
    Outcome,
    StoredDelivery,
    new_delivery_id,
)
from hub.entities.webhook_replays import REPLAY_WINDOW, ReplayGuard
from hub.entities.webhook_signatures import (
    HUB_SIGNATURE,
    HUB_TIMESTAMP,
    delivery_id,
    loggable_headers,
    verify,
)
from hub.integrations.config_entries import ConfigEntries
from hub.integrations.entry import ConfigEntry, EntryState
from hub.integrations.integration import Integration
from hub.integrations.runtime import WEBHOOK, WEBHOOK_PREVIEW, WEBHOOK_VERIFICATION, EntryRuntime
from hub.integrations.webhooks import WebhookDelivery, WebhookVerification

_LOGGER = logging.getLogger(__name__)

SIGNATURE_HEADER: Final = "X-Hub-Signature"
TIMESTAMP_HEADER: Final = "X-Hub-Timestamp"
SIGNING_FIELD: Final = "webhook_signing_secret"


class WebhookReceivedData(TypedDict):
    """What the hub fires for every applied delivery, whichever integration took it (workflows
    trigger on it). Not under ``webhook.``: that prefix is the ``webhook`` integration's own.

    The body stays in the delivery log (``WebhookService.body``): every event is logged and sent
    to websocket subscribers, and a 7 KB push in each would cost every delivery for the few that
    a workflow reads."""

    entry_id: str
    delivery_id: str
    event_type: str | None


EVENT_WEBHOOK_RECEIVED: Final = EventType[WebhookReceivedData]("webhook_delivery.received")


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


class DeliveryTruncatedError(HubError):
    """Only the beginning of the delivery's body was kept, so it cannot be applied again."""

    code = DELIVERY_TRUNCATED
    http_status = 409


class PreviewUnsupportedError(BadRequestError):
    """The entry's integration has no mapping to preview."""

    code = WEBHOOK_PREVIEW_UNSUPPORTED


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


class WebhookService:
    """Admits a delivery, verifies and deduplicates it, logs it, and hands it to the entry."""

    def __init__(
        self,
        entries: ConfigEntries,
        keyring: Keyring,
        entities: EntityService,
        limits: TokenBuckets,
        replays: ReplayGuard,
        log: DeliveryLog,
        parse_body: Callable[[bytes], Any],
        config: WebhooksConfig | None = None,
        *,
        bus: EventBus | None = None,
    ) -> None:
        self._entries = entries
        self._keyring = keyring
        self._entities = entities
        self.limits = limits
        self.replays = replays
        self.log = log
        self._parse_body = parse_body
        self._config = config or WebhooksConfig()
        self._bus = bus
        self._background: set[asyncio.Task[dict[str, Any]]] = set()
        self._limited_logged: dict[str, float] = {}

    def admit(self, entry_id: str, token: str) -> ConfigEntry:
        """The entry, if ``token`` is its webhook token and its rate allows another request."""
        if not token or not self._entries.verify_webhook(entry_id, token):
            raise NotFoundError("Not found")  # a wrong token and an unknown entry look the same
        wait = self.limits.allow(entry_id)
        if wait:
            raise WebhookRateLimitedError(wait)
        return self._entries.require(entry_id)

    async def log_refused(
        self,
        entry_id: str,
        headers: Mapping[str, str],
        remote: str | None,
        err: HubError,
        body: bytes = b"",
    ) -> None:
        """Log a delivery refused before it was verified (rate, size); 429s at most once a second."""
        now = time.time()
        if isinstance(err, WebhookRateLimitedError):
            # A flood must not turn into a write per request: one row a second tells the story.
            if now - self._limited_logged.get(entry_id, 0.0) < 1.0:
                return
            self._limited_logged[entry_id] = now
        new = NewDelivery(entry_id, now, remote, None, loggable_headers(headers, None), body)
        await self.log.record(new, outcome="refused", status=err.http_status, reason=str(err))

    async def receive(
        self,
        entry: ConfigEntry,
        *,
        headers: Mapping[str, str],
        body: bytes,
        remote: str | None,
    ) -> tuple[int, dict[str, Any]]:
        """Verify, deduplicate, handle, and answer with the delivery durably in the log.

        The answer is ``(status, json)``: 200 with the counts, 200 ``duplicate``, or 202
        ``accepted`` when the handling outlasts the budget and finishes in the background. A
        refusal is logged, then raised. A sender's delivery id is claimed in memory before the
        integration runs (so a repeat is a duplicate even while the first copy runs) and in
        ``hub.db`` with the delivery's log row, which commits in the same transaction as the
        entities it applied: one fsync for the delivery, before the answer. A restart reads the
        claims within the window back.
        """
        received_at = time.time()
        lower = {name.lower(): value for name, value in headers.items()}
        new = NewDelivery(entry.entry_id, received_at, remote, None, {}, body)
        try:
            runtime = self._loaded(entry)
            spec = self._verification(entry, runtime)
            # The sender's id is logged with a refusal too (Stripe's is in the body: not then).
            sender_id = delivery_id(spec, lower, None)
            new = replace(new, headers=loggable_headers(lower, spec), delivery_id=sender_id)
            if spec is not None:
                await self._check(entry, spec, lower, body, received_at)
            payload = self._parse(body)
        except HubError as err:
            if not new.headers:  # refused before the scheme was known (the entry is not loaded)
                new = replace(new, headers=loggable_headers(lower, None))
            await self.log.record(new, outcome="refused", status=err.http_status, reason=str(err))
            raise
        sender_id = delivery_id(spec, lower, payload)
        new = replace(new, delivery_id=sender_id)
        if sender_id is not None and not await self.log.claim(
            entry.entry_id, sender_id, received_at
        ):
            # Its row gathers with others: the answer needs nothing of the disk.
            self.log.record_soon(new, new_delivery_id(), outcome="duplicate", status=200)
            return 200, {"ok": True, "duplicate": True}
        row_id = new_delivery_id()
        delivery = WebhookDelivery(
            id=row_id,
            delivery_id=sender_id,
            headers=new.headers,
            body=body,
            payload=payload,
            received_at=received_at,
            remote=remote,
        )
        # Named now, from the scheme already asked for: the integration is not asked twice.
        event_type = sender_event(spec, delivery.headers, payload)
        task = asyncio.create_task(self._run(entry, runtime, delivery, new, event_type))
        self._background.add(task)
        task.add_done_callback(self._settled)
        done, _ = await asyncio.wait({task}, timeout=self._config.answer_budget_seconds)
        if not done:
            # On disk (with the claimed id) before the answer; the outcome may beat it there.
            await self.log.record(
                new,
                row_id=row_id,
                outcome="accepted",
                status=202,
                conflict="ignore",
                claim=sender_id is not None,
            )
            return 202, {"ok": True, "accepted": True, "delivery": row_id}
        return 200, task.result()

    async def replay(self, entry: ConfigEntry, row_id: str) -> dict[str, Any]:
        """Apply a logged delivery's body again: no signature check, no dedupe, a new log row."""
        stored = await self._stored(entry, row_id)
        if stored.truncated:
            raise DeliveryTruncatedError(
                "only the beginning of this delivery's body was kept; it cannot be replayed"
            )
        received_at = time.time()
        new = NewDelivery(
            entry.entry_id,
            received_at,
            stored.remote,
            stored.delivery_id,
            stored.headers,
            stored.body,
            replay=True,
        )
        try:
            runtime = self._loaded(entry)
            payload = self._parse(stored.body)
        except HubError as err:
            await self.log.record(new, outcome="refused", status=err.http_status, reason=str(err))
            raise
        new_id = new_delivery_id()
        delivery = _delivery(stored, payload, new_id, received_at, replay=True)
        try:
            spec = self._verification(entry, runtime)
        except Exception:  # noqa: BLE001  # the integration's failure; the replay still runs
            spec = None
        event_type = sender_event(spec, delivery.headers, payload)
        answer = await self._run(entry, runtime, delivery, new, event_type)
        return {**answer, "delivery": new_id}

    async def preview(self, entry: ConfigEntry, options: Mapping[str, Any]) -> Mapping[str, Any]:
        """What the integration's unsaved ``options`` make of the newest delivery with a body."""
        runtime = self._loaded(entry)
        integration = runtime.integration
        if (
            integration is None
            or type(integration).async_preview_webhook is Integration.async_preview_webhook
        ):
            raise PreviewUnsupportedError(f"{entry.domain} cannot preview a webhook mapping")
        stored = await self.log.newest_with_body(entry.entry_id)
        if stored is None:
            raise NotFoundError("no delivery with a body has arrived yet", code=NO_DELIVERIES)
        delivery = _delivery(stored, self._parse(stored.body), stored.id, stored.received_at)
        deadline = self._entries.deadlines.webhook
        result: Mapping[str, Any] = await runtime.call(
            WEBHOOK_PREVIEW, delivery, dict(options), timeout=deadline, label="webhook preview"
        )
        return result

    async def deliveries(
        self, entry: ConfigEntry, *, limit: int, before: str | None
    ) -> list[StoredDelivery]:
        """The entry's logged deliveries, newest first."""
        return await self.log.page(entry.entry_id, limit=limit, before=before)

    async def drain(self, grace: float) -> None:
        """Let handling that outlasted its answer finish (at shutdown), then cancel what is left."""
        pending = set(self._background)
        if pending:
            _, late = await asyncio.wait(pending, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        await self.log.flush()  # rows still gathering for their batch, before the database closes

    def scheme(self, entry: ConfigEntry) -> str | None:
        """The scheme the entry's deliveries must be signed with now, ``None`` for unsigned."""
        runtime = self._entries.runtime(entry.entry_id)
        if runtime is None or entry.state is not EntryState.LOADED:
            return "hub" if entry.webhook_signing else None
        spec = self._verification(entry, runtime)
        return spec.scheme if spec is not None else None

    def _parse(self, body: bytes) -> Any:
        return self._parse_body(body) if body.strip() else None

    def _loaded(self, entry: ConfigEntry) -> EntryRuntime:
        runtime = self._entries.runtime(entry.entry_id)
        if runtime is None or entry.state is not EntryState.LOADED:
            raise EntryUnavailableError(f"{entry.domain} is not loaded right now")
        return runtime

    def _verification(
        self, entry: ConfigEntry, runtime: EntryRuntime
    ) -> WebhookVerification | None:
        integration = runtime.integration
        if (
            integration is not None
            and type(integration).webhook_verification is not Integration.webhook_verification
        ):
            spec: WebhookVerification | None = runtime.call_sync(
                WEBHOOK_VERIFICATION, label="webhook verification"
            )
            if spec is not None:
                return spec
        return self._hub_signing(entry)

    def _hub_signing(self, entry: ConfigEntry) -> WebhookVerification | None:
        sealed = entry.webhook_signing
        if not sealed:
            return None
        secret = self._keyring.decrypt(entry.entry_id, SIGNING_FIELD, str(sealed))
        return WebhookVerification("hub", secret, tolerance_seconds=int(REPLAY_WINDOW))

    async def _check(
        self,
        entry: ConfigEntry,
        spec: WebhookVerification,
        headers: Mapping[str, str],
        body: bytes,
        now: float,
    ) -> None:
        problem = verify(spec, headers, body, now)
        if problem is not None and problem.stale:
            raise SignatureInvalidError(
                problem.reason, key="errors.signature_stale", seconds=problem.tolerance
            )
        if problem is not None:
            raise SignatureInvalidError(problem.reason)
        if spec.scheme == "hub":
            # The hub's own scheme has no delivery id: a signature is good for one request.
            given = headers[HUB_SIGNATURE]
            moment = float(headers[HUB_TIMESTAMP])
            key = f"{entry.entry_id}:{given}"
            if not await self.replays.first_use(key, moment, now, spec.tolerance_seconds):
                raise SignatureInvalidError("this signed request was already received")

    async def _run(
        self,
        entry: ConfigEntry,
        runtime: EntryRuntime,
        delivery: WebhookDelivery,
        new: NewDelivery,
        event_type: str | None,
    ) -> dict[str, Any]:
        """Handle and apply; the log row is written with the outcome, whoever is still waiting.

        Applied entities carry the row (and the claimed id) in their own transaction: one
        commit for both, before the answer. A failure writes its row and frees the claimed id,
        so the sender's retry (the same id) runs.
        """
        claim = delivery.delivery_id is not None and not delivery.replay
        try:
            answer = await self._apply(entry, runtime, delivery, new, event_type, claim=claim)
        except BaseException as err:
            status = err.http_status if isinstance(err, HubError) else 500
            outcome: Outcome = "refused" if 400 <= status < 500 else "failed"
            reason = str(err) if isinstance(err, HubError) else type(err).__name__
            # Shielded: a cancelled handler (shutdown) still leaves its row saying so.
            await asyncio.shield(self._failed(delivery, new, outcome, status, reason, claim))
            raise
        return answer

    async def _failed(
        self,
        delivery: WebhookDelivery,
        new: NewDelivery,
        outcome: Outcome,
        status: int,
        reason: str,
        claimed: bool,
    ) -> None:
        await self.log.record(
            new,
            row_id=delivery.id,
            outcome=outcome,
            status=status,
            reason=reason,
            conflict="update",
        )
        if claimed and delivery.delivery_id:
            # Not applied, so the sender's retry (same delivery id) must not count as a repeat.
            await self.log.release(new.entry_id, delivery.delivery_id)

    async def _apply(
        self,
        entry: ConfigEntry,
        runtime: EntryRuntime,
        delivery: WebhookDelivery,
        new: NewDelivery,
        event_type: str | None,
        *,
        claim: bool,
    ) -> dict[str, Any]:
        deadline = self._entries.deadlines.webhook
        result = await runtime.call(WEBHOOK, delivery, timeout=deadline, label="webhook")
        if result is None:
            await self.log.record(
                new,
                row_id=delivery.id,
                outcome="applied",
                status=200,
                conflict="update",
                claim=claim,
            )
            self._announce(entry, delivery, event_type)
            return {"ok": True}
        write_row = self.log.row_writer(new, delivery.id, claim=claim)
        outcome = await self._entities.apply(entry.entry_id, entry.domain, result, also=write_row)
        self._announce(entry, delivery, event_type)
        return {"ok": True, **outcome.counts()}

    def _announce(
        self, entry: ConfigEntry, delivery: WebhookDelivery, event_type: str | None
    ) -> None:
        """Fire ``webhook_delivery.received`` for an applied delivery."""
        if self._bus is None:
            return
        data = WebhookReceivedData(
            entry_id=entry.entry_id, delivery_id=delivery.id, event_type=event_type
        )
        self._bus.fire(EVENT_WEBHOOK_RECEIVED, data)

    async def body(self, entry_id: str, delivery_id: str) -> Any | None:
        """A logged delivery's parsed body; ``None`` when gone, cut at the log's cap, or not JSON."""
        stored = await self.log.get(entry_id, delivery_id)
        if stored is None or stored.truncated or not stored.body:
            return None
        try:
            return self._parse(stored.body)
        except HubError:
            return None

    async def _stored(self, entry: ConfigEntry, row_id: str) -> StoredDelivery:
        stored = await self.log.get(entry.entry_id, row_id)
        if stored is None:
            raise NotFoundError(f"no delivery {row_id!r}", code=DELIVERY_NOT_FOUND)
        return stored

    def _settled(self, task: asyncio.Task[dict[str, Any]]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # Already in the delivery log (and logged by the runtime when it was the integration's).
            _LOGGER.debug("Webhook handled after its answer failed: %s", task.exception())


def sender_event(
    spec: WebhookVerification | None, headers: Mapping[str, str], payload: Any
) -> str | None:
    """The sender's name for what happened (GitHub's ``push``, Stripe's ``charge.succeeded``)."""
    scheme = spec.scheme if spec is not None else "hub"
    found: object = None
    if scheme == "github":
        found = headers.get("x-github-event")
    elif scheme == "gitea":
        found = headers.get("x-gitea-event") or headers.get("x-forgejo-event")
    elif scheme in ("standard_webhooks", "stripe"):
        found = payload.get("type") if isinstance(payload, dict) else None
    elif scheme == "custom" and spec is not None and spec.event_header:
        found = headers.get(spec.event_header.lower())
    elif isinstance(payload, dict):  # the hub's own body: {"event": {"type": ...}}
        event = payload.get("event")
        found = event.get("type") if isinstance(event, dict) else None
    return found[:100] if isinstance(found, str) and found else None


def _delivery(
    stored: StoredDelivery, payload: Any, row_id: str, received_at: float, *, replay: bool = False
) -> WebhookDelivery:
    return WebhookDelivery(
        id=row_id,
        delivery_id=stored.delivery_id,
        headers=stored.headers,
        body=stored.body,
        payload=payload,
        received_at=received_at,
        remote=stored.remote,
        replay=replay,
    )
