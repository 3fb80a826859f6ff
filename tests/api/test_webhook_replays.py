"""Signed webhooks cannot be replayed: not after a restart, not with a skewed clock, not with ``nan``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hub.api.webhooks import sign
from hub.core.database import CORE_MIGRATIONS, Database
from hub.entities.webhook_replays import REPLAY_MIGRATIONS, REPLAY_WINDOW, ReplayGuard
from tests.api.conftest import Hub, StartHub
from tests.api.test_entities import add_station

BODY = json.dumps({"id": "signed"}).encode()


async def signed_webhook(hub: Hub, entry_id: str) -> tuple[str, str]:
    """Require signatures on the entry; its webhook path and signing secret."""
    status, signing = await hub.post(
        f"/api/config-entries/{entry_id}/webhook/signing", {"enabled": True}
    )
    assert status == 200, signing
    _, info = await hub.get(f"/api/config-entries/{entry_id}/webhook")
    return str(info["path"]), str(signing["signing_secret"])


async def post(hub: Hub, path: str, secret: str, stamp: str) -> tuple[int, str]:
    """A signed request; its status and error message (empty on success)."""
    headers = {"X-Hub-Timestamp": stamp, "X-Hub-Signature": sign(secret, stamp, BODY)}
    resp = await hub.client.post(path, data=BODY, headers=headers)
    answer = await resp.json()
    return resp.status, str(answer.get("error", {}).get("message", ""))


@pytest.mark.parametrize("stamp", ["nan", "NaN", "inf", "-inf", "infinity"])
async def test_a_timestamp_that_is_not_a_number_of_seconds_is_refused(
    start_hub: StartHub, stamp: str
) -> None:
    hub = await start_hub()
    path, secret = await signed_webhook(hub, await add_station(hub))
    status, message = await post(hub, path, secret, stamp)
    assert status == 401
    assert "X-Hub-Timestamp must be unix seconds" in message


async def test_a_signed_request_is_refused_again_after_a_restart(start_hub: StartHub) -> None:
    hub = await start_hub()
    path, secret = await signed_webhook(hub, await add_station(hub))
    stamp = str(int(time.time()))
    assert await post(hub, path, secret, stamp) == (200, "")
    await hub.client.close()

    hub = await start_hub()
    status, message = await post(hub, path, secret, stamp)
    assert status == 401
    assert "already received" in message


async def test_a_future_dated_signature_is_remembered_until_its_own_window_ends(
    tmp_path: Path,
) -> None:
    db = Database(tmp_path / "hub.db", [*CORE_MIGRATIONS, *REPLAY_MIGRATIONS])
    await db.open()
    try:
        guard = ReplayGuard(db)
        now = 1_700_000_000.0
        ahead = now + REPLAY_WINDOW - 10  # a sender whose clock runs almost a window ahead
        assert await guard.first_use("entry:sha256=ab", ahead, now)
        # Seen more than a window ago, yet its timestamp is still acceptable: still refused.
        later = now + REPLAY_WINDOW + 60
        assert abs(later - ahead) <= REPLAY_WINDOW
        assert not await guard.first_use("entry:sha256=ab", ahead, later)
        # Once the timestamp itself is out of the window, nothing needs remembering.
        gone = ahead + REPLAY_WINDOW + 1
        assert await guard.first_use("entry:sha256=cd", gone, gone)
        count = await db.run(
            lambda conn: conn.execute("SELECT COUNT(*) FROM webhook_signatures").fetchone()[0]
        )
        assert count == 1, "the expired signature was forgotten"
    finally:
        await db.close()
