"""Request bodies over raw sockets: read whole however they arrive, bounded, JSON only, text only."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import pytest

from hub.api.state import CONFIG_ENTRIES
from hub.api.webhooks import sign
from tests.api.conftest import Hub, StartHub
from tests.api.test_entities import add_station, entities

PAUSE = 0.3
"""Seconds between the pieces of a body: long enough that the first is read on its own."""


async def send_raw(
    hub: Hub,
    method: str,
    path: str,
    pieces: list[bytes],
    headers: dict[str, str] | None = None,
    *,
    length: int | None = None,
    chunked: bool = False,
) -> tuple[int, Any]:
    """Send the headers, then each piece after a pause, as firmware writing separately does."""
    server = hub.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {server.host}", "Connection: close"]
    auth = hub.client.session.headers.get("Authorization")
    if auth and path.startswith("/api/"):
        lines.append(f"Authorization: {auth}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    else:
        total = sum(len(piece) for piece in pieces) if length is None else length
        lines.append(f"Content-Length: {total}")
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        for piece in pieces:
            await asyncio.sleep(PAUSE)
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            await writer.drain()
        if chunked:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        answer = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


JSON = {"Content-Type": "application/json"}


async def webhook_path(hub: Hub, entry_id: str) -> str:
    _, info = await hub.get(f"/api/config-entries/{entry_id}/webhook")
    return str(info["path"])


async def test_a_json_body_split_over_two_segments_is_read_whole(start_hub: StartHub) -> None:
    hub = await start_hub()
    status, form = await send_raw(
        hub, "POST", "/api/config-flows", [b'{"domain": ', b'"vault"}'], JSON
    )
    assert status == 200, form
    assert (form["type"], form["step_id"]) == ("form", "user")


async def test_a_valid_first_piece_followed_by_junk_is_refused(start_hub: StartHub) -> None:
    hub = await start_hub()
    status, body = await send_raw(
        hub, "POST", "/api/config-flows", [b'{"domain": "vault"}', b"junk"], JSON
    )
    assert (status, body["error"]["code"]) == (400, "bad_request")
    assert "not valid JSON" in body["error"]["message"]
    entry_id = await add_station(hub)
    path = await webhook_path(hub, entry_id)
    status, body = await send_raw(hub, "POST", path, [b'{"id": "junk"}', b"<script>"])
    assert status == 400, body
    assert not [e for e in await entities(hub) if e["external_id"] == "junk"], "nothing applied"


async def test_a_100_kb_webhook_in_two_segments_is_applied(start_hub: StartHub) -> None:
    hub = await start_hub()
    path = await webhook_path(hub, await add_station(hub))
    body = json.dumps({"id": "long", "name": "n" * 100_000, "celsius": 4.5}).encode()
    status, answer = await send_raw(hub, "POST", path, [body[:60_000], body[60_000:]])
    assert (status, answer.get("created")) == (200, 1), answer
    [long] = [e for e in await entities(hub) if e["external_id"] == "long"]
    assert len(long["name"]) == 100_000


async def test_a_signed_webhook_split_over_two_segments_is_accepted(start_hub: StartHub) -> None:
    hub = await start_hub()
    entry_id = await add_station(hub)
    status, signing = await hub.post(
        f"/api/config-entries/{entry_id}/webhook/signing", {"enabled": True}
    )
    assert status == 200
    body = json.dumps({"id": "signed-split", "celsius": 1.0}).encode()
    stamp = str(int(time.time()))
    headers = {
        "X-Hub-Timestamp": stamp,
        "X-Hub-Signature": sign(signing["signing_secret"], stamp, body),
    }
    path = await webhook_path(hub, entry_id)
    status, answer = await send_raw(hub, "POST", path, [body[:10], body[10:]], headers)
    assert (status, answer.get("created")) == (200, 1), answer


@pytest.mark.parametrize("target", ["webhook", "api"])
async def test_a_chunked_body_over_the_limit_is_413(start_hub: StartHub, target: str) -> None:
    hub = await start_hub(http={"webhook_max_body_kib": 1})
    if target == "webhook":
        path, size = await webhook_path(hub, await add_station(hub)), 1024
    else:
        path, size = "/api/config-flows", 256 * 1024
    # Each piece alone is under the limit: only reading to the end finds the body too large.
    opening = b'{"domain": "vault", "language": "'
    pieces = [opening, b"x" * (size // 2), b"x" * (size // 2), b'"}']
    status, body = await send_raw(hub, "POST", path, pieces, JSON, chunked=True)
    assert (status, body["error"]["code"]) == (413, "payload_too_large")
    assert str(size) in body["error"]["message"]


async def test_a_chunked_body_within_the_limit_is_read_whole(start_hub: StartHub) -> None:
    hub = await start_hub()
    pieces = [b'{"domain"', b': "vault"}']
    status, form = await send_raw(hub, "POST", "/api/config-flows", pieces, JSON, chunked=True)
    assert (status, form["step_id"]) == (200, "user"), form


async def test_json_routes_need_the_json_content_type(start_hub: StartHub) -> None:
    hub = await start_hub()
    # What a cross-site form may send without asking the browser first.
    for kind in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {} if kind is None else {"Content-Type": kind}
        resp = await hub.client.post(
            "/api/config-flows", data=b'{"domain": "vault"}', headers=headers
        )
        body = await resp.json()
        assert (resp.status, body["error"]["code"]) == (415, "unsupported_media_type"), kind
        assert "application/json" in body["error"]["message"]
    charset = {"Content-Type": "application/json; charset=utf-8"}
    resp = await hub.client.post("/api/config-flows", data=b'{"domain": "vault"}', headers=charset)
    assert resp.status == 200
    form = await hub.start("vault")
    # An empty body with no type still passes where the model allows one.
    resp = await hub.client.post(f"/api/config-flows/{form['flow_id']}")
    assert resp.status == 200, await resp.text()


async def test_webhooks_take_any_content_type(start_hub: StartHub) -> None:
    hub = await start_hub()
    path = await webhook_path(hub, await add_station(hub))
    resp = await hub.client.post(
        path, data=b'{"id": "plain"}', headers={"Content-Type": "text/plain"}
    )
    assert resp.status == 200, await resp.text()


async def test_a_lone_surrogate_in_a_flow_answer_is_refused_and_storage_stays_sound(
    start_hub: StartHub,
) -> None:
    hub = await start_hub()
    form = await hub.start("vault")
    status, body = await hub.post(
        f"/api/config-flows/{form['flow_id']}", {"user_input": {"name": "x\ud800"}}
    )
    assert (status, body["error"]["code"]) == (400, "bad_request")
    assert body["error"]["message"].startswith("user_input.name: a lone surrogate (\\ud800)")

    # The flow is still usable, and so is every later change to the entries, by anyone.
    done = await hub.submit(form["flow_id"], {"name": "fine"})
    entry_id = done["entry_id"]
    resp = await hub.client.post(f"/api/config-entries/{entry_id}/disable")
    assert resp.status == 200, await resp.text()
    await assert_disk_matches_memory(hub)


async def test_a_lone_surrogate_reaching_the_entries_store_poisons_nothing(
    start_hub: StartHub,
) -> None:
    # Past the parser (integration code, a title it derived): stored escaped, read back the same.
    hub = await start_hub()
    entries = hub.app[CONFIG_ENTRIES]
    entry = await entries.create(
        domain="station",
        title="Odd \udc80",
        scope="global",
        owner=None,
        data={"url": hub.station_url},
        secrets={},
        version=1,
    )
    assert entry.title == "Odd \udc80"
    entry_id = await add_station(hub)  # a later change commits as usual
    resp = await hub.client.post(f"/api/config-entries/{entry_id}/disable")
    assert resp.status == 200, await resp.text()
    await assert_disk_matches_memory(hub)


async def assert_disk_matches_memory(hub: Hub) -> None:
    """The entries file holds exactly the entries the API lists."""
    _, listed = await hub.get("/api/config-entries")
    stored = json.loads((hub.config_dir / ".storage" / "core.config_entries").read_bytes())
    on_disk = {(e["entry_id"], e["title"], e["disabled"]) for e in stored["data"]["entries"]}
    in_memory = {(e["entry_id"], e["title"], e["disabled"]) for e in listed["entries"]}
    assert on_disk == in_memory


async def test_a_lone_surrogate_in_a_webhook_is_a_400_without_a_traceback(
    start_hub: StartHub, caplog: pytest.LogCaptureFixture
) -> None:
    hub = await start_hub()
    path = await webhook_path(hub, await add_station(hub))
    with caplog.at_level(logging.WARNING):
        for payload in ({"id": "a\ud800"}, {"id": "b", "name": "\udfff"}):
            resp = await hub.client.post(path, json=payload)
            body = await resp.json()
            assert (resp.status, body["error"]["code"]) == (400, "bad_request"), body
            assert "lone surrogate" in body["error"]["message"]
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_synced_record_with_a_lone_surrogate_is_rejected_alone(
    start_hub: StartHub, caplog: pytest.LogCaptureFixture
) -> None:
    hub = await start_hub()
    hub.station.readings = [{"id": "known", "name": "Known", "celsius": 0.0}]
    entry_id = await add_station(hub)
    status, body = await hub.post(f"/api/config-entries/{entry_id}/sync")
    assert status == 200, body
    # Upstream JSON may escape a lone surrogate; the integration passes it on in a name.
    hub.station.readings = [
        {"id": "good", "name": "Good", "celsius": 1.0},
        {"id": "bad", "name": "Bad \ud800", "celsius": 2.0},
        {"id": "known", "name": "Known \udc00", "celsius": 3.0},
    ]
    with caplog.at_level(logging.WARNING):
        status, body = await hub.post(f"/api/config-entries/{entry_id}/sync")
    assert status == 200, body
    found = {e["external_id"]: e for e in await entities(hub, entry_id=entry_id)}
    assert set(found) == {"main", "good", "known"}, "the switch, and not the refused record"
    assert (found["known"]["name"], found["known"]["state"]) == ("Known", 0.0), (
        "a full sync keeps, unchanged, an entity whose new record was refused"
    )
    assert "rejected record 'bad': name: a lone surrogate" in caplog.text
    assert "Traceback" not in caplog.text


async def test_a_lone_surrogate_in_a_websocket_message_is_refused_naming_the_field(
    start_hub: StartHub,
) -> None:
    hub = await start_hub()
    token = hub.client.session.headers["Authorization"].removeprefix("Bearer ")
    ws = await hub.client.ws_connect("/api/websocket")
    try:
        assert (await ws.receive_json(timeout=5))["type"] == "auth_required"
        await ws.send_json({"type": "auth", "access_token": token})
        assert (await ws.receive_json(timeout=5))["type"] == "auth_ok"
        await ws.send_str('{"id": 1, "type": "ping", "note": {"text": "\\ud800"}}')
        answer = await ws.receive_json(timeout=5)
        assert answer["success"] is False
        assert answer["error"]["code"] == "invalid_format"
        assert answer["error"]["message"] == "note.text: a lone surrogate (\\ud800) is not text"
        await ws.send_json({"id": 2, "type": "ping"})
        assert (await ws.receive_json(timeout=5))["id"] == 2, "the connection goes on"
    finally:
        await ws.close()
