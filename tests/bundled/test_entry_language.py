"""An entry reads in the person's language: the integration's name while nobody renamed it, and
its health detail, over REST and the websocket alike."""

from __future__ import annotations

from typing import Any

from tests.bundled.conftest import BundledHub

GERMAN = {"Accept-Language": "de"}


async def _titles(hub: BundledHub, **kw: Any) -> dict[str, str]:
    status, answer = await hub.get("/api/config-entries", **kw)
    assert status == 200, answer
    return {entry["domain"]: entry["title"] for entry in answer["entries"]}


async def test_an_entry_without_a_form_is_named_in_the_persons_language(hub: BundledHub) -> None:
    for domain in ("system_monitor", "text_tools"):
        created = await hub.start_flow(domain)
        assert created["type"] == "create_entry", created
    webhook = await hub.start_flow("webhook")
    await hub.submit(webhook["flow_id"], {"name": "Text Tools"})

    assert await _titles(hub) == {
        "system_monitor": "System Monitor",
        "text_tools": "Text Tools",
        "webhook": "Text Tools",
    }
    german = await _titles(hub, headers=GERMAN)
    assert (german["system_monitor"], german["text_tools"]) == ("Systemmonitor", "Textwerkzeuge")
    assert german["webhook"] == "Text Tools", "a name a person typed stays as typed"

    assert hub.client.session.headers is not None
    token = hub.client.session.headers["Authorization"].removeprefix("Bearer ")
    async with hub.client.ws_connect("/api/websocket", headers=GERMAN) as ws:
        assert (await ws.receive_json())["type"] == "auth_required"
        await ws.send_json({"type": "auth", "access_token": token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        await ws.send_json({"id": 1, "type": "config_entries/list"})
        answer = await ws.receive_json()
    titles = {entry["domain"]: entry["title"] for entry in answer["result"]["entries"]}
    assert titles["system_monitor"] == "Systemmonitor"
