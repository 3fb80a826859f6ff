"""What waits to go out on one websocket: a queue bounded in bytes, and the one task that writes it.

An event goes in as the subscription id and the event's encoded body, which every socket shares;
its frame is built only when its turn to be written comes. A frame stays counted until
``send_frame`` returns, and aiohttp's ``send_frame`` waits for the transport to drain once 64 KiB
have gone out since it last looked: beyond the bound, a socket that does not read holds at most
the transport's buffer (its 64 KiB high-water mark, that 64 KiB and one frame), never a backlog.
"""

from __future__ import annotations

import asyncio
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


def cost(item: Item) -> int:
    """The bytes an item holds for its socket until written."""
    if isinstance(item, bytes):
        return len(item) + ITEM_BYTES
    if isinstance(item, tuple):
        return len(item[1]) + EVENT_FRAME_BYTES + ITEM_BYTES
    return ITEM_BYTES  # a stream counts the changes waiting in it itself, through ``hold``


class Outbox:
    """A socket's outgoing messages in order; ``put`` refuses once more than ``limit`` bytes wait."""

    def __init__(self, ws: web.WebSocketResponse, limit: int) -> None:
        self.limit = limit
        self.held = 0
        """Bytes queued or being written."""
        self.peak = 0
        self._ws = ws
        self._queue: deque[Item] = deque()
        self._wakeup = asyncio.Event()

    def put(self, item: Item) -> bool:
        """Queue a message; ``False`` (and nothing queued) when the client has fallen too far behind.

        The check comes before the item, so one large answer (a snapshot of every entity) still
        goes out to a client that keeps up; a client that does not is refused at the next message.
        """
        if self.held > self.limit:
            return False
        self._queue.append(item)
        self.held += cost(item)
        self.peak = max(self.peak, self.held)
        self._wakeup.set()
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


def _frame(item: Item) -> bytes | None:
    if isinstance(item, bytes):
        return item
    if isinstance(item, tuple):
        return b'{"id":%d,"type":"event","event":%b}' % item
    return item.take()
