"""The in-process event bus: typed events, pattern subscriptions, a bounded queue per subscriber."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Generic, Self, TypedDict, TypeVar, overload

from hub.core.errors import HubError

_LOGGER = logging.getLogger(__name__)

DataT = TypeVar("DataT", bound=Mapping[str, Any])
DataT_co = TypeVar("DataT_co", bound=Mapping[str, Any], covariant=True)

MATCH_ALL: Final = "*"
DEFAULT_QUEUE_SIZE: Final = 1024
DEFAULT_CLOSE_TIMEOUT: Final = 1.0
DROP_WARNING_INTERVAL: Final = 60.0
"""Seconds between two warnings about the same slow subscriber, so a flood does not flood the log."""


class EventType(str, Generic[DataT]):
    """An event name that carries the type of its data: ``EVENT_X: Final = EventType[XData]("x")``."""

    __slots__ = ()


class NoEventData(TypedDict):
    """The data of an event that carries none."""


@dataclass(frozen=True, slots=True)
class RunCause:
    """A workflow run that fired an event, directly or through what its actions changed."""

    run_id: str
    workflow_id: str
    chain: tuple[str, ...]
    """The workflows that led here, oldest first, this run's own last."""


CAUSE: Final = contextvars.ContextVar[RunCause | None]("CAUSE", default=None)
"""The run whose actions are executing now: ``fire`` stamps it on every event, so the loop guard
can tell a workflow triggering itself."""


EVENT_HUB_STARTED: Final = EventType[NoEventData]("hub.started")
EVENT_HUB_STOPPING: Final = EventType[NoEventData]("hub.stopping")


@dataclass(frozen=True, slots=True)
class Event(Generic[DataT_co]):
    """Something that happened in the hub; ``data`` is shared by every listener, so treat it as read-only."""

    type: str
    data: DataT_co
    time_fired: datetime
    origin: str
    cause: RunCause | None = None
    """The workflow run that led to this event, if one did."""

    def as_dict(self) -> dict[str, Any]:
        """Return the event as the JSON-serializable dict that websocket clients receive."""
        return {
            "event_type": self.type,
            "data": dict(self.data),
            "time_fired": self.time_fired.isoformat(),
            "origin": self.origin,
        }


Listener = Callable[[Event[DataT]], Awaitable[None] | None]
"""A plain function or a coroutine function that receives one event."""


class SubscriptionClosed(HubError):
    """``get()`` was called on a subscription that is closed and has no events left."""


class Subscription:
    """A pull consumer of the bus: ``async for event in sub`` or ``await sub.get()``.

    Events wait in a bounded queue; when it is full the oldest is dropped and counted in ``dropped``.
    """

    def __init__(
        self, bus: EventBus, patterns: tuple[str, ...], queue_size: int, name: str
    ) -> None:
        self.patterns = patterns
        self.name = name
        self._bus = bus
        self._queue: deque[Event[Mapping[str, Any]]] = deque(maxlen=queue_size)
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._dropped = 0
        self._unreported = 0
        self._last_warning = float("-inf")
        self._last_seq = 0

    @property
    def dropped(self) -> int:
        """How many events were dropped because this subscriber fell behind."""
        return self._dropped

    @property
    def closed(self) -> bool:
        """Whether no more events will be queued."""
        return self._closed

    def pending(self) -> int:
        """How many events are queued and not yet taken."""
        return len(self._queue)

    async def get(self) -> Event[Mapping[str, Any]]:
        """Return the next event, waiting for one; raise ``SubscriptionClosed`` once closed and empty."""
        while not self._queue:
            if self._closed:
                raise SubscriptionClosed(f"{self.name} is closed")
            if self._waiter is None or self._waiter.done():
                self._waiter = asyncio.get_running_loop().create_future()
            # Shielded so that one cancelled getter does not cancel the wake-up of the others.
            await asyncio.shield(self._waiter)
        return self._queue.popleft()

    def close(self) -> None:
        """Stop receiving events and discard the queued ones; safe to call more than once."""
        self._bus._remove(self)
        self._queue.clear()
        self._finish()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event[Mapping[str, Any]]:
        try:
            return await self.get()
        except SubscriptionClosed:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def _offer(self, event: Event[Mapping[str, Any]], seq: int) -> None:
        if seq == self._last_seq:
            return  # already queued through another of this subscription's patterns
        self._last_seq = seq
        if len(self._queue) == self._queue.maxlen:
            self._note_drop()
        self._queue.append(event)
        self._wake()

    def _note_drop(self) -> None:
        self._dropped += 1
        self._unreported += 1
        now = time.monotonic()
        if now - self._last_warning < DROP_WARNING_INTERVAL:
            return
        _LOGGER.warning(
            "%s is not keeping up: dropped the %d oldest event(s) (%d in total, queue size %d)",
            self.name,
            self._unreported,
            self._dropped,
            self._queue.maxlen,
        )
        self._last_warning = now
        self._unreported = 0

    def _finish(self) -> None:
        """Queue nothing more; events already queued can still be taken."""
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)


