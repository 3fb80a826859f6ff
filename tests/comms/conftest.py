"""A real hub with ``courier``: a message integration whose channel the test drives in-process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from hub.api.state import COMMS, REGISTRY
from hub.app import create_app
from hub.comms.service import Comms
from hub.config import CommsConfig, HubConfig, IntegrationsConfig
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.hub_client import HubClient
from tests.integrations.helpers import make_integration

# The channel is the integration's own business: here, a list the test appends to, a reader that
# returns what it has not returned yet (as an IMAP reader keeps a UID cursor), and a listener that
# wakes on every arrival. ``mode`` makes the listener misbehave the ways real ones do.
COURIER = """
import asyncio
from datetime import UTC, datetime
from typing import Any

from hub.integrations.capabilities import IncomingMessage
from hub.integrations.entities import EntityStateTypeDescriptor
from hub.integrations.integration import Integration, SetupContext


class Channel:
    def __init__(self) -> None:
        self.messages: list[IncomingMessage] = []
        self.cursor = 0
        self.arrived = asyncio.Event()
        self.mode = "ok"  # ok | crash | hang | deaf
        self.starts = 0
        self.sent: list[dict[str, Any]] = []
        self.reads = 0

    def deliver(self, external_id: str, **fields: Any) -> None:
        fields.setdefault("received_at", datetime.now(UTC))
        fields.setdefault("sender_address", "ada@example.org")
        self.messages.append(IncomingMessage(external_id=external_id, **fields))
        self.arrived.set()


class Reader:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    async def list_messages(self, folder: str | None, limit: int) -> list[IncomingMessage]:
        self.channel.reads += 1
        batch = self.channel.messages[self.channel.cursor : self.channel.cursor + limit]
        self.channel.cursor += len(batch)
        return batch


class Listener:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    async def listen(self, controls: Any) -> None:
        channel = self.channel
        channel.starts += 1
        await controls.sync_now()
        while controls.should_run():
            if channel.mode == "crash":
                raise ConnectionResetError("the server went away")
            if channel.mode == "hang":
                await asyncio.sleep(3600)  # deaf to should_run: the manager must cancel it
            try:
                await asyncio.wait_for(channel.arrived.wait(), 0.05)
            except TimeoutError:
                if channel.mode != "deaf":
                    controls.heartbeat()
                continue
            channel.arrived.clear()
            controls.trigger()


class Sender:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    async def send(self, to, subject, body, in_reply_to, cc, attachments) -> dict[str, Any]:
        self.channel.sent.append({"to": to, "subject": subject, "body": body, "in_reply_to": in_reply_to})
        return {"message_id": f"sent-{len(self.channel.sent)}"}


class Courier(Integration):
    def __init__(self) -> None:
        self.channel = Channel()

    def entity_types(self):
        return {
            "courier_message": EntityStateTypeDescriptor(
                key="courier_message", name="Courier message", message=True, rag=True
            )
        }

    def message_reader_provider(self, ctx: SetupContext) -> Reader:
        return Reader(self.channel)

    def message_listener_provider(self, ctx: SetupContext) -> Listener:
        return Listener(self.channel)

    def message_sender_provider(self, ctx: SetupContext) -> Sender:
        return Sender(self.channel)


INTEGRATION = Courier()
"""


def write_courier(bundled: Path) -> None:
    """The ``courier`` integration's folder in ``bundled``."""
    make_integration(
        bundled,
        "courier",
        init=COURIER,
        single_instance=False,
        iot_class="cloud_push",
        provides=["message_reader", "message_listener", "message_sender"],
    )


@dataclass
class CommsHub:
    """A signed-in client of a real hub, its app, and the courier's channel."""

    client: HubClient
    app: web.Application

    @property
    def comms(self) -> Comms:
        return self.app[COMMS]

    @property
    def channel(self) -> Any:
        loaded = self.app[REGISTRY].get("courier")
        assert loaded is not None
        return loaded.integration.channel  # type: ignore[attr-defined]

    async def add_courier(self, **body: Any) -> str:
        answer = await self.client.start_flow("courier", **body)
        assert answer["type"] == "create_entry", answer
        return str(answer["entry_id"])


StartCommsHub = Callable[..., Awaitable[CommsHub]]


@pytest.fixture
async def start_comms_hub(tmp_path: Path, aiohttp_client: AiohttpClient) -> StartCommsHub:
    """Start a hub whose bundled folder holds ``courier`` (comms settings as given)."""
    bundled = tmp_path / "integrations"
    write_courier(bundled)

    async def start(**comms: Any) -> CommsHub:
        config = HubConfig(
            integrations=IntegrationsConfig(bundled_dir=bundled),
            comms=CommsConfig(**comms),
        )
        app = create_app(tmp_path / "config", config, env={})
        client = await aiohttp_client(app)
        await sign_in(client, OWNER, OWNER_PASSWORD)
        return CommsHub(HubClient(client, app), app)

    return start
