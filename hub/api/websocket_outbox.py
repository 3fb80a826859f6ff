"""What waits to go out on one websocket: a queue bounded in bytes, and the one task that writes it.

An event goes in as the subscription id and the event's encoded body, which every socket shares;
its frame is built only when its turn to be written comes. A frame stays counted until
``send_frame`` returns, and aiohttp's ``send_frame`` waits for the transport to drain once 64 KiB
have gone out since it last looked: beyond the bound, a socket that does not read holds at most
the transport's buffer (its 64 KiB high-water mark, that 64 KiB and one frame), never a backlog.

A message put while nothing waits and the transport's buffer is empty is written at once, as one
uncompressed text frame: a pong, an event to a client that keeps up. That skips a wake-up of the
writer task per message (a fifth of a ping's cost), and bounds nothing less: the transport holds
at most that one frame, and everything after it queues until the writer has drained it.
"""

from __future__ import annotations

import asyncio
import struct
from collections import deque
from typing import TYPE_CHECKING, Final, TypeAlias

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from hub.api.websocket_entities import EntityStream

ITEM_BYTES: Final = 64
"""What a queued item costs beyond its payload (the deque slot, a tuple): many tiny ones add up."""
EVENT_FRAME_BYTES: Final = 48
"""The ``{"id":…,"type":"event","event":…}`` around a shared event body."""

Item: TypeAlias = "bytes | tuple[int, bytes] | EntityStream"

_FIN_TEXT: Final = 0x81
"""The first byte of a whole, uncompressed text frame (RFC 6455 5.2)."""
_SHORT: Final = struct.Struct("!BB")
_MEDIUM: Final = struct.Struct("!BBH")
_LONG: Final = struct.Struct("!BBQ")


def cost(item: Item) -> int:
    """The bytes an item holds for its socket until written."""
    if isinstance(item, bytes):
        return len(item) + ITEM_BYTES
    if isinstance(item, tuple):
        return len(item[1]) + EVENT_FRAME_BYTES + ITEM_BYTES
    return ITEM_BYTES  # a stream counts the changes waiting in it itself, through ``hold``


class Outbox:
    """A socket's outgoing messages in order; ``put`` refuses once more than ``limit`` bytes wait."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        limit: int,
        transport: asyncio.BaseTransport | None = None,
    ) -> None:
        self.limit = limit
        self.held = 0
        """Bytes queued or being written."""
        self.peak = 0
        self._ws = ws
        # Without a transport that reports its buffer, every message goes through aiohttp's writer.
        self._transport = transport if isinstance(transport, asyncio.WriteTransport) else None
        self._queue: deque[Item] = deque()
        self._wakeup = asyncio.Event()

    def put(self, item: Item) -> bool:
        """Queue a message; ``False`` (and nothing queued) when the client has fallen too far behind.

        The check comes before the item, so one large answer (a snapshot of every entity) still
        goes out to a client that keeps up; a client that does not is refused at the next message.
        """
        if self.held > self.limit:
            return False
        if not self.held and self._write_now(item):
            return True
        self._queue.append(item)
        self.held += cost(item)
        self.peak = max(self.peak, self.held)
        self._wakeup.set()
        return True

    def _write_now(self, item: Item) -> bool:
        """Write ``item`` straight to an idle transport; ``False`` when it must queue instead."""
        transport = self._transport
        if (
            transport is None
            or not isinstance(item, bytes | tuple)
            or self._ws.closed  # a close frame may be on its way: nothing may follow it
            or self._ws.compress
            or transport.is_closing()
            or transport.get_write_buffer_size()
        ):
            return False
        data = _frame(item)
        assert data is not None  # bytes and events always make a frame
        transport.write(frame_header(len(data)) + data)
        self.peak = max(self.peak, cost(item))  # a large answer still gives its memory back
        return True

    def hold(self, size: int) -> bool:
        """Count ``size`` bytes held for the socket elsewhere (changes waiting in a stream);
        ``False`` (and nothing counted) when the client has fallen too far behind."""
        if self.held > self.limit:
            return False
        self.held += size
        self.peak = max(self.peak, self.held)
        return True

    def release(self, size: int) -> None:
        """Those bytes are no longer held."""
        self.held = max(0, self.held - size)

    def clear(self) -> None:
        """Drop whatever waits (the socket is closing)."""
        self._queue.clear()
        self.held = 0

    async def write(self) -> None:
        """Write queued messages until cancelled or the connection is lost."""
        queue, ws, wakeup = self._queue, self._ws, self._wakeup
        try:
            while True:
                if not queue:
                    wakeup.clear()
                    await wakeup.wait()
                    continue
                item = queue.popleft()
                try:
                    data = _frame(item)
                    if data is not None:
                        await ws.send_frame(data, WSMsgType.TEXT)
                finally:
                    self.held = max(0, self.held - cost(item))
        except ConnectionError:
            return  # the reader sees the socket go and ends the connection


def frame_header(size: int) -> bytes:
    """A server's (unmasked) text frame header for a payload of ``size`` bytes."""
    if size < 126:
        return _SHORT.pack(_FIN_TEXT, size)
    if size < 65536:
        return _MEDIUM.pack(_FIN_TEXT, 126, size)
    return _LONG.pack(_FIN_TEXT, 127, size)


def _frame(item: Item) -> bytes | None:
    if isinstance(item, bytes):
        return item
    if isinstance(item, tuple):
        return b'{"id":%d,"type":"event","event":%b}' % item
    return item.take()
