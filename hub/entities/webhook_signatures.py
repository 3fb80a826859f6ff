"""Webhook signature schemes, verified on the raw body in constant time, and the sender's delivery id.

Each scheme is the sender's published one: GitHub (``X-Hub-Signature-256``), Gitea / Forgejo
(``X-Gitea-Signature`` / ``X-Forgejo-Signature``), Standard Webhooks (``webhook-*``), Stripe
(``Stripe-Signature``), the hub's own (``X-Hub-Signature`` + ``X-Hub-Timestamp``) and a custom
HMAC-SHA256 of the body. A problem comes back as a short English reason, never with the secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from hub.integrations.webhooks import WebhookVerification

HUB_SIGNATURE: Final = "x-hub-signature"
HUB_TIMESTAMP: Final = "x-hub-timestamp"
GITHUB_SIGNATURE: Final = "x-hub-signature-256"
GITEA_SIGNATURES: Final = ("x-gitea-signature", "x-forgejo-signature")
STANDARD_ID: Final = "webhook-id"
STANDARD_TIMESTAMP: Final = "webhook-timestamp"
STANDARD_SIGNATURE: Final = "webhook-signature"
STRIPE_SIGNATURE: Final = "stripe-signature"

MAX_SIGNATURES: Final = 16
"""Signatures one header may list (key rotation needs two or three); more are not looked at."""

SECRET_HEADERS: Final = frozenset(
    {
        HUB_SIGNATURE,
        GITHUB_SIGNATURE,
        *GITEA_SIGNATURES,
        STANDARD_SIGNATURE,
        STRIPE_SIGNATURE,
        "x-hub-token",
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-gitlab-token",
    }
)
"""Headers never kept in the delivery log nor shown to an integration: they prove or carry secrets."""


@dataclass(frozen=True, slots=True)
class SignatureProblem:
    """Why a delivery's signature does not hold; ``stale`` when only its timestamp is off."""

    reason: str
    stale: bool = False
    tolerance: int = 0


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _matches(expected: bytes, given: str) -> bool:
    return hmac.compare_digest(expected, given.strip().encode("ascii", "replace"))


def _stale(stamp: str, now: float, tolerance: int, header: str) -> SignatureProblem | None:
    try:
        moment = float(stamp)
    except ValueError:
        moment = math.nan
    # ``nan`` compares as within any window, and ``inf`` never expires.
    if not math.isfinite(moment):
        return SignatureProblem(f"{header} must be unix seconds")
    if abs(now - moment) > tolerance:
        return SignatureProblem(
            f"{header} is more than {tolerance} s away from the hub's clock",
            stale=True,
            tolerance=tolerance,
        )
    return None


def hub_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The hub's own ``X-Hub-Signature``: ``sha256=`` hex HMAC of ``timestamp.body``."""
    return "sha256=" + _hmac(secret.encode(), timestamp.encode() + b"." + body).hex()


def standard_key(secret: str) -> bytes | None:
    """A Standard Webhooks secret's key bytes (``whsec_`` + base64), or ``None`` if not base64."""
    text = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def verify(
    spec: WebhookVerification, headers: Mapping[str, str], body: bytes, now: float
) -> SignatureProblem | None:
    """``None`` when ``body`` carries a valid signature under ``spec``, else why not."""
    if not spec.secret:
        return SignatureProblem("the entry has no signing secret")
    checker = _CHECKERS[spec.scheme]
    return checker(spec, headers, body, now)


def _verify_hub(
    spec: WebhookVerification, headers: Mapping[str, str], body: bytes, now: float
) -> SignatureProblem | None:
    stamp, given = headers.get(HUB_TIMESTAMP, ""), headers.get(HUB_SIGNATURE, "")
    if not stamp or not given:
        return SignatureProblem("this webhook needs X-Hub-Timestamp and X-Hub-Signature")
    problem = _stale(stamp, now, spec.tolerance_seconds, "X-Hub-Timestamp")
    if problem:
        return problem
    if not _matches(hub_signature(spec.secret, stamp, body).encode(), given):
        return SignatureProblem("the signature does not match the body")
    return None


def _verify_github(
    spec: WebhookVerification, headers: Mapping[str, str], body: bytes, now: float
) -> SignatureProblem | None:
    given = headers.get(GITHUB_SIGNATURE, "")
    if not given:
        return SignatureProblem("this webhook needs X-Hub-Signature-256")
    expected = "sha256=" + _hmac(spec.secret.encode(), body).hex()
    if not _matches(expected.encode(), given):
        return SignatureProblem("X-Hub-Signature-256 does not match the body")
    return None


