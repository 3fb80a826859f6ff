"""A real hub with ``post``: a message channel whose sender records (or refuses) what it is asked to send.

The channel is the test's stand-in for a mail account: a list the test appends to, a reader with a
cursor (as an IMAP reader keeps its UID), and a sender that records each call, can be made slow or
made to fail. ``required_tier`` is the manifest's, so the tier gate can be tried.
"""

from __future__ import annotations

import asyncio
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
from hub.config import HubConfig, IntegrationsConfig, ModelConfig
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.hub_client import HubClient
from tests.integrations.helpers import make_integration

POST = """
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
        self.sent: list[dict[str, Any]] = []
        self.calls = 0
        self.fail: str | None = None
        self.delay = 0.0

    def deliver(self, external_id: str, **fields: Any) -> None:
        fields.setdefault("received_at", datetime.now(UTC))
        fields.setdefault("sender", "Ada Lovelace")
        fields.setdefault("sender_address", "ada@example.org")
        self.messages.append(IncomingMessage(external_id=external_id, **fields))


class Reader:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    async def list_messages(self, folder: str | None, limit: int) -> list[IncomingMessage]:
        batch = self.channel.messages[self.channel.cursor : self.channel.cursor + limit]
        self.channel.cursor += len(batch)
        return batch


class Sender:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    async def send(self, to, subject, body, in_reply_to, cc, attachments) -> dict[str, Any]:
        channel = self.channel
        channel.calls += 1
        if channel.delay:
            await asyncio.sleep(channel.delay)
        if channel.fail:
            raise ConnectionRefusedError(channel.fail)
        channel.sent.append(
            {"to": to, "subject": subject, "body": body, "in_reply_to": in_reply_to, "cc": list(cc)}
        )
        return {"message_id": f"sent-{len(channel.sent)}@post.example"}


class Post(Integration):
    def __init__(self) -> None:
        self.channel = Channel()

    def entity_types(self):
        return {
            "post_message": EntityStateTypeDescriptor(
                key="post_message", name="Post message", message=True, rag=True
            )
        }

    def message_reader_provider(self, ctx: SetupContext) -> Reader:
        return Reader(self.channel)

    def message_sender_provider(self, ctx: SetupContext) -> Sender:
        return Sender(self.channel)


INTEGRATION = Post()
"""


async def wait_for(check: Callable[[], Awaitable[Any]], seconds: float = 10.0) -> Any:
    """Poll ``check`` until it returns something truthy."""
    async with asyncio.timeout(seconds):
        while True:
            value = await check()
            if value:
                return value
            await asyncio.sleep(0.02)


@dataclass
class PostHub:
    """A signed-in client of a real hub, its app, and the ``post`` channel."""

    client: HubClient
    app: web.Application
    config_dir: Path

    @property
    def comms(self) -> Comms:
        return self.app[COMMS]

    @property
    def channel(self) -> Any:
        loaded = self.app[REGISTRY].get("post")
        assert loaded is not None
        return loaded.integration.channel  # type: ignore[attr-defined]

    async def add_post(self, **body: Any) -> str:
        answer = await self.client.start_flow("post", **body)
        assert answer["type"] == "create_entry", answer
        return str(answer["entry_id"])

    async def deliver(self, entry_id: str, external_id: str, **fields: Any) -> dict[str, Any]:
        """A message arrives on the channel and is pulled in; its inbox JSON once in the inbox."""
        self.channel.deliver(external_id, **fields)
        await self.comms.ingest.pull(entry_id)
        return await self.message(external_id)

    async def message(self, external_id: str, *, triaged: bool = False) -> dict[str, Any]:
        """The inbox JSON of a message, waited for (and for its triage when asked)."""

        async def find() -> dict[str, Any] | None:
            status, body = await self.client.get("/api/inbox?limit=200")
            assert status == 200, body
            for thread in body["threads"]:
                status, detail = await self.client.get(
                    "/api/inbox/thread", params={"key": thread["thread_key"]}
                )
                assert status == 200, detail
                for message in detail["messages"]:
                    if message["external_id"] == external_id and (
                        not triaged or message["triage"] != "pending"
                    ):
                        return dict(message)
            return None

        return dict(await wait_for(find))


StartPostHub = Callable[..., Awaitable[PostHub]]


@pytest.fixture
async def start_post_hub(tmp_path: Path, aiohttp_client: AiohttpClient) -> StartPostHub:
    """Start (or restart) a hub whose bundled folder holds ``post`` of the given ``required_tier``."""
    bundled = tmp_path / "integrations"

    async def start(
        *, required_tier: str = "unregulated", models: tuple[ModelConfig, ...] = ()
    ) -> PostHub:
        make_integration(
            bundled,
            "post",
            init=POST,
            single_instance=False,
            iot_class="cloud_polling",
            provides=["message_reader", "message_sender"],
            required_tier=required_tier,
        )
        config = HubConfig(integrations=IntegrationsConfig(bundled_dir=bundled), models=models)
        app = create_app(tmp_path / "config", config, env={})
        client = await aiohttp_client(app)
        await sign_in(client, OWNER, OWNER_PASSWORD)
        return PostHub(HubClient(client, app), app, tmp_path / "config")

    return start
