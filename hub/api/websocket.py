"""``/api/websocket``: sign in, then numbered commands and event subscriptions over one socket.

One bus subscription feeds every socket: each event is encoded once, and that one copy is queued
for each client that may see it (``hub.api.access.EventAudience`` decides). A client's queue is
bounded in bytes and has one writer task; a client that lets it fill up is disconnected, so a slow
phone never slows the hub or the other clients, and the memory it held is given back. A client
may have a few commands running at once; more are refused, each with an error result.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final, cast

from aiohttp import WSCloseCode, WSMsgType, web
from pydantic import ValidationError

from hub import __version__
from hub.api import websocket_chat  # noqa: F401  # registers the chat commands
from hub.api.access import EVENT_AUDIENCE, PRINCIPAL_KEY, audience_keys
from hub.api.errors import error_body, internal_error
from hub.api.origin import check_origin
from hub.api.request import invalid_fields, parse_json
from hub.api.state import AUTH, BUS, CONFIG, TRANSLATIONS
from hub.api.websocket_commands import (
    COMMANDS,
    Command,
    authenticate,
    close_socket,
    encode,
    matches,
    send_message,
)
from hub.api.websocket_entities import EntityStream, change_of
from hub.api.websocket_outbox import Outbox
from hub.auth.principal import Principal
from hub.core.bus import Event, Subscription
from hub.core.errors import (
    BAD_REQUEST,
    ID_REUSE,
    INVALID_FORMAT,
    TOO_MANY_COMMANDS,
    UNKNOWN_COMMAND,
    BadRequestError,
    HubError,
    Param,
    error_key,
)
from hub.core.malloc import HeapTrimmer
from hub.integrations.translations import negotiate

_LOGGER = logging.getLogger(__name__)

MAX_MESSAGE_BYTES: Final = 128 * 1024
"""Room for a chat message of 20,000 characters in any script (4 bytes each), and JSON framing."""
MAX_COMMANDS: Final = 8
"""Commands one socket may have running at once: enough for a page that loads several lists,
few enough that one socket cannot hold thousands of large answers in the making."""
YIELD_BYTES: Final = 32 * 1024
"""Event bytes the fan-out queues in a burst before it lets the sockets' writers run."""
LARGE_RELEASE: Final = 256 * 1024
"""A socket that held this much at its peak gives its memory back to the system when it closes."""
CLOSE_TIMEOUT: Final = 2.0
HEARTBEAT: Final = 55.0
BUS_QUEUE_SIZE: Final = 65_536
"""Events waiting for the fan-out; it never awaits a client, so only a burst fills this."""
_WS: Final = "[ \t\n\r]*"  # JSON's whitespace, not Unicode's
PING: Final = re.compile(
    f'{_WS}{{{_WS}"id"{_WS}:{_WS}([1-9][0-9]{{0,17}}){_WS},{_WS}"type"{_WS}:{_WS}"ping"{_WS}}}{_WS}'
)
"""``{"id": n, "type": "ping"}``, the commonest message, which needs neither a parser nor a model."""


