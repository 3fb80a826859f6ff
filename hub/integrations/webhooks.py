"""What an integration sees of a webhook delivery, and how it tells the hub the deliveries are signed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Scheme = Literal["hub", "github", "gitea", "standard_webhooks", "stripe", "custom"]
SCHEMES: tuple[Scheme, ...] = ("hub", "github", "gitea", "standard_webhooks", "stripe", "custom")


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One request as the hub received it (what a preset needs besides the body)."""

    id: str  # the hub's own id of this delivery (log row)
    delivery_id: str | None  # the sender's (X-GitHub-Delivery, webhook-id, Stripe event id ...)
    headers: Mapping[str, str]  # lower-case names; signature and token headers removed
    body: bytes
    payload: Any  # the parsed JSON, or None for an empty body
    received_at: float
    remote: str | None
    replay: bool = False  # replayed from the delivery log by a person


@dataclass(frozen=True, slots=True)
class WebhookVerification:
    """How an entry's deliveries are signed, from the integration (the hub verifies, in constant time)."""

    scheme: Scheme
    # Plain, from the entry's encrypted secrets; kept out of repr so it never reaches a log.
    secret: str = field(repr=False)
    delivery_id_header: str | None = None  # custom: which header carries the sender's delivery id
    event_header: str | None = None  # custom/informative: which header names the event
    signature_header: str | None = None  # custom: the header with the signature
    signature_prefix: str = ""  # custom: e.g. "sha256="
    signature_encoding: Literal["hex", "base64"] = "hex"  # custom
    tolerance_seconds: int = 300  # schemes with timestamps (standard_webhooks, stripe, hub)