class ListenerHandle:
    """What ``listen()`` returns: call it to unsubscribe; ``dropped`` counts events a full queue lost."""

    __slots__ = ("_sub",)

    def __init__(self, sub: Subscription) -> None:
        self._sub = sub

    def __call__(self) -> None:
        """Unsubscribe; safe to call more than once."""
        self._sub.close()

    @property
    def dropped(self) -> int:
        """How many events were dropped because the listener fell behind."""
        return self._sub.dropped


class EventBus:
    """Delivers fired events to listeners and subscriptions; a slow or failing one hurts only itself."""

    def __init__(
        self,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        *,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
    ) -> None:
        _check_queue_size(queue_size)
        self.queue_size = queue_size
        self.close_timeout = close_timeout
        # "*" is the empty prefix and "entity.*" the prefix "entity.", so one table serves both.
        self._exact: dict[str, dict[Subscription, None]] = {}
        self._prefix: dict[str, dict[Subscription, None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._seq = 0
        self._closed = False

    @overload
    def fire(
        self,
        event_type: EventType[NoEventData],
        data: NoEventData | None = None,
        *,
        origin: str = "hub",
        cause: RunCause | None = None,
    ) -> Event[NoEventData]: ...

    @overload
    def fire(
        self,
        event_type: EventType[DataT],
        data: DataT,
        *,
        origin: str = "hub",
        cause: RunCause | None = None,
    ) -> Event[DataT]: ...

    def fire(
        self,
        event_type: EventType[Any],
        data: Mapping[str, Any] | None = None,
        *,
        origin: str = "hub",
        cause: RunCause | None = None,
    ) -> Event[Mapping[str, Any]]:
        """Queue an event for every matching subscriber and return it at once; never awaits or raises.

        Build ``data`` with its TypedDict's constructor (``EntityData(entity_id=...)``) or a typed
        variable, so mypy can check it against the event type. Call from the event loop's thread.
        ``cause``: the run that led here; by default the one in ``CAUSE``.
        """
        if cause is None:
            cause = CAUSE.get()
        event = Event(event_type, {} if data is None else data, datetime.now(UTC), origin, cause)
        self._seq += 1
        seq = self._seq
        exact = self._exact.get(event_type)
        if exact:
            for sub in exact:
                sub._offer(event, seq)
        if self._prefix:
            start = 0
            while True:
                group = self._prefix.get(event_type[:start])
                if group:
                    for sub in group:
                        sub._offer(event, seq)
                dot = event_type.find(".", start)
                if dot == -1:
                    break
                start = dot + 1
        return event

    @overload
    def listen(
        self,
        pattern: EventType[DataT],
        listener: Listener[DataT],
        *,
        queue_size: int | None = None,
    ) -> ListenerHandle: ...

    @overload
    def listen(
        self,
        pattern: str,
        listener: Listener[Mapping[str, Any]],
        *,
        queue_size: int | None = None,
    ) -> ListenerHandle: ...

    def listen(
        self,
        pattern: str,
        listener: Listener[Any],
        *,
        queue_size: int | None = None,
    ) -> ListenerHandle:
        """Call ``listener`` for each event matching ``pattern``; calling the result unsubscribes.

        ``pattern`` is an event type, ``"*"`` for every event, or ``"prefix.*"``. The listener runs
        in its own task with its own queue, in the order events were fired; a plain function runs
        on the event loop, so it must be quick (do I/O in a coroutine function). After unsubscribing
        it is not called again, though a call already running finishes. Needs a running event loop.
        """
        loop = asyncio.get_running_loop()
        description = _describe(listener)
        sub = self._add((pattern,), queue_size, f"Listener {description} of {pattern!r}")
        task = loop.create_task(
            self._consume(sub, listener, description), name=f"bus listener {description}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return ListenerHandle(sub)

    def subscribe(
        self, *patterns: str, queue_size: int | None = None, name: str | None = None
    ) -> Subscription:
        """Return a pull subscription to every event matching any of ``patterns``."""
        if not patterns:
            raise ValueError("subscribe() needs at least one pattern")
        return self._add(patterns, queue_size, name or f"Subscription to {', '.join(patterns)}")

    async def close(self) -> None:
        """Close every subscription and stop every listener, letting each drain for a bounded time."""
        self._closed = True
        subs = {
            sub
            for table in (self._exact, self._prefix)
            for group in table.values()
            for sub in group
        }
        self._exact.clear()
        self._prefix.clear()
        for sub in subs:
            sub._finish()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=self.close_timeout)
        if not pending:
            return
        _LOGGER.warning(
            "Cancelling %d event listener(s) still busy %.1f s after shutdown began: %s",
            len(pending),
            self.close_timeout,
            ", ".join(sorted(task.get_name() for task in pending)),
        )
        for task in pending:
            task.cancel()
        _, stuck = await asyncio.wait(pending, timeout=self.close_timeout)
        if stuck:
            _LOGGER.error("%d event listener(s) ignored cancellation", len(stuck))

    def _add(self, patterns: tuple[str, ...], queue_size: int | None, name: str) -> Subscription:
        if self._closed:
            raise RuntimeError("the event bus is closed")
        size = self.queue_size if queue_size is None else queue_size
        _check_queue_size(size)
        slots = [self._locate(pattern) for pattern in patterns]
        sub = Subscription(self, patterns, size, name)
        for table, key in slots:
            table.setdefault(key, {})[sub] = None
        return sub

    def _remove(self, sub: Subscription) -> None:
        for pattern in sub.patterns:
            table, key = self._locate(pattern)
            group = table.get(key)
            if group is not None and sub in group:
                del group[sub]
                if not group:
                    del table[key]

    def _locate(self, pattern: str) -> tuple[dict[str, dict[Subscription, None]], str]:
        if pattern == MATCH_ALL:
            return self._prefix, ""
        if pattern.endswith(".*") and len(pattern) > 2 and "*" not in pattern[:-2]:
            return self._prefix, pattern[:-1]
        if pattern and "*" not in pattern:
            return self._exact, pattern
        raise ValueError(f"{pattern!r} is not an event pattern: use a type, '*' or 'prefix.*'")

    async def _consume(self, sub: Subscription, listener: Listener[Any], description: str) -> None:
        while True:
            try:
                event = await sub.get()
            except SubscriptionClosed:
                return
            try:
                result = listener(event)
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is None or task.cancelling():
                    raise
                # The listener raised CancelledError without being cancelled: its own bug.
                _LOGGER.exception("Event listener %s failed on %s", description, event.type)
            except Exception:
                _LOGGER.exception("Event listener %s failed on %s", description, event.type)


def _check_queue_size(size: int) -> None:
    if size < 1:
        raise ValueError(f"queue_size must be at least 1, got {size}")


def _describe(listener: Callable[..., object]) -> str:
    name = getattr(listener, "__qualname__", None)
    if name is None:
        return repr(listener)
    module = getattr(listener, "__module__", None)
    return f"{module}.{name}" if module else str(name)
