"""A fake signal-cli-rest-api on 127.0.0.1, speaking the endpoints the Signal integration uses.

Serve ``fake.app()`` with pytest-aiohttp's ``aiohttp_server``; the bridge's URL is the server's root.
As the real bridge (normal or native mode): ``GET /v1/about``; ``GET /v1/accounts`` lists the linked
numbers; ``GET /v1/qrcodelink?device_name=…`` answers a PNG QR code, each one replacing the last;
``GET /v1/receive/{number}?timeout=s`` waits up to ``timeout`` seconds for a message, then answers
every queued envelope and forgets them; ``POST /v2/send`` answers 201 ``{"timestamp"}``; errors are
``{"error": …}``. A test scans the newest code with ``scan`` (refused once it expired) and queues
messages with ``message``; ``down``, ``garbage`` and ``delay`` make the bridge fail.

Run on its own to try the integration without a phone:
``python -m tests.fakes.signal --port 8080``, then ``POST /fake/link {"number"}`` scans the newest
code and ``POST /fake/messages {"number", "from", "message", "name"?, "group"?}`` queues a message;
``GET /fake/sent`` lists what was sent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import struct
import time
import zlib
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

JsonDict = dict[str, Any]

VERSION: Final = "0.92"
QR_TTL: Final = 120.0
"""Seconds a link code stays valid, as a phone sees it."""
MAX_WAIT: Final = 10.0


@dataclass
class LinkCode:
    """One ``/v1/qrcodelink`` answer: the code a phone would scan."""

    token: str
    issued: float
    expired: bool = False


class FakeSignal:
    """The bridge's state; a test changes it between requests."""

    def __init__(self, *, qr_ttl: float = QR_TTL, qr_png: bytes | None = None) -> None:
        self.accounts: list[str] = []
        self.qr_ttl = qr_ttl
        self.qr_png = qr_png
        """Always answer these bytes as the QR code (a generated PNG per code otherwise)."""
        self.codes: list[LinkCode] = []
        self.queues: dict[str, list[JsonDict]] = {}
        self.sent: list[JsonDict] = []
        self.requests: list[str] = []
        self.down = False
        """Answer every request 503, as the bridge does while signal-cli is not running."""
        self.garbage = False
        """Answer every request 200 with an HTML page, as a wrong address does."""
        self.delay = 0.0
        """Seconds before every answer."""
        self.hold = False
        """A receive always waits its whole ``timeout``, as signal-cli's ``receive -t`` does;
        by default it answers as soon as a message is queued (as in json-rpc mode)."""
        self._news = asyncio.Event()
        self._clock = int(time.time() * 1000)

    @property
    def qr_requests(self) -> int:
        """How many link codes were asked for."""
        return len(self.codes)

    # Setting the scene

    def scan(self, number: str) -> bool:
        """The phone of ``number`` scans the newest code: linked, unless it expired."""
        if not self.codes:
            return False
        code = self.codes[-1]
        if code.expired or time.monotonic() - code.issued > self.qr_ttl:
            return False
        if number not in self.accounts:
            self.accounts.append(number)
        return True

    def expire_codes(self) -> None:
        """Every code issued so far times out, as one left on screen too long does."""
        for code in self.codes:
            code.expired = True

    def message(
        self,
        number: str,
        sender: str,
        text: str,
        *,
        name: str = "",
        group_id: str | None = None,
        timestamp: int | None = None,
    ) -> JsonDict:
        """Queue a text message from ``sender`` for ``number``; the envelope as received."""
        data: JsonDict = {"timestamp": timestamp or self._tick(), "message": text}
        if group_id is not None:
            data["groupInfo"] = {"groupId": group_id, "type": "DELIVER"}
        data["expiresInSeconds"] = 0
        data["viewOnce"] = False
        envelope: JsonDict = {
            "source": sender,
            "sourceNumber": sender,
            "sourceUuid": hashlib.sha256(sender.encode()).hexdigest()[:32],
            "sourceName": name,
            "sourceDevice": 1,
            "timestamp": data["timestamp"],
            "dataMessage": data,
        }
        return self.deliver(number, {"envelope": envelope, "account": number})

    def deliver(self, number: str, item: JsonDict) -> JsonDict:
        """Queue any envelope for ``number`` (a receipt, a typing note, something odd)."""
        self.queues.setdefault(number, []).append(item)
        news, self._news = self._news, asyncio.Event()
        news.set()
        return item

    def queued(self, number: str) -> int:
        """Envelopes waiting for ``number``."""
        return len(self.queues.get(number, []))

    def _tick(self) -> int:
        self._clock = max(self._clock + 1, int(time.time() * 1000))
        return self._clock

    # The API

    def app(self) -> web.Application:
        """The bridge, and the ``/fake`` controls a person trying it uses instead of a phone."""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/v1/about", self.about)
        app.router.add_get("/v1/accounts", self.list_accounts)
        app.router.add_get("/v1/qrcodelink", self.qrcodelink)
        app.router.add_get("/v1/receive/{number}", self.receive)
        app.router.add_post("/v2/send", self.send)
        app.router.add_post("/fake/link", self.fake_link)
        app.router.add_post("/fake/messages", self.fake_message)
        app.router.add_post("/fake/expire", self.fake_expire)
        app.router.add_get("/fake/sent", self.fake_sent)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(f"{request.method} {request.path}")
        if request.path.startswith("/fake/"):
            response: web.StreamResponse = await handler(request)
            return response
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.down:
            return _error("signal-cli is not running", 503)
        if self.garbage:
            return web.Response(
                text="<html><body>It works!</body></html>", content_type="text/html"
            )
        answer: web.StreamResponse = await handler(request)
        return answer

    async def about(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "versions": ["v1", "v2"],
                "build": 2,
                "mode": "normal",
                "version": VERSION,
                "capabilities": {"v2/send": ["quotes", "mentions"]},
            }
        )

    async def list_accounts(self, request: web.Request) -> web.Response:
        return web.json_response(self.accounts)

    async def qrcodelink(self, request: web.Request) -> web.Response:
        if not request.query.get("device_name"):
            return _error("Please provide a name for the device", 400)
        token = hashlib.sha256(f"{len(self.codes)}:{time.time_ns()}".encode()).hexdigest()
        self.codes.append(LinkCode(token, time.monotonic()))
        return web.Response(body=self.qr_png or qr_png(token), content_type="image/png")

    async def receive(self, request: web.Request) -> web.Response:
        number = request.match_info["number"]
        if number not in self.accounts:
            return _error(f"User {number} is not registered.", 400)
        try:
            wait = min(float(request.query.get("timeout", "1")), MAX_WAIT)
        except ValueError:
            return _error("Couldn't process request - invalid timeout", 400)
        if self.hold:
            await asyncio.sleep(wait)
        elif not self.queues.get(number) and wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._news.wait(), wait)
        items, self.queues[number] = self.queues.get(number, []), []
        return web.json_response(items)

    async def send(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _error("Couldn't process request - invalid request", 400)
        number, recipients = body.get("number"), body.get("recipients")
        if not isinstance(body.get("message"), str) or not isinstance(recipients, list):
            return _error("Couldn't process request - invalid request", 400)
        if not recipients or not all(isinstance(item, str) for item in recipients):
            return _error("Couldn't process request - please provide at least one recipient", 400)
        if number not in self.accounts:
            return _error(f"User {number} is not registered.", 400)
        timestamp = str(self._tick())
        self.sent.append({**body, "timestamp": timestamp})
        return web.json_response({"timestamp": timestamp}, status=201)

    # The controls

    async def fake_link(self, request: web.Request) -> web.Response:
        number = str((await request.json()).get("number") or "")
        if not self.scan(number):
            return _error("no valid code to scan: ask for a new one", 409)
        return web.json_response({"linked": number})

    async def fake_message(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not all(isinstance(body.get(key), str) for key in ("number", "from", "message")):
            return _error("give number, from and message", 400)
        envelope = self.message(
            str(body["number"]),
            str(body["from"]),
            str(body["message"]),
            name=str(body.get("name") or ""),
            group_id=body.get("group"),
        )
        return web.json_response(envelope, status=201)

    async def fake_expire(self, request: web.Request) -> web.Response:
        self.expire_codes()
        return web.json_response({"expired": len(self.codes)})

    async def fake_sent(self, request: web.Request) -> web.Response:
        return web.json_response(self.sent)


def _error(text: str, status: int) -> web.Response:
    return web.json_response({"error": text}, status=status)


def qr_png(token: str, modules: int = 29, scale: int = 6) -> bytes:
    """A QR-looking PNG drawn from ``token``: a browser shows it; no phone could read it."""
    seed = hashlib.sha256(token.encode()).digest()
    bits = "".join(f"{byte:08b}" for byte in hashlib.shake_256(seed).digest(modules * modules))
    quiet = 4
    size = (modules + 2 * quiet) * scale
    rows = []
    for y in range(size):
        row = bytearray(b"\x00")  # filter: none
        my = y // scale - quiet
        for x in range(size):
            mx = x // scale - quiet
            dark = 0 <= mx < modules and 0 <= my < modules and bits[my * modules + mx] == "1"
            dark = dark or _finder(mx, my, modules)
            row.append(0 if dark else 255)
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + _chunk(b"IEND", b"")
    )


def _finder(x: int, y: int, modules: int) -> bool:
    for ox, oy in ((0, 0), (modules - 7, 0), (0, modules - 7)):
        dx, dy = x - ox, y - oy
        if 0 <= dx < 7 and 0 <= dy < 7:
            return dx in (0, 6) or dy in (0, 6) or (2 <= dx <= 4 and 2 <= dy <= 4)
    return False


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def main() -> None:
    """Serve the fake bridge until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--linked", action="append", default=[], help="a number linked already")
    args = parser.parse_args()
    fake = FakeSignal()
    fake.accounts.extend(args.linked)
    web.run_app(fake.app(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