class Fanout:
    """The open sockets, fed by one bus subscription; closes those whose token is revoked."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.queue_bytes = app[CONFIG].http.websocket_queue_kib * 1024
        self.max_commands = MAX_COMMANDS
        self.max_message_bytes = MAX_MESSAGE_BYTES
        self.close_timeout = CLOSE_TIMEOUT
        self.connections: dict[Connection, None] = {}
        self.trimmer = HeapTrimmer()
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._forget_revoke: Callable[[], None] | None = None

    async def start(self) -> None:
        """Subscribe to the bus and to revocations."""
        self._sub = self.app[BUS].subscribe(
            "*", queue_size=BUS_QUEUE_SIZE, name="websocket fan-out"
        )
        self._task = asyncio.get_running_loop().create_task(self._run(), name="websocket fan-out")
        self._forget_revoke = self.app[AUTH].on_revoke(self._revoked)

    async def stop(self) -> None:
        """Stop the fan-out (the sockets were closed on shutdown)."""
        if self._forget_revoke is not None:
            self._forget_revoke()
        if self._sub is not None:
            self._sub.close()
        if self._task is not None:
            await self._task
        self.trimmer.cancel()

    async def close_all(self, code: int, reason: str) -> None:
        """Close every socket and wait until each is closed (or given up on)."""
        for conn in list(self.connections):
            conn.close_soon(code, reason)
        closing = [conn.closer for conn in self.connections if conn.closer is not None]
        if closing:
            await asyncio.wait(closing)

    def dispatch(self, event: Event[Mapping[str, Any]]) -> int:
        """Offer one event to every socket subscribed to it whose person may see it; the size of
        its encoding, if any socket takes it."""
        audience = self.app[EVENT_AUDIENCE](event)
        if audience is None:
            return 0
        event_type = event.type
        is_entity = event_type.startswith("entity.")
        encoded: bytes | None = None
        change = None
        changed = False
        for conn in self.connections:
            if audience not in conn.audiences or conn.closer is not None:
                continue
            for subscription, pattern in conn.events.items():
                if matches(pattern, event_type):
                    if encoded is None:
                        encoded = encode(event.as_dict())
                    conn.send_event(subscription, encoded)
            if is_entity and conn.entities:
                if not changed:
                    change, changed = change_of(event), True
                if change is not None:
                    for stream in conn.entities.values():
                        stream.offer(change)
        size = 0 if encoded is None else len(encoded)
        return size if change is None else size + len(change.body())

    def _revoked(self, token_id: str) -> None:
        for conn in self.connections:
            if conn.principal.token_id == token_id:
                conn.close_soon(WSCloseCode.POLICY_VIOLATION, "token revoked")

    async def _run(self) -> None:
        sub = self._sub
        assert sub is not None
        burst = 0
        async for event in sub:
            try:
                burst += self.dispatch(event)
            except Exception:  # one bad event must not end every subscription
                _LOGGER.exception("Websocket fan-out of %s failed", event.type)
            if burst >= YIELD_BYTES and sub.pending():
                # Let the writers take their turn within a burst, so a queue bounded in bytes
                # holds what a client has not read, not what the fan-out has not let it write.
                burst = 0
                await asyncio.sleep(0)


WEBSOCKETS: Final = web.AppKey("websockets", Fanout)


class Connection:
    """One signed-in socket: reads commands, queues what goes out, and one task writes it."""

    def __init__(
        self, fanout: Fanout, request: web.Request, ws: web.WebSocketResponse, principal: Principal
    ) -> None:
        self.app = request.app
        self.request = request
        self.ws = ws
        self.principal = principal
        self._language: str | None = None
        self.audiences = audience_keys(principal)
        self.events: dict[int, str] = {}
        self.entities: dict[int, EntityStream] = {}
        self.closer: asyncio.Task[None] | None = None
        self._fanout = fanout
        self._outbox = Outbox(ws, fanout.queue_bytes)
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_id = 0

    # Sending

    def send(self, item: bytes | EntityStream) -> None:
        """Queue a message; a full queue means the client is too slow, and it is disconnected."""
        if self.closer is None and not self._outbox.put(item):
            self._too_slow()

    def send_event(self, subscription: int, body: bytes) -> None:
        """Queue an event body shared with every other socket; its frame is built when written."""
        if self.closer is None and not self._outbox.put((subscription, body)):
            self._too_slow()

    def hold(self, size: int) -> None:
        """Count bytes waiting for the client outside the queue (an entity stream's changes)."""
        if self.closer is None and not self._outbox.hold(size):
            self._too_slow()

    def release(self, size: int) -> None:
        """Those bytes went out, or were dropped."""
        self._outbox.release(size)

    def _too_slow(self) -> None:
        _LOGGER.warning(
            "Disconnecting websocket of %s: %d KiB waiting to be sent",
            self.principal.username,
            self._outbox.held // 1024,
        )
        self.close_soon(WSCloseCode.TRY_AGAIN_LATER, "too slow: the outgoing queue is full")

    def send_result(self, msg_id: int, result: Any) -> None:
        """Answer a command."""
        self.send(encode({"id": msg_id, "type": "result", "success": True, "result": result}))

    def send_error(self, msg_id: int | None, err: HubError) -> None:
        """Refuse a command in the person's language; the socket stays open."""
        translations = self.app[TRANSLATIONS]
        error = error_body(err, translations, self.language())
        self.send(encode({"id": msg_id, "type": "result", "success": False, "error": error}))

    def language(self) -> str:
        """The person's language setting, then the ``Accept-Language`` the socket opened with."""
        # Negotiated once: a client sending junk as fast as it can is refused at the same cost.
        if self._language is None:
            self._language = negotiate(
                explicit=None,
                person=self.principal.language,
                accept_language=self.request.headers.get("Accept-Language"),
                available=self.app[TRANSLATIONS].languages(),
            )
        return self._language

    def close_soon(self, code: int, reason: str) -> None:
        """Close the socket with a reason, from anywhere on the loop; safe to call more than once."""
        if self.closer is None:
            self._outbox.clear()
            for stream in self.entities.values():
                stream.stop()  # what waited is dropped now, not after the close's grace
            grace = self._fanout.close_timeout
            closing = close_socket(self.ws, self.request, code, reason, grace)
            self.closer = asyncio.get_running_loop().create_task(closing, name="websocket close")

    # The connection's life

    async def run(self) -> None:
        """Serve the socket until it closes; then stop everything it started."""
        outbox = self._outbox
        writer = asyncio.get_running_loop().create_task(outbox.write(), name="websocket writer")
        expiry = None
        if self.principal.expires_at is not None:
            delay = max(0.0, self.principal.expires_at - time.time())
            expiry = asyncio.get_running_loop().call_later(
                delay, self.close_soon, WSCloseCode.POLICY_VIOLATION, "token expired"
            )
        self._fanout.connections[self] = None
        try:
            while True:
                msg = await self.ws.receive()
                if msg.type is WSMsgType.TEXT:
                    self._receive(msg.data)
                elif msg.type is WSMsgType.BINARY:
                    self.send_error(
                        None, _invalid("send JSON text, not binary", "errors.ws_binary")
                    )
                else:
                    break
        finally:
            self._fanout.connections.pop(self, None)
            if expiry is not None:
                expiry.cancel()
            for stream in self.entities.values():
                stream.stop()
            for task in (*self._tasks, writer):
                task.cancel()
            await asyncio.gather(*self._tasks, writer, return_exceptions=True)
            if self.closer is not None:
                await self.closer
            outbox.clear()
            if outbox.peak >= LARGE_RELEASE:
                self._fanout.trimmer.release()

    def _receive(self, text: str) -> None:
        ping = PING.fullmatch(text)
        if ping is not None and (ping_id := int(ping[1])) > self._last_id:
            self._last_id = ping_id
            self.send(b'{"id":%d,"type":"pong"}' % ping_id)  # as the ``ping`` command answers
            return
        try:
            data = parse_json(text, "the message")
        except BadRequestError as err:
            self.send_error(None, _invalid(err.message, err.key, **err.params))
            return
        msg_id = data.get("id") if isinstance(data, dict) else None
        if type(msg_id) is not int:
            message = "a message is an object with a whole-number id"
            self.send_error(None, _invalid(message, "errors.ws_message_id"))
            return
        if msg_id <= self._last_id:
            message = f"id {msg_id} is not greater than the previous id {self._last_id}"
            error = HubError(
                message, code=ID_REUSE, key=error_key(ID_REUSE), id=msg_id, last=self._last_id
            )
            self.send_error(msg_id, error)
            return
        self._last_id = msg_id
        name = data.get("type")
        command = COMMANDS.get(name) if isinstance(name, str) else None
        if command is None:
            shown = str(name)[:100]
            error = HubError(
                f"unknown command {shown!r}",
                code=UNKNOWN_COMMAND,
                key=error_key(UNKNOWN_COMMAND),
                command=shown,
            )
            self.send_error(msg_id, error)
            return
        try:
            msg = command.model.model_validate(data)
        except ValidationError as err:
            localizer = self.app[TRANSLATIONS].localizer(None, self.language())
            problem = invalid_fields(err, localizer, "message")
            error = HubError(
                f"{name}: {problem.message}",
                code=BAD_REQUEST if command.twin else INVALID_FORMAT,
                key="errors.ws_invalid_command",
                command=name,
                **problem.params,
            )
            self.send_error(msg_id, error)
            return
        if command.is_async:
            if len(self._tasks) >= self._fanout.max_commands:
                message = (
                    f"{name}: {len(self._tasks)} commands are still running on this socket; "
                    "wait for an answer before sending more"
                )
                error = HubError(
                    message,
                    code=TOO_MANY_COMMANDS,
                    key=error_key(TOO_MANY_COMMANDS),
                    command=name,
                    limit=len(self._tasks),
                )
                self.send_error(msg_id, error)
                return
            task = asyncio.get_running_loop().create_task(self._call(command, msg_id, msg))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            with self._answering(msg_id, name):
                command.handler(self, msg)

    async def _call(self, command: Command, msg_id: int, msg: Any) -> None:
        with self._answering(msg_id, msg.type):
            await cast(Awaitable[None], command.handler(self, msg))

    @contextmanager
    def _answering(self, msg_id: int, name: str) -> Iterator[None]:
        """A failing command is answered with an error result, never raised into the read loop."""
        try:
            yield
        except HubError as err:
            if err.http_status >= 500 and err.logged:
                _LOGGER.error("Websocket command %s failed: %s", name, err.message)
            self.send_error(msg_id, err)
        except Exception:
            correlation_id = secrets.token_hex(4)
            _LOGGER.exception(
                "Websocket command %s failed [correlation id %s]", name, correlation_id
            )
            self.send_error(msg_id, internal_error(correlation_id))


def _invalid(message: str, key: str | None, **params: Param) -> HubError:
    """A message the socket cannot read at all."""
    return HubError(message, code=INVALID_FORMAT, key=key, **params)


class _Socket(web.WebSocketResponse):
    """aiohttp closes an oversized message's socket with 1009 and no words; this adds them."""

    async def close(
        self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True
    ) -> bool:
        if code == WSCloseCode.MESSAGE_TOO_BIG and not message:
            message = b"message too big: the limit is %d bytes" % self._max_msg_size
        return await super().close(code=code, message=message, drain=drain)


async def websocket(request: web.Request) -> web.WebSocketResponse:
    """``GET /api/websocket``: ``auth_required``, the client's ``auth``, then commands."""
    check_origin(request)  # a page on another site must not act with the browser's signed-in hub
    fanout = request.app[WEBSOCKETS]
    ws = _Socket(
        max_msg_size=fanout.max_message_bytes,
        heartbeat=HEARTBEAT,
        compress=False,  # a home LAN has bandwidth to spare and a Pi has little CPU
        timeout=fanout.close_timeout,
    )
    await ws.prepare(request)
    await send_message(ws, {"type": "auth_required", "hub_version": __version__})
    principal = await authenticate(request, ws, fanout.close_timeout)
    if principal is None:
        return ws
    # Shared helpers (the language of an answer) find the caller where a REST request has it.
    request[PRINCIPAL_KEY] = principal
    await send_message(ws, {"type": "auth_ok", "hub_version": __version__})
    await Connection(fanout, request, ws, principal).run()
    return ws


async def ping(request: web.Request) -> web.Response:
    """``GET /api/ping``: the REST twin of the websocket ``ping``."""
    return web.json_response({"type": "pong"})


async def _fanout_context(app: web.Application) -> AsyncIterator[None]:
    fanout = app[WEBSOCKETS]
    await fanout.start()
    yield
    await fanout.stop()


async def _close_sockets(app: web.Application) -> None:
    await app[WEBSOCKETS].close_all(WSCloseCode.GOING_AWAY, "the hub is stopping")


def register(app: web.Application) -> None:
    """Add ``/api/websocket`` and ``/api/ping``; sockets close on shutdown, before services stop."""
    app[WEBSOCKETS] = Fanout(app)
    app.router.add_get("/api/websocket", websocket)
    app.router.add_get("/api/ping", ping)
    app.cleanup_ctx.append(_fanout_context)
    app.on_shutdown.append(_close_sockets)