def _verify_gitea(
    spec: WebhookVerification, headers: Mapping[str, str], body: bytes, now: float
) -> SignatureProblem | None:
    given = next((headers[name] for name in GITEA_SIGNATURES if headers.get(name)), "")
    if not given:
        return SignatureProblem("this webhook needs X-Gitea-Signature or X-Forgejo-Signature")
    if not _matches(_hmac(spec.secret.encode(), body).hex().encode(), given):
        return SignatureProblem("X-Gitea-Signature does not match the body")
    return None


def _verify_standard(
    spec: WebhookVerification, headers: Mapping[str, str], body: bytes, now: float
) -> SignatureProblem | None:
    msg_id = headers.get(STANDARD_ID, "")
    stamp = headers.get(STANDARD_TIMESTAMP, "")
    given = headers.get(STANDARD_SIGNATURE, "")
    if not msg_id or not stamp or not given:
        return SignatureProblem(
            "this webhook needs webhook-id, webhook-timestamp and webhook-signature"
        )
    problem = _stale(stamp, now, spec.tolerance_seconds, "webhook-timestamp")
    if problem:
        return problem
    key = standard_key(spec.secret)
    if key is None:
        return SignatureProblem("the signing secret is not whsec_ followed by base64")
    signed = msg_id.encode() + b"." + stamp.encode() + b"." + body
    expected = base64.b64encode(_hmac(key, signed))
    # Space-separated ``v1,<base64>`` pairs: any one matching passes, so a sender can rotate keys.
    for item in given.split(" ")[:MAX_SIGNATURES]:
        version, _, signature = item.partition(",")
        if version == "v1" and _matches(expected, signature):
            return None
    return SignatureProblem("no v1 signature in webhook-signature matches the body")


def _verify_stripe(
    spec: WebhookVerification, headers: Mapping[str, str], body: bytes, now: float
) -> SignatureProblem | None:
    given = headers.get(STRIPE_SIGNATURE, "")
    stamp, signatures = "", []
    for item in given.split(",")[: MAX_SIGNATURES + 4]:
        name, _, value = item.strip().partition("=")
        if name == "t":
            stamp = value
        elif name == "v1":
            signatures.append(value)
    if not stamp or not signatures:
        return SignatureProblem("this webhook needs Stripe-Signature with t= and v1=")
    problem = _stale(stamp, now, spec.tolerance_seconds, "Stripe-Signature t")
    if problem:
        return problem
    expected = _hmac(spec.secret.encode(), stamp.encode() + b"." + body).hex().encode()
    if any(_matches(expected, signature) for signature in signatures[:MAX_SIGNATURES]):
        return None
    return SignatureProblem("no v1 signature in Stripe-Signature matches the body")


def _verify_custom(
    spec: WebhookVerification, headers: Mapping[str, str], body: bytes, now: float
) -> SignatureProblem | None:
    header = (spec.signature_header or "").lower()
    if not header:
        return SignatureProblem("the entry names no signature header")
    given = headers.get(header, "")
    if not given:
        return SignatureProblem(f"this webhook needs {spec.signature_header}")
    digest = _hmac(spec.secret.encode(), body)
    encoded = (
        digest.hex() if spec.signature_encoding == "hex" else base64.b64encode(digest).decode()
    )
    if not _matches((spec.signature_prefix + encoded).encode(), given):
        return SignatureProblem(f"{spec.signature_header} does not match the body")
    return None


_CHECKERS: Final = {
    "hub": _verify_hub,
    "github": _verify_github,
    "gitea": _verify_gitea,
    "standard_webhooks": _verify_standard,
    "stripe": _verify_stripe,
    "custom": _verify_custom,
}


def delivery_id(
    spec: WebhookVerification | None, headers: Mapping[str, str], payload: Any
) -> str | None:
    """The sender's own id of this delivery (the same on its retries), or ``None`` if it sends none."""
    scheme = spec.scheme if spec is not None else "hub"
    if scheme == "github":
        found = headers.get("x-github-delivery")
    elif scheme == "gitea":
        found = headers.get("x-gitea-delivery") or headers.get("x-forgejo-delivery")
    elif scheme == "standard_webhooks":
        found = headers.get(STANDARD_ID)
    elif scheme == "stripe":
        found = payload.get("id") if isinstance(payload, dict) else None
        found = found if isinstance(found, str) else None
    elif scheme == "custom" and spec is not None and spec.delivery_id_header:
        found = headers.get(spec.delivery_id_header.lower())
    else:
        found = None
    # Bounded: it is a key in the dedupe store and a column of the log.
    return found[:200] if found else None


def loggable_headers(
    headers: Mapping[str, str], spec: WebhookVerification | None
) -> dict[str, str]:
    """The headers, lower-case, without those that carry or prove a secret."""
    hidden = set(SECRET_HEADERS)
    if spec is not None and spec.signature_header:
        hidden.add(spec.signature_header.lower())
    return {name.lower(): value for name, value in headers.items() if name.lower() not in hidden}
