"""Every signature scheme on a real hub: good, bad, stale and rotated signatures, each logged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from hub.api.webhooks import sign
from tests.api.webhook_hub import StartWebhookHub, WebhookHub, start_webhook_hub

__all__ = ["start_webhook_hub"]

BODY = json.dumps({"id": "repo", "state": "push"}).encode()
SECRET = "It's a Secret to Everybody"


def hex_hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


async def refused(hub: WebhookHub, path: str, headers: dict[str, str]) -> str:
    """The 401's message for ``BODY`` sent with ``headers``; nothing was applied."""
    status, answer = await hub.deliver(path, BODY, headers)
    assert status == 401, answer
    assert answer["error"]["code"] == "signature_invalid"
    return str(answer["error"]["message"])


async def test_github_signature_and_delivery_id(start_webhook_hub: StartWebhookHub) -> None:
    hub = await start_webhook_hub()
    entry_id, path = await hub.add_entry(scheme="github", secret=SECRET)
    _, info = await hub.get(f"/api/config-entries/{entry_id}/webhook")
    assert info["scheme"] == "github"
    good = {
        "X-Hub-Signature-256": "sha256=" + hex_hmac(SECRET, BODY),
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-GitHub-Event": "push",
    }
    status, answer = await hub.deliver(path, BODY, good)
    assert (status, answer["created"]) == (200, 1), answer
    entity = await hub.entity("repo")
    assert entity is not None
    assert entity["attributes"]["sender_id"] == good["X-GitHub-Delivery"]
    # The integration never sees the signature or the token.
    assert "x-hub-signature-256" not in entity["attributes"]["headers"]
    assert "x-github-event" in entity["attributes"]["headers"]

    bad = {**good, "X-Hub-Signature-256": "sha256=" + hex_hmac("another secret", BODY)}
    assert "does not match" in await refused(hub, path, bad)
    assert "needs X-Hub-Signature-256" in await refused(hub, path, {})
    # A key GitHub's UI rotated away from: the old signature fails like any other.
    rotated = {**good, "X-Hub-Signature-256": "sha256=" + hex_hmac(SECRET + "-old", BODY)}
    await refused(hub, path, rotated)

    log = await hub.log(entry_id)
    assert [(row["outcome"], row["status"]) for row in log] == [
        ("refused", 401),
        ("refused", 401),
        ("refused", 401),
        ("applied", 200),
    ]
    assert all("x-hub-signature-256" not in row["headers"] for row in log)
    assert "does not match" in log[2]["reason"]


@pytest.mark.parametrize("header", ["X-Gitea-Signature", "X-Forgejo-Signature"])
async def test_gitea_and_forgejo_signatures(
    start_webhook_hub: StartWebhookHub, header: str
) -> None:
    hub = await start_webhook_hub()
    _, path = await hub.add_entry(scheme="gitea", secret=SECRET)
    status, answer = await hub.deliver(path, BODY, {header: hex_hmac(SECRET, BODY)})
    assert status == 200, answer
    assert "does not match" in await refused(hub, path, {header: hex_hmac(SECRET, b"{}")})
    # Gitea's signature has no prefix: GitHub's form is not accepted in its place.
    await refused(hub, path, {header: "sha256=" + hex_hmac(SECRET, BODY)})


async def test_standard_webhooks_signed_by_the_reference_library(
    start_webhook_hub: StartWebhookHub,
) -> None:
    hub = await start_webhook_hub()
    secret = "whsec_" + base64.b64encode(b"a 24 byte key of secrets").decode()
    entry_id, path = await hub.add_entry(scheme="standard_webhooks", secret=secret)
    sender = Webhook(secret)

    def headers(msg_id: str, at: datetime, signature: str | None = None) -> dict[str, str]:
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature or sender.sign(msg_id, at, BODY),
        }

    now = datetime.now(tz=UTC)
    status, answer = await hub.deliver(path, BODY, headers("msg_1", now))
    assert (status, answer["created"]) == (200, 1), answer

    # Key rotation: the sender signs with the old and the new key; the new one is ours.
    old = Webhook("whsec_" + base64.b64encode(b"the key before rotation!").decode())
    both = f"{old.sign('msg_2', now, BODY)} {sender.sign('msg_2', now, BODY)}"
    status, answer = await hub.deliver(path, BODY, headers("msg_2", now, both))
    assert status == 200, answer
    only_old = old.sign("msg_3", now, BODY)
    assert "no v1 signature" in await refused(hub, path, headers("msg_3", now, only_old))

    stale = now - timedelta(minutes=6)
    status, answer = await hub.deliver(path, BODY, headers("msg_4", stale))
    assert status == 401, answer
    assert "away from the hub's clock" in answer["error"]["message"]
    assert answer["error"]["key"] == "errors.signature_stale"
    future = now + timedelta(minutes=6)
    assert "away from" in await refused(hub, path, headers("msg_5", future))
    # A signature over another message id does not carry over (the id is signed too).
    await refused(hub, path, headers("msg_6", now, sender.sign("msg_1", now, BODY)))
    await refused(hub, path, {"webhook-id": "msg_7"})

    reasons = [row["reason"] for row in await hub.log(entry_id) if row["outcome"] == "refused"]
    assert any("away from the hub's clock" in str(reason) for reason in reasons)


