"""SIGKILL while webhook entities wait for the search index: after a restart, search finds them."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp

from tests.robustness.support_live_hub import OWNER, add_webhook, hub_process


async def post(session: aiohttp.ClientSession, url: str, *entities: dict[str, Any]) -> None:
    """Deliver ``entities`` in one webhook and require its 200."""
    async with session.post(url, json={"entities": list(entities)}) as resp:
        assert resp.status == 200, await resp.text()


async def found(
    session: aiohttp.ClientSession, base: str, headers: dict[str, str], words: str
) -> set[str]:
    """The external ids a search for ``words`` answers."""
    async with session.get(
        f"{base}/api/entities/search", params={"q": words}, headers=headers
    ) as resp:
        assert resp.status == 200, await resp.text()
        return {hit["entity"]["external_id"] for hit in (await resp.json())["results"]}


async def test_sigkill_with_entities_pending_for_search_loses_none(tmp_path: Path) -> None:
    async with hub_process(tmp_path) as hub, aiohttp.ClientSession() as session:
        url, headers = await add_webhook(session, hub.url)
        await post(
            session,
            url,
            {"id": "cabinet", "name": "Walnut cabinet", "state": "closed"},
            {"id": "lamp", "name": "Juniper lamp", "state": "off"},
        )
        # A search indexes what is pending first, so the index now holds both as named.
        assert await found(session, hub.url, headers, "juniper") == {"lamp"}
        await post(
            session,
            url,
            {"id": "lamp", "name": "Saffron lamp", "state": "on"},
            {"id": "clock", "name": "Quartz clock", "state": 7},
        )
        hub.proc.send_signal(signal.SIGKILL)  # at once: the writer waits a moment to index
        assert await hub.proc.wait() == -signal.SIGKILL
    with sqlite3.connect(hub.config_dir / "hub.db") as conn:
        pending = {row[0] for row in conn.execute("SELECT name FROM search_pending")}
    conn.close()
    assert pending == {"Saffron lamp", "Quartz clock"}, "the kill came after the index caught up"

    async with hub_process(tmp_path, log_name="hub2.log"):
        pass  # started and stopped cleanly, nothing searched: the writer indexes what was pending
    with sqlite3.connect(hub.config_dir / "hub.db") as conn:
        left = conn.execute("SELECT count(*) FROM search_pending").fetchone()[0]
        indexed = conn.execute("SELECT rowid, name FROM entity_search").fetchall()
        names = dict(conn.execute("SELECT id, name FROM entities").fetchall())
    conn.close()
    assert left == 0
    assert dict(indexed) == names, "the index holds every entity under its newest name, only those"

    async with (
        hub_process(tmp_path, log_name="hub3.log") as hub,
        aiohttp.ClientSession() as session,
    ):
        async with session.post(f"{hub.url}/api/auth/login", json=OWNER) as resp:
            headers = {"Authorization": f"Bearer {(await resp.json())['access_token']}"}
        assert await found(session, hub.url, headers, "walnut") == {"cabinet"}
        assert await found(session, hub.url, headers, "juniper") == set()
        assert await found(session, hub.url, headers, "saffron") == {"lamp"}
        assert await found(session, hub.url, headers, "quartz") == {"clock"}
        assert await found(session, hub.url, headers, "lamp clock") == set()  # every word counts
        assert await found(session, hub.url, headers, "lamp") == {"lamp"}
