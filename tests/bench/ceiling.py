"""The ceiling of the side-by-side harness: an aiohttp server that does nothing but answer.

Run: ``python -m tests.bench.ceiling [--port 8431] [--info FILE]``. It serves what
``../shared/bench/ha_peer/measure.py --target hub`` asks of the hub (the websocket's auth,
``subscribe_events`` and ``ping``, and a webhook path) with no database, no validation and no
access control: a webhook answers 200 at once, after sending every subscriber one event of the
size and shape of the hub's ``entity.updated``. ``--info`` writes the ``--hub-info`` file that
points the harness at it, e.g.::

    python -m tests.bench.ceiling --info /tmp/ceiling.json &
    python measure.py --target hub --hub-info /tmp/ceiling.json --tests fanout,webhook,ws

Whatever this server reaches is as far as any server on aiohttp can go with that client on this
machine: the harness's client shares the two cores, and in the fan-out test it parses 20 events
for every write it sends, one write after another.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

WEBHOOK_PATH = "/webhooks/integration/ceiling"
ISO = "2026-01-01T00:00:00.000+00:00"
VIEW: dict[str, Any] = dict.fromkeys(
    ("parent_id", "device_id", "category", "device_class", "state_class", "unit")
)
VIEW.update(id=1, entry_id="0123456789abcdef", domain="webhook", entity_type="reading")
VIEW.update(external_id="fanout", name="fanout", state="init", attributes={}, visible=True)
VIEW.update(actions=[], created_at=ISO, updated_at=ISO, last_changed=ISO)
"""An entity view as the hub's events carry it (old and new state)."""

SUBSCRIBERS: web.AppKey[list[tuple[web.WebSocketResponse, int]]] = web.AppKey("subscribers")


async def websocket(request: web.Request) -> web.WebSocketResponse:
    """Auth (any token), ``subscribe_events`` (every event) and ``ping``."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.send_str('{"type":"auth_required"}')
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            break
        message = json.loads(msg.data)
        kind = message.get("type")
        if kind == "auth":
            await ws.send_str('{"type":"auth_ok"}')
        elif kind == "subscribe_events":
            request.app[SUBSCRIBERS].append((ws, message["id"]))
            answer = {"id": message["id"], "type": "result", "success": True, "result": None}
            await ws.send_str(json.dumps(answer))
        elif kind == "ping":
            await ws.send_str(f'{{"id":{message["id"]},"type":"pong"}}')
    return ws


async def webhook(request: web.Request) -> web.Response:
    """Send every subscriber the event the hub would, then answer."""
    body = await request.json()
    new = {**VIEW, "state": body.get("state"), "attributes": body.get("attributes") or {}}
    data = {"entity_id": 1, "external_id": body.get("id"), "old_state": VIEW, "new_state": new}
    event = json.dumps(
        {"event_type": "entity.updated", "data": data, "origin": "local", "time_fired": ISO},
        separators=(",", ":"),
    )
    for ws, subscription in request.app[SUBSCRIBERS]:
        if not ws.closed:
            await ws.send_str(f'{{"id":{subscription},"type":"event","event":{event}}}')
    return web.json_response({"entities": 1})


def main(argv: list[str] | None = None) -> int:
    """Serve on 127.0.0.1 until interrupted."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=8431)
    parser.add_argument("--info", metavar="FILE", help="write the harness's --hub-info file")
    args = parser.parse_args(argv)
    if args.info:
        info = {"base_url": f"http://127.0.0.1:{args.port}", "token": "any"}
        Path(args.info).write_text(json.dumps({**info, "webhook_path": WEBHOOK_PATH}) + "\n")
    app = web.Application()
    app[SUBSCRIBERS] = []
    app.router.add_get("/api/websocket", websocket)
    app.router.add_post(WEBHOOK_PATH, webhook)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
