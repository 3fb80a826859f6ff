"""The reader and the client against the fake bridge: what one receive returned is never dropped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from hub.integrations.integration import ConfigEntryError
from integrations.signal.client import SignalClient, SignalConnectionError
from integrations.signal.providers import Mailbox, SignalReader, SignalSender

from .conftest import ADA, NUMBER, Bridge


@pytest.fixture
async def client(bridge: Bridge) -> AsyncIterator[SignalClient]:
    """A client with a short bound, for a linked number."""
    bridge.fake.accounts.append(NUMBER)
    client = SignalClient(bridge.url, timeout=0.5)
    yield client
    await client.close()


async def test_a_receive_larger_than_a_batch_is_handed_out_batch_by_batch(
    bridge: Bridge, client: SignalClient
) -> None:
    for n in range(5):
        bridge.fake.message(NUMBER, ADA, f"m{n}")
    reader = SignalReader(Mailbox(client, NUMBER))
    first = await reader.list_messages(None, 2)
    assert bridge.fake.queued(NUMBER) == 0  # one receive took all five from the bridge
    # Until the hub acknowledges a batch (it stored it), the same batch is offered again:
    # a store that failed loses nothing.
    assert await reader.list_messages(None, 2) == first
    batches = [first]
    for _ in range(3):
        await reader.acknowledge()
        batches.append(await reader.list_messages(None, 2))
    bodies = [m.body for batch in batches[:3] for m in batch]
    assert bodies == ["m0", "m1", "m2", "m3", "m4"]
    assert batches[3] == []


async def test_an_odd_answer_is_an_entry_error_and_a_slow_one_a_connection_error(
    bridge: Bridge, client: SignalClient
) -> None:
    reader = SignalReader(Mailbox(client, NUMBER))
    bridge.fake.garbage = True
    with pytest.raises(ConfigEntryError, match="did not answer JSON"):
        await reader.list_messages(None, 10)
    bridge.fake.garbage = False
    bridge.fake.delay = 2.0
    async with asyncio.timeout(5):  # the client's own bound (0.5 s and the 1 s wait) ends it
        with pytest.raises(SignalConnectionError, match="in time"):
            await reader.list_messages(None, 10)


async def test_nothing_is_lost_when_a_receive_fails(bridge: Bridge, client: SignalClient) -> None:
    bridge.fake.message(NUMBER, ADA, "kept")
    reader = SignalReader(Mailbox(client, NUMBER))
    bridge.fake.down = True
    with pytest.raises(SignalConnectionError):
        await reader.list_messages(None, 10)
    bridge.fake.down = False
    [message] = await reader.list_messages(None, 10)
    assert message.body == "kept"


async def test_the_sender_refuses_what_signal_cannot_carry(
    bridge: Bridge, client: SignalClient
) -> None:
    sender = SignalSender(client, NUMBER)
    refusals = (
        ("not a number", "hi", "international format"),
        (ADA, "   ", "needs text"),
        (ADA, "x" * 9000, "at most"),
    )
    for to, body, why in refusals:
        with pytest.raises(ValueError, match=why):
            await sender.send(to, "", body, None, [], [])
    assert bridge.fake.sent == []
    sent = await sender.send(ADA, "ignored subject", "hello", None, ["+4917011111111"], [])
    assert sent["recipients"] == [ADA, "+4917011111111"]
    assert bridge.fake.sent[0]["message"] == "hello"
