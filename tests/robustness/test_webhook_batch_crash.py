"""SIGKILL while 20 senders' webhooks share transactions: every answered 200 is in ``hub.db``."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from pathlib import Path

import aiohttp

from tests.robustness.support_live_hub import add_webhook, hub_process

SENDERS = 20
RATES = {"HUB__HTTP__WEBHOOK_RATE_PER_SECOND": "1000000", "HUB__HTTP__WEBHOOK_BURST": "1000000"}


async def test_sigkill_amid_batched_webhooks_keeps_every_acknowledged_one(tmp_path: Path) -> None:
    acked: dict[str, int] = {}
    async with hub_process(tmp_path, RATES) as hub, aiohttp.ClientSession() as session:
        url, _ = await add_webhook(session, hub.url)
        killed, loaded = asyncio.Event(), asyncio.Event()

        async def sender(n: int) -> None:
            value = 0
            while not killed.is_set():
                value += 1
                body = {"id": f"s{n}", "state": value, "attributes": {"n": n}}
                try:
                    async with session.post(url, json=body) as resp:
                        if resp.status == 200:
                            acked[f"s{n}"] = value
                            if sum(acked.values()) >= 30 * SENDERS:  # batches are full by now
                                loaded.set()
                except aiohttp.ClientError:
                    return  # the hub is gone: this one was not acknowledged

        async def killer() -> None:
            await loaded.wait()
            hub.proc.send_signal(signal.SIGKILL)
            killed.set()

        async with asyncio.timeout(120):  # a hub that never answers 200 fails, not hangs
            await asyncio.gather(killer(), *(sender(n) for n in range(SENDERS)))
        assert await hub.proc.wait() == -signal.SIGKILL
    with sqlite3.connect(hub.config_dir / "hub.db") as conn:
        stored = {
            external_id: json.loads(state)
            for external_id, state in conn.execute(
                "SELECT external_id, state FROM entities WHERE entity_type = 'value'"
            )
        }
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    assert len(acked) == SENDERS
    # Stored is what was acknowledged, or a later value whose answer the kill cut off.
    lost = {
        key: (value, stored.get(key)) for key, value in acked.items() if stored.get(key, 0) < value
    }
    assert not lost
