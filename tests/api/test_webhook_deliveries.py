"""Exactly once, the delivery log, replay, preview and the answer budget, on a real hub."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

from hub.api.state import DATABASE
from hub.api.webhooks import WEBHOOKS
from hub.app import DATABASE_MIGRATIONS
from hub.config import WebhooksConfig
from hub.core.database import Database
from hub.entities.webhook_deliveries import DELIVERY_BODY_MIGRATIONS, DeliveryLog
from tests.api.webhook_hub import StartWebhookHub, WebhookHub, start_webhook_hub

__all__ = ["start_webhook_hub"]

SECRET = "shared with the sender"
PUSH = Path(__file__).parents[1] / "data" / "octokit-webhooks-examples" / "push.json"


def github(body: bytes, delivery: str, event: str = "push") -> dict[str, str]:
    """The headers GitHub sends with ``body``."""
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-Hub-Signature-256": f"sha256={digest}",
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Event": event,
        "X-Event": event,
    }


def raw(payload: Any) -> bytes:
    return json.dumps(payload).encode()


async def wait_for_outcome(hub: WebhookHub, entry_id: str, row_id: str, outcome: str) -> None:
    for _ in range(500):
        rows = {row["id"]: row for row in await hub.log(entry_id)}
        if rows[row_id]["outcome"] == outcome:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"delivery {row_id} never became {outcome}")


async def test_a_repeated_delivery_applies_nothing_even_after_a_restart(
    start_webhook_hub: StartWebhookHub,
) -> None:
    hub = await start_webhook_hub()
    entry_id, path = await hub.add_entry(scheme="github", secret=SECRET)
    body = raw({"id": "repo", "state": "first"})
    status, answer = await hub.deliver(path, body, github(body, "d-1"))
    assert (status, answer["created"]) == (200, 1), answer
    status, answer = await hub.deliver(path, body, github(body, "d-1"))
    assert (status, answer) == (200, {"ok": True, "duplicate": True})

    await hub.client.close()  # the hub stops; the dedupe store is in hub.db
    hub = await start_webhook_hub()
    # The same delivery id with another body: still the one delivery GitHub made, not applied.
    other = raw({"id": "repo", "state": "second"})
    status, answer = await hub.deliver(path, other, github(other, "d-1"))
    assert (status, answer) == (200, {"ok": True, "duplicate": True})
    entity = await hub.entity("repo")
    assert entity is not None
    assert entity["state"] == "first"
    status, answer = await hub.deliver(path, other, github(other, "d-2"))
    assert (status, answer["updated"]) == (200, 1), answer
    log = await hub.log(entry_id)
    assert [(row["outcome"], row["delivery_id"]) for row in log] == [
        ("applied", "d-2"),
        ("duplicate", "d-1"),
        ("duplicate", "d-1"),
        ("applied", "d-1"),
    ]
    assert log[3]["counts"] == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
        "rejected": 0,
    }


async def test_a_delivery_that_failed_runs_again_when_the_sender_retries(
    start_webhook_hub: StartWebhookHub,
) -> None:
    hub = await start_webhook_hub()
    entry_id, path = await hub.add_entry(scheme="github", secret=SECRET)
    broken = raw({"id": "repo", "explode": True})
    status, answer = await hub.deliver(path, broken, github(broken, "d-9"))
    assert (status, answer["error"]["code"]) == (502, "webhook_failed"), answer
    assert "the integration broke" not in json.dumps(answer), "the sender learns no internals"
    not_usable = raw(["no", "id"])
    status, answer = await hub.deliver(path, not_usable, github(not_usable, "d-9"))
    assert (status, answer["error"]["message"]) == (400, "body: needs an object with an id")
    # GitHub's "Redeliver" sends the same delivery id: it must run, not be a duplicate.
    fixed = raw({"id": "repo"})
    status, answer = await hub.deliver(path, fixed, github(fixed, "d-9"))
    assert (status, answer["created"]) == (200, 1), answer
    log = await hub.log(entry_id)
    assert [(row["outcome"], row["status"]) for row in log] == [
        ("applied", 200),
        ("refused", 400),
        ("failed", 502),
    ]
    assert log[1]["reason"] == "body: needs an object with an id"


async def test_refused_deliveries_are_logged_and_none_is_a_500(
    start_webhook_hub: StartWebhookHub,
) -> None:
    hub = await start_webhook_hub()
    entry_id, path = await hub.add_entry()
    cases: list[tuple[bytes, int]] = [
        (b"{not json", 400),
        (b"\xff\xfe", 400),
        (b"[" * 5000 + b"]" * 5000, 400),
        (raw({"no": "id"}), 400),
        (b"x" * (300 * 1024), 413),
    ]
    for body, expected in cases:
        status, answer = await hub.deliver(path, body, {"Content-Type": "application/json"})
        assert status == expected, (body[:20], answer)
        assert "error" in answer
    log = await hub.log(entry_id)
    assert [row["status"] for row in log] == [413, 400, 400, 400, 400]
    assert {row["outcome"] for row in log} == {"refused"}
    wrong = await hub.client.post(f"/webhooks/integration/{entry_id}?token=nope", data=b"{}")
    assert wrong.status == 404
    assert len(await hub.log(entry_id)) == 5, "a wrong token is not the entry's delivery"


async def test_rate_limited_deliveries_are_logged_once_a_second(
    start_webhook_hub: StartWebhookHub,
) -> None:
    hub = await start_webhook_hub()
    entry_id, path = await hub.add_entry()
    hub.app[WEBHOOKS].limits.rate, hub.app[WEBHOOKS].limits.burst = 0.01, 1
    statuses = [(await hub.deliver(path, {"id": "x"}))[0] for _ in range(5)]
    assert statuses == [200, 429, 429, 429, 429]
    log = await hub.log(entry_id)
    assert [(row["outcome"], row["status"]) for row in log] == [("refused", 429), ("applied", 200)]


async def test_the_log_keeps_a_capped_body_and_pages(start_webhook_hub: StartWebhookHub) -> None:
    hub = await start_webhook_hub(log_body_max_kib=1)
    entry_id, path = await hub.add_entry()
    for n in range(5):
        status, _ = await hub.deliver(path, {"id": f"e{n}"}, {"X-Event": "tick"})
        assert status == 200
    big = {"id": "big", "pad": "x" * 4000}
    status, _ = await hub.deliver(path, big)
    assert status == 200
    first = await hub.log(entry_id, limit="3")
    assert [row["body"] for row in first[1:]] == [
        raw({"id": "e4"}).decode(),
        raw({"id": "e3"}).decode(),
    ]
    assert first[0]["truncated"] is True
    assert first[0]["body_size"] == len(raw(big))
    assert len(first[0]["body"]) == 1024
    assert first[1]["headers"]["x-event"] == "tick"
    assert first[1]["remote"] == "127.0.0.1"
    _, page = await hub.get(f"/api/config-entries/{entry_id}/deliveries", params={"limit": "3"})
    older = await hub.log(entry_id, limit="3", before=page["next_before"])
    assert [row["body"] for row in older] == [raw({"id": f"e{n}"}).decode() for n in (2, 1, 0)]
    status, answer = await hub.get(
        f"/api/config-entries/{entry_id}/deliveries", params={"limit": "5000"}
    )
    assert status == 400, answer


async def test_retention_drops_old_rows_and_rows_over_the_cap(
    start_webhook_hub: StartWebhookHub,
) -> None:
    hub = await start_webhook_hub(log_max_rows_per_entry=10, log_retention_days=1)
    entry_id, path = await hub.add_entry()
    for n in range(70):  # past the per-entry cap, whose check runs every 64 inserts
        status, _ = await hub.deliver(path, {"id": f"e{n}"})
        assert status == 200
    log = await hub.log(entry_id, limit="200")
    assert len(log) <= 10 + 63
    assert log[0]["body"] == raw({"id": "e69"}).decode()
    service = hub.app[WEBHOOKS]
    await service.log.prune(time.time())  # the scheduled prune: the per-entry cap
    assert [row["body"] for row in await hub.log(entry_id, limit="200")] == [
        raw({"id": f"e{n}"}).decode() for n in range(69, 59, -1)
    ]
    # The scheduled prune a day and a half later: every row is past the retention.
    await service.log.prune(time.time() + 1.5 * 86400)
    assert await hub.log(entry_id) == []
    # The bodies, kept apart from their rows, went with them.
    left = await hub.app[DATABASE].run(
        lambda conn: conn.execute("SELECT count(*) FROM webhook_delivery_bodies").fetchone()[0]
    )
    assert left == 0


async def test_replay_applies_the_stored_body_again(start_webhook_hub: StartWebhookHub) -> None:
    hub = await start_webhook_hub(log_body_max_kib=1)
    entry_id, path = await hub.add_entry(scheme="github", secret=SECRET)
    body = raw({"id": "repo", "state": "pushed"})
    status, _ = await hub.deliver(path, body, github(body, "d-1"))
    assert status == 200
    [row] = await hub.log(entry_id)
    status, answer = await hub.post(f"/api/config-entries/{entry_id}/deliveries/{row['id']}/replay")
    assert (status, answer["updated"]) == (200, 1), answer  # the entity now says "replay"
    entity = await hub.entity("repo")
    assert entity is not None
    assert entity["attributes"]["replay"] is True
    assert entity["attributes"]["event"] == "push", "the stored headers go along"
    newest = (await hub.log(entry_id))[0]
    assert (newest["id"], newest["replay"], newest["outcome"]) == (
        answer["delivery"],
        True,
        "applied",
    )

    big = raw({"id": "big", "pad": "x" * 4000})
    status, _ = await hub.deliver(path, big, github(big, "d-2"))
    assert status == 200
    truncated = (await hub.log(entry_id))[0]
    status, answer = await hub.post(
        f"/api/config-entries/{entry_id}/deliveries/{truncated['id']}/replay"
    )
    assert (status, answer["error"]["code"]) == (409, "delivery_truncated")
    status, answer = await hub.post(f"/api/config-entries/{entry_id}/deliveries/nope/replay")
    assert (status, answer["error"]["code"]) == (404, "delivery_not_found")


async def test_preview_uses_the_newest_delivery_and_applies_nothing(
    start_webhook_hub: StartWebhookHub,
) -> None:
    hub = await start_webhook_hub()
    entry_id, path = await hub.add_entry()
    preview = f"/api/config-entries/{entry_id}/webhook/preview"
    status, answer = await hub.post(preview, {"options": {"id_field": "id"}})
    assert (status, answer["error"]["code"]) == (404, "no_deliveries")
    assert answer["error"]["key"] == "errors.no_deliveries"
    status, _ = await hub.deliver(path, {"id": "a", "name": "alpha"})
    assert status == 200
    status, answer = await hub.post(preview, {"options": {"id_field": "name"}})
    assert (status, answer) == (
        200,
        {"preview": {"entities": [{"external_id": "alpha"}], "event": None}},
    )
    assert await hub.entity("alpha") is None, "a preview applies nothing"
    status, answer = await hub.post(preview, {"options": {"id_field": "missing"}})
    assert (status, answer["error"]["code"]) == (400, "webhook_payload_invalid")
    assert answer["error"]["message"] == "id_field: 'missing' found nothing in the body"
    status, answer = await hub.post(preview, {"mapping": {}})
    assert status == 400, answer

    _, plain_path = await hub.add_entry("plain")
    plain_id = plain_path.split("/")[3].split("?")[0]
    status, answer = await hub.post(
        f"/api/config-entries/{plain_id}/webhook/preview", {"options": {}}
    )
    assert (status, answer["error"]["code"]) == (400, "webhook_preview_unsupported")


async def test_slow_handling_is_answered_202_and_finishes_in_the_background(
    start_webhook_hub: StartWebhookHub,
) -> None:
    hub = await start_webhook_hub(answer_budget_seconds=0.2)
    entry_id, path = await hub.add_entry(scheme="github", secret=SECRET)
    body = raw({"id": "slow", "sleep": 1.0})
    status, answer = await hub.deliver(path, body, github(body, "d-slow"))
    assert status == 202, answer
    assert answer["ok"] is True
    assert answer["accepted"] is True
    row_id = answer["delivery"]
    [row] = await hub.log(entry_id)
    assert (row["id"], row["outcome"], row["delivery_id"]) == (row_id, "accepted", "d-slow")
    await wait_for_outcome(hub, entry_id, row_id, "applied")
    assert await hub.entity("slow") is not None
    status, answer = await hub.deliver(path, body, github(body, "d-slow"))
    assert (status, answer) == (200, {"ok": True, "duplicate": True})


async def test_the_log_is_for_managers_and_goes_with_its_entry(
    start_webhook_hub: StartWebhookHub,
) -> None:
    hub = await start_webhook_hub()
    entry_id, path = await hub.add_entry()
    status, _ = await hub.deliver(path, {"id": "a"})
    assert status == 200
    headers = await hub.another_person("guest", "a long guest passphrase")
    for method, suffix in (("GET", "deliveries"), ("POST", "webhook/preview")):
        resp = await hub.client.request(
            method, f"/api/config-entries/{entry_id}/{suffix}", headers=headers, json={}
        )
        assert resp.status in (403, 404), await resp.text()
    removed = await hub.client.delete(f"/api/config-entries/{entry_id}")
    assert removed.status in (200, 204), await removed.text()
    assert await hub.app[WEBHOOKS].log.page(entry_id, limit=10) == []


async def test_the_same_delivery_sent_twice_at_once_is_applied_once(
    start_webhook_hub: StartWebhookHub,
) -> None:
    hub = await start_webhook_hub()
    entry_id, path = await hub.add_entry(scheme="github", secret=SECRET)
    body = raw({"id": "repo"})
    answers = await asyncio.gather(
        *(hub.deliver(path, body, github(body, "d-same")) for _ in range(10))
    )
    assert sorted(status for status, _ in answers) == [200] * 10
    duplicates = [answer for _, answer in answers if answer.get("duplicate")]
    assert len(duplicates) == 9
    outcomes = sorted(row["outcome"] for row in await hub.log(entry_id))
    assert outcomes == ["applied"] + ["duplicate"] * 9


async def test_a_delivery_without_a_sender_id_is_in_the_log_after_the_hub_stops_at_once(
    start_webhook_hub: StartWebhookHub,
) -> None:
    # Its row gathers with others for one commit; stopping the hub must not lose it.
    hub = await start_webhook_hub()
    entry_id, path = await hub.add_entry()
    status, answer = await hub.deliver(path, {"id": "plain", "state": "on"})
    assert (status, answer["created"]) == (200, 1), answer
    await hub.client.close()
    hub = await start_webhook_hub()
    log = await hub.log(entry_id)
    assert [(row["outcome"], row["delivery_id"], row["status"]) for row in log] == [
        ("applied", None, 200)
    ]


async def test_bodies_are_kept_deflated_and_come_back_whole(
    start_webhook_hub: StartWebhookHub,
) -> None:
    hub = await start_webhook_hub()
    entry_id, path = await hub.add_entry(scheme="github", secret=SECRET)
    push = json.loads(PUSH.read_bytes())
    big = raw({"id": "repo", "state": "pushed", "push": push})
    small = raw({"id": "small"})
    for n, body in enumerate((big, small)):
        status, _ = await hub.deliver(path, body, github(body, f"d-{n}"))
        assert status == 200
    stored = await hub.app[DATABASE].run(
        lambda conn: conn.execute(
            "SELECT d.body_size, b.deflated, length(b.body) FROM webhook_delivery_bodies AS b "
            "JOIN webhook_deliveries AS d ON d.seq = b.delivery_seq ORDER BY d.seq"
        ).fetchall()
    )
    (big_size, big_deflated, big_kept), (small_size, small_deflated, small_kept) = stored
    assert (big_size, big_deflated) == (len(big), 1)
    assert big_kept < big_size / 3, "a GitHub push shrinks to under a third"
    assert (small_size, small_deflated, small_kept) == (len(small), 0, len(small))

    newest, oldest = await hub.log(entry_id)
    assert (newest["body"], oldest["body"]) == (small.decode(), big.decode())
    status, answer = await hub.post(
        f"/api/config-entries/{entry_id}/deliveries/{oldest['id']}/replay"
    )
    assert status == 200, answer
    entity = await hub.entity("repo")
    assert entity is not None
    assert entity["attributes"]["replay"] is True


async def test_bodies_logged_before_deflating_read_as_they_were(tmp_path: Path) -> None:
    before = DATABASE_MIGRATIONS[: DATABASE_MIGRATIONS.index(DELIVERY_BODY_MIGRATIONS[0])]
    old = Database(tmp_path / "hub.db", list(before))
    await old.open()
    body = raw({"id": "repo", "pad": "x" * 2000})
    await old.conn.execute(
        "INSERT INTO webhook_deliveries (seq, id, entry_id, received_at, headers, body_size, "
        "truncated, replay, outcome, status) VALUES (1, 'r1', 'e1', 1, '{}', ?, 0, 0, 'applied', 200)",
        (len(body),),
    )
    await old.conn.execute(
        "INSERT INTO webhook_delivery_bodies (delivery_seq, body) VALUES (1, ?)", (body,)
    )
    await old.close()

    db = Database(tmp_path / "hub.db", list(DATABASE_MIGRATIONS))
    await db.open()
    try:
        stored = await DeliveryLog(db, WebhooksConfig()).get("e1", "r1")
    finally:
        await db.close()
    assert stored is not None
    assert stored.body == body
