"""A request body that stops arriving is refused with 408; one that keeps arriving, however slowly, is not."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.typedefs import Handler, Middleware

from hub.core.errors import BODY_TIMEOUT, HubError

CHECKS_PER_TIMEOUT = 4
"""How often within one timeout the body's progress is looked at: a stall is caught within 1¼ of it."""


class BodyTimeoutError(HubError):
    """The client stopped sending a request body part-way."""

    code = BODY_TIMEOUT
    http_status = 408


class _Watch:
    """Fails the readers of ``content`` with ``BodyTimeoutError`` once it stops growing."""

    def __init__(self, content: StreamReader, seconds: float) -> None:
        self._content = content
        self._seconds = seconds
        self._loop = asyncio.get_running_loop()
        self._seen = content.total_bytes
        self._since = self._loop.time()
        self.stalled = False
        self._handle: asyncio.TimerHandle | None = self._loop.call_later(
            seconds / CHECKS_PER_TIMEOUT, self._check
        )

    def _check(self) -> None:
        self._handle = None
        if self._content.is_eof():
            return
        now = self._loop.time()
        if self._content.total_bytes != self._seen:
            self._seen, self._since = self._content.total_bytes, now
        elif now - self._since >= self._seconds:
            # Only a body the handler waits on can stall: a handler that has not begun reading
            # leaves at most the reader's buffer (128 KiB) unread, which every body here fits in.
            self.stalled = True
            self._content.set_exception(
                BodyTimeoutError(
                    f"the request body stopped arriving: nothing for {self._seconds:g} seconds"
                )
            )
            return
        self._handle = self._loop.call_later(self._seconds / CHECKS_PER_TIMEOUT, self._check)

    def stop(self) -> None:
        """Stop watching; safe to call twice."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


def body_timeout(seconds: float) -> Middleware:
    """The middleware that refuses a body when no byte of it has arrived for ``seconds``."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        content = request.content
        if content.is_eof():  # no body, or all of it already here: nothing can stall
            return await handler(request)
        watch = _Watch(content, seconds)
        try:
            response = await handler(request)
        except BaseException:
            if watch.stalled:
                request.protocol.force_close()
            raise
        finally:
            watch.stop()
        if watch.stalled:
            # The rest of the body never came: answer, then close instead of letting aiohttp drain
            # it (the drain would meet the timeout error again, and the connection is not reusable).
            await response.prepare(request)
            await response.write_eof()
            request.protocol.force_close()
        return response

    return middleware
