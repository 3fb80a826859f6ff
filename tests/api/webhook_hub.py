"""A real hub with one test integration that uses the webhook hooks: its scheme, its deliveries."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from hub.api.state import CONFIG_ENTRIES
from hub.app import create_app
from hub.config import HttpConfig, HubConfig, IntegrationsConfig, WebhooksConfig
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.hub_client import HubClient
from tests.integrations.helpers import make_integration

SIGNED = """
import asyncio

from hub.integrations.entities import (
    EntityStateRecord, EntityStateSyncResult, EntityStateTypeDescriptor,
)
from hub.integrations.integration import Integration, WebhookPayloadError
from hub.integrations.webhooks import WebhookVerification

DELIVERY = EntityStateTypeDescriptor(key="delivery", name="Delivery")


class Signed(Integration):
    def entity_types(self):
        return {"delivery": DELIVERY}

    def webhook_verification(self, ctx):
        scheme = ctx.data.get("scheme")
        if scheme is None:
            return None  # the hub's own per-entry signing setting applies
        return WebhookVerification(
            scheme=scheme,
            secret=ctx.secrets["secret"],
            signature_header=ctx.data.get("signature_header"),
            signature_prefix=ctx.data.get("signature_prefix", ""),
            signature_encoding=ctx.data.get("signature_encoding", "hex"),
            delivery_id_header=ctx.data.get("delivery_id_header"),
        )

    async def async_handle_webhook_delivery(self, ctx, delivery):
        body = delivery.payload
        if not isinstance(body, dict) or "id" not in body:
            raise WebhookPayloadError("body: needs an object with an id")
        if body.get("sleep"):
            await asyncio.sleep(body["sleep"])
        if body.get("explode"):
            raise RuntimeError("the integration broke")
        record = EntityStateRecord(
            entity_type="delivery",
            external_id=str(body["id"]),
            name=str(body["id"]),
            state=body.get("state", "received"),
            attributes={
                "event": delivery.headers.get("x-event"),
                "replay": delivery.replay,
                "sender_id": delivery.delivery_id,
                "headers": sorted(delivery.headers),
            },
        )
        return EntityStateSyncResult(records=(record,), full=False)

    async def async_preview_webhook(self, ctx, delivery, options):
        field = options.get("id_field", "id")
        body = delivery.payload
        if not isinstance(body, dict) or field not in body:
            raise WebhookPayloadError(f"id_field: {field!r} found nothing in the body")
        return {"entities": [{"external_id": str(body[field])}], "event": None}


INTEGRATION = Signed()
"""

PLAIN = """
from hub.integrations.entities import EntityStateRecord, EntityStateSyncResult
from hub.integrations.integration import Integration


class Plain(Integration):
    async def async_handle_webhook(self, ctx, payload):
        return None


INTEGRATION = Plain()
"""


class WebhookHub(HubClient):
    """A started hub, its config dir, and the entry helpers the webhook tests repeat."""

    config_dir: Path

    async def add_entry(
        self, domain: str = "signed", secret: str = "", **data: Any
    ) -> tuple[str, str]:
        """A loaded entry; its id and its webhook path (with the token)."""
        entry = await self.app[CONFIG_ENTRIES].create(
            domain=domain,
            title=f"{domain} {data.get('scheme', 'plain')}",
            scope="global",
            owner=None,
            data=data,
            secrets={"secret": secret} if secret else {},
            version=1,
        )
        status, info = await self.get(f"/api/config-entries/{entry.entry_id}/webhook")
        assert status == 200, info
        return entry.entry_id, str(info["path"])

    async def deliver(
        self, path: str, body: Any, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """POST raw bytes (or JSON of ``body``); the status and the decoded answer."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        resp = await self.client.post(path, data=raw, headers=headers or {})
        return resp.status, await resp.json()

    async def log(self, entry_id: str, **query: str) -> list[dict[str, Any]]:
        """The entry's delivery log, newest first."""
        status, answer = await self.get(f"/api/config-entries/{entry_id}/deliveries", params=query)
        assert status == 200, answer
        return list(answer["deliveries"])

    async def entity(self, external_id: str) -> dict[str, Any] | None:
        """The test integration's entity with that id, if any."""
        status, answer = await self.get("/api/entities", params={"domain": "signed"})
        assert status == 200, answer
        found = [e for e in answer["entities"] if e["external_id"] == external_id]
        return found[0] if found else None


StartWebhookHub = Callable[..., Awaitable[WebhookHub]]


@pytest.fixture
async def start_webhook_hub(tmp_path: Path, aiohttp_client: AiohttpClient) -> StartWebhookHub:
    """Start (or, after ``stop``, restart) a hub on one config dir with the test integrations."""
    bundled = tmp_path / "integrations"
    make_integration(bundled, "signed", init=SIGNED, single_instance=False)
    make_integration(bundled, "plain", init=PLAIN, single_instance=False)

    async def start(**webhooks: Any) -> WebhookHub:
        config = HubConfig(
            integrations=IntegrationsConfig(bundled_dir=bundled),
            http=HttpConfig(webhook_rate_per_second=1000, webhook_burst=1000),
            webhooks=WebhooksConfig(**webhooks),
        )
        app = create_app(tmp_path / "config", config, env={})
        client: TestClient[web.Request, web.Application] = await aiohttp_client(app)
        await sign_in(client, OWNER, OWNER_PASSWORD)
        hub = WebhookHub(client, app)
        hub.config_dir = tmp_path / "config"
        return hub

    return start
