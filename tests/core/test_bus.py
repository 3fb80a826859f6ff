"""Tests for the in-process event bus."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC
from typing import Any, Final, TypedDict

import pytest

from hub.core.bus import (
    EVENT_HUB_STARTED,
    MATCH_ALL,
    Event,
    EventBus,
    EventType,
    SubscriptionClosed,
)

AnyEvent = Event[Mapping[str, Any]]


class NumberData(TypedDict):
    """Data of the test events: a sequence number."""

    n: int


EVENT_CREATED: Final = EventType[NumberData]("entity.created")
EVENT_DEEP: Final = EventType[NumberData]("entity.light.changed")
EVENT_LOOKALIKE: Final = EventType[NumberData]("entityx.created")
EVENT_OTHER: Final = EventType[NumberData]("other")


# Background work must be owned and stopped: a task left running fails the test.
pytestmark = pytest.mark.usefixtures("no_lingering_tasks")


@pytest.fixture
async def bus() -> AsyncIterator[EventBus]:
    """A bus that is closed after the test."""
    event_bus = EventBus()
    yield event_bus
    await event_bus.close()


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds; generous, so a busy machine does not make it flaky."""
    async with asyncio.timeout(5):
        # The conditions are plain state of other tasks, with no event to wait on.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.001)


def numbers(events: list[AnyEvent]) -> list[int]:
    """The sequence numbers of ``events``."""
    return [event.data["n"] for event in events]


def bus_records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    """The bus's log records at exactly ``level``."""
    return [r for r in caplog.records if r.name == "hub.core.bus" and r.levelno == level]


async def test_fire_returns_the_event_even_without_listeners(bus: EventBus) -> None:
    event = bus.fire(EVENT_CREATED, NumberData(n=1), origin="api")

    assert event.type == "entity.created"
    assert event.data == {"n": 1}
    assert event.origin == "api"
    assert event.time_fired.tzinfo is UTC
    as_dict = json.loads(json.dumps(event.as_dict()))
    assert as_dict == {
        "event_type": "entity.created",
        "data": {"n": 1},
        "time_fired": event.time_fired.isoformat(),
        "origin": "api",
    }


async def test_event_without_data_has_an_empty_mapping(bus: EventBus) -> None:
    event = bus.fire(EVENT_HUB_STARTED)

    assert event.type == "hub.started"
    assert dict(event.data) == {}
    assert event.origin == "hub"


async def test_exact_wildcard_and_prefix_patterns(bus: EventBus) -> None:
    exact: list[AnyEvent] = []
    everything: list[AnyEvent] = []
    prefixed: list[AnyEvent] = []
    deep: list[AnyEvent] = []
    bus.listen(EVENT_CREATED, exact.append)
    bus.listen(MATCH_ALL, everything.append)
    bus.listen("entity.*", prefixed.append)
    bus.listen("entity.light.*", deep.append)

    for n, event_type in enumerate((EVENT_CREATED, EVENT_DEEP, EVENT_LOOKALIKE, EVENT_OTHER)):
        bus.fire(event_type, NumberData(n=n))
    await wait_until(lambda: len(everything) == 4)
    await wait_until(lambda: len(prefixed) == 2)

    assert numbers(exact) == [0]
    assert numbers(everything) == [0, 1, 2, 3]
    assert numbers(prefixed) == [0, 1]
    assert numbers(deep) == [1]


@pytest.mark.parametrize("pattern", ["", "*.created", "entity*", "entity.*.x", ".*", "**"])
async def test_invalid_patterns_are_refused(bus: EventBus, pattern: str) -> None:
    with pytest.raises(ValueError, match="not an event pattern"):
        bus.listen(pattern, lambda event: None)
    with pytest.raises(ValueError, match="not an event pattern"):
        bus.subscribe(pattern)


async def test_async_listener_receives_events_in_order(bus: EventBus) -> None:
    received: list[AnyEvent] = []

    async def listener(event: Event[NumberData]) -> None:
        await asyncio.sleep(0)
        received.append(event)

    bus.listen(EVENT_CREATED, listener)
    for n in range(20):
        bus.fire(EVENT_CREATED, NumberData(n=n))
    await wait_until(lambda: len(received) == 20)

    assert numbers(received) == list(range(20))