async def test_stripe_signature_with_rotation_and_tolerance(
    start_webhook_hub: StartWebhookHub,
) -> None:
    hub = await start_webhook_hub()
    secret = "whsec_stripe_test_secret"
    entry_id, path = await hub.add_entry(scheme="stripe", secret=secret)
    body = json.dumps({"id": "evt_1", "type": "charge.succeeded"}).encode()

    def signed(at: int, raw: bytes, *secrets: str) -> dict[str, str]:
        parts = [f"t={at}", *(f"v1={hex_hmac(s, f'{at}.'.encode() + raw)}" for s in secrets)]
        return {"Stripe-Signature": ",".join(parts)}

    now = int(time.time())
    status, answer = await hub.deliver(path, body, signed(now, body, secret))
    assert status == 200, answer
    # Rolling the secret: Stripe signs with both for a while; either one being ours passes.
    body2 = json.dumps({"id": "evt_2", "type": "charge.succeeded"}).encode()
    status, answer = await hub.deliver(path, body2, signed(now, body2, "whsec_old", secret))
    assert status == 200, answer
    status, answer = await hub.deliver(path, body, signed(now, body, "whsec_old"))
    assert status == 401, answer
    status, answer = await hub.deliver(path, body, signed(now - 301, body, secret))
    assert (status, answer["error"]["key"]) == (401, "errors.signature_stale"), answer
    status, answer = await hub.deliver(path, body, {"Stripe-Signature": f"t={now}"})
    assert status == 401, answer
    # Stripe's event id is the delivery id: the first event again applies nothing.
    status, answer = await hub.deliver(path, body, signed(now, body, secret))
    assert (status, answer) == (200, {"ok": True, "duplicate": True})
    outcomes = [row["outcome"] for row in await hub.log(entry_id)]
    assert outcomes.count("applied") == 2
    assert outcomes[0] == "duplicate"


@pytest.mark.parametrize(("prefix", "encoding"), [("sha256=", "hex"), ("", "base64")])
async def test_custom_signature(
    start_webhook_hub: StartWebhookHub, prefix: str, encoding: str
) -> None:
    hub = await start_webhook_hub()
    entry_id, path = await hub.add_entry(
        scheme="custom",
        secret=SECRET,
        signature_header="X-Signature",
        signature_prefix=prefix,
        signature_encoding=encoding,
        delivery_id_header="X-Request-Id",
    )
    digest = hmac.new(SECRET.encode(), BODY, hashlib.sha256).digest()
    value = prefix + (digest.hex() if encoding == "hex" else base64.b64encode(digest).decode())
    headers = {"X-Signature": value, "X-Request-Id": "r-1"}
    status, answer = await hub.deliver(path, BODY, headers)
    assert status == 200, answer
    status, answer = await hub.deliver(path, BODY, headers)
    assert answer == {"ok": True, "duplicate": True}
    assert "X-Signature does not match" in await refused(
        hub, path, {"X-Signature": value[:-2] + "00", "X-Request-Id": "r-2"}
    )
    [newest, *_] = await hub.log(entry_id)
    assert newest["delivery_id"] == "r-2"
    assert "x-signature" not in newest["headers"]


async def test_the_hubs_own_signing_still_holds(start_webhook_hub: StartWebhookHub) -> None:
    hub = await start_webhook_hub()
    entry_id, path = await hub.add_entry()  # no scheme from the integration: the hub's setting
    status, signing = await hub.post(
        f"/api/config-entries/{entry_id}/webhook/signing", {"enabled": True}
    )
    assert status == 200, signing
    secret = signing["signing_secret"]
    stamp = str(int(time.time()))
    headers = {"X-Hub-Timestamp": stamp, "X-Hub-Signature": sign(secret, stamp, BODY)}
    status, answer = await hub.deliver(path, BODY, headers)
    assert status == 200, answer
    assert "already received" in await refused(hub, path, headers)
    old = str(int(time.time()) - 301)
    stale = {"X-Hub-Timestamp": old, "X-Hub-Signature": sign(secret, old, BODY)}
    assert "away from the hub's clock" in await refused(hub, path, stale)
    log = await hub.log(entry_id)
    assert [row["outcome"] for row in log] == ["refused", "refused", "applied"]
    assert all("x-hub-signature" not in row["headers"] for row in log)


async def test_an_unsigned_entry_takes_any_body_and_a_secret_never_reaches_the_log(
    start_webhook_hub: StartWebhookHub,
) -> None:
    hub = await start_webhook_hub()
    entry_id, path = await hub.add_entry(scheme="github", secret=SECRET)
    token = path.split("token=")[1]
    await refused(hub, path, {"Authorization": "Bearer abc", "X-Hub-Token": token})
    [row] = await hub.log(entry_id)
    text = json.dumps(row)
    assert token not in text
    assert "Bearer abc" not in text
    assert SECRET not in text