async def test_unsubscribe_stops_delivery_and_is_idempotent(bus: EventBus) -> None:
    received: list[AnyEvent] = []
    unsubscribe = bus.listen(EVENT_CREATED, received.append)
    bus.fire(EVENT_CREATED, NumberData(n=1))
    await wait_until(lambda: len(received) == 1)

    unsubscribe()
    unsubscribe()
    bus.fire(EVENT_CREATED, NumberData(n=2))
    await wait_until(lambda: len(asyncio.all_tasks()) == 1)  # the listener's task has ended

    assert numbers(received) == [1]


async def test_unsubscribe_discards_events_not_yet_delivered(bus: EventBus) -> None:
    received: list[AnyEvent] = []
    unsubscribe = bus.listen(EVENT_CREATED, received.append)
    bus.fire(EVENT_CREATED, NumberData(n=1))
    unsubscribe()
    await wait_until(lambda: len(asyncio.all_tasks()) == 1)

    assert received == []


async def test_failing_listeners_are_logged_and_isolated(
    bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    calls = {"sync": 0, "async": 0}
    healthy: list[AnyEvent] = []

    def broken_sync(event: AnyEvent) -> None:
        calls["sync"] += 1
        raise RuntimeError("sync boom")

    async def broken_async(event: AnyEvent) -> None:
        calls["async"] += 1
        await asyncio.sleep(0)
        raise RuntimeError("async boom")

    bus.listen(EVENT_CREATED, broken_sync)
    bus.listen(EVENT_CREATED, broken_async)
    bus.listen(EVENT_CREATED, healthy.append)

    first = bus.fire(EVENT_CREATED, NumberData(n=1))
    second = bus.fire(EVENT_CREATED, NumberData(n=2))
    await wait_until(lambda: calls == {"sync": 2, "async": 2} and len(healthy) == 2)

    assert first is not second
    assert numbers(healthy) == [1, 2]
    await wait_until(lambda: len(bus_records(caplog, logging.ERROR)) == 4)
    errors = bus_records(caplog, logging.ERROR)
    for name, boom in (("broken_sync", "sync boom"), ("broken_async", "async boom")):
        mine = [r for r in errors if name in r.getMessage()]
        assert len(mine) == 2
        assert all("entity.created" in r.getMessage() for r in mine)
        assert all(r.exc_info and str(r.exc_info[1]) == boom for r in mine)


async def test_listener_raising_cancelled_error_keeps_listening(
    bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    async def listener(event: Event[NumberData]) -> None:
        calls.append(event.data["n"])
        if event.data["n"] == 1:
            raise asyncio.CancelledError

    bus.listen(EVENT_CREATED, listener)
    bus.fire(EVENT_CREATED, NumberData(n=1))
    bus.fire(EVENT_CREATED, NumberData(n=2))
    await wait_until(lambda: calls == [1, 2])

    assert len(bus_records(caplog, logging.ERROR)) == 1


async def test_slow_listener_blocks_neither_publisher_nor_other_listeners(
    bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    gate = asyncio.Event()
    slow: list[AnyEvent] = []
    fast: list[AnyEvent] = []

    async def slow_listener(event: Event[NumberData]) -> None:
        slow.append(event)
        await gate.wait()

    handle = bus.listen(EVENT_CREATED, slow_listener, queue_size=10)
    bus.listen(EVENT_CREATED, fast.append, queue_size=10_000)
    bus.fire(EVENT_CREATED, NumberData(n=-1))
    await wait_until(lambda: len(slow) == 1 and len(fast) == 1)

    for n in range(5000):
        bus.fire(EVENT_CREATED, NumberData(n=n))
    # The publisher is done while the slow listener is still stuck in its first event.
    assert numbers(slow) == [-1]
    await wait_until(lambda: len(fast) == 5001)
    assert numbers(slow) == [-1]

    assert handle.dropped == 4990
    warnings = bus_records(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert "slow_listener" in warnings[0].getMessage()
    assert "not keeping up" in warnings[0].getMessage()

    gate.set()
    await wait_until(lambda: len(slow) == 11)
    assert numbers(slow) == [-1, *range(4990, 5000)]


async def test_subscription_iterates_and_closes(bus: EventBus) -> None:
    sub = bus.subscribe("entity.*")
    for n in range(3):
        bus.fire(EVENT_CREATED, NumberData(n=n))
    bus.fire(EVENT_OTHER, NumberData(n=99))

    received: list[AnyEvent] = []
    async for event in sub:
        received.append(event)
        if len(received) == 3:
            break
    assert numbers(received) == [0, 1, 2]
    assert sub.pending() == 0

    sub.close()
    sub.close()
    assert sub.closed
    bus.fire(EVENT_CREATED, NumberData(n=3))
    with pytest.raises(SubscriptionClosed):
        await sub.get()
    assert [event async for event in sub] == []


async def test_close_wakes_a_waiting_getter(bus: EventBus) -> None:
    sub = bus.subscribe(MATCH_ALL)
    getter = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    assert not getter.done()

    sub.close()

    with pytest.raises(SubscriptionClosed):
        await getter


async def test_a_cancelled_getter_does_not_starve_another(bus: EventBus) -> None:
    sub = bus.subscribe(MATCH_ALL)
    first = asyncio.create_task(sub.get())
    second = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    first.cancel()
    bus.fire(EVENT_CREATED, NumberData(n=7))

    event = await asyncio.wait_for(second, timeout=3)

    assert event.data == {"n": 7}
    assert first.cancelled()
    sub.close()


async def test_subscription_as_context_manager(bus: EventBus) -> None:
    async with bus.subscribe(EVENT_CREATED) as sub:
        bus.fire(EVENT_CREATED, NumberData(n=1))
        event = await sub.get()
    assert event.data == {"n": 1}
    assert sub.closed


async def test_subscription_drops_the_oldest(
    bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    sub = bus.subscribe(EVENT_CREATED, queue_size=3, name="websocket 7")
    for n in range(100):
        bus.fire(EVENT_CREATED, NumberData(n=n))

    assert sub.dropped == 97
    assert numbers([await sub.get() for _ in range(3)]) == [97, 98, 99]
    warnings = bus_records(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert "websocket 7" in warnings[0].getMessage()
    sub.close()


async def test_overlapping_patterns_deliver_once(bus: EventBus) -> None:
    sub = bus.subscribe(MATCH_ALL, "entity.*", EVENT_CREATED)
    bus.fire(EVENT_CREATED, NumberData(n=1))
    bus.fire(EVENT_OTHER, NumberData(n=2))

    assert sub.pending() == 2
    assert numbers([await sub.get(), await sub.get()]) == [1, 2]
    sub.close()


async def test_close_delivers_pending_events_then_stops_everything() -> None:
    bus = EventBus()
    received: list[AnyEvent] = []

    async def listener(event: Event[NumberData]) -> None:
        await asyncio.sleep(0)
        received.append(event)

    bus.listen(EVENT_CREATED, listener)
    sub = bus.subscribe(EVENT_CREATED)
    for n in range(5):
        bus.fire(EVENT_CREATED, NumberData(n=n))

    await bus.close()

    assert numbers(received) == [0, 1, 2, 3, 4]
    assert asyncio.all_tasks() == {asyncio.current_task()}
    # A subscriber still gets what was queued before the bus closed, then the end.
    assert numbers([event async for event in sub]) == [0, 1, 2, 3, 4]
    bus.fire(EVENT_CREATED, NumberData(n=5))
    with pytest.raises(RuntimeError, match="closed"):
        bus.listen(EVENT_CREATED, received.append)
    with pytest.raises(RuntimeError, match="closed"):
        bus.subscribe(EVENT_CREATED)
    await bus.close()


async def test_close_cancels_a_stuck_listener(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus(close_timeout=0.05)
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def stuck(event: AnyEvent) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    bus.listen(MATCH_ALL, stuck)
    bus.fire(EVENT_CREATED, NumberData(n=1))
    await asyncio.wait_for(started.wait(), timeout=3)

    await bus.close()

    assert cancelled.is_set()
    assert asyncio.all_tasks() == {asyncio.current_task()}
    warnings = bus_records(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert "stuck" in warnings[0].getMessage()


def test_listen_needs_a_running_loop() -> None:
    with pytest.raises(RuntimeError):
        EventBus().listen(EVENT_CREATED, lambda event: None)


def test_queue_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="queue_size"):
        EventBus(queue_size=0)
