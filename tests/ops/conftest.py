"""Repairs and diagnostics run on the hubs the API and comms tests start; their fixtures, shared."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientWebSocketResponse

from tests.api.conftest import start_hub
from tests.comms.conftest import start_comms_hub
from tests.hub_client import HubClient
from tests.integrations.searxng.support import allow_model_requests, start_search_hub

__all__ = [
    "allow_model_requests",
    "start_comms_hub",
    "start_hub",
    "start_search_hub",
]  # fixtures, used by name


async def repairs(hub: HubClient, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """``GET /api/repairs`` as the owner (or as whoever ``headers`` sign in), by id."""
    status, body = await hub.get("/api/repairs", headers=headers or {})
    assert status == 200, body
    return {repair["id"]: repair for repair in body["repairs"]}


async def until(check: Callable[[], Awaitable[Any]], seconds: float = 10.0) -> Any:
    """Ask ``check`` until it answers something truthy; that answer."""
    async with asyncio.timeout(seconds):
        while True:
            value = await check()
            if value:
                return value
            await asyncio.sleep(0.02)


async def repair_socket(hub: HubClient, token: str) -> ClientWebSocketResponse:
    """A websocket signed in with ``token``, subscribed to ``repair.*`` (subscription 1)."""
    ws = await hub.client.ws_connect("/api/websocket")
    assert (await ws.receive_json(timeout=5))["type"] == "auth_required"
    await ws.send_json({"type": "auth", "access_token": token})
    assert (await ws.receive_json(timeout=5))["type"] == "auth_ok"
    await ws.send_json({"id": 1, "type": "subscribe_events", "event_type": "repair.*"})
    assert (await ws.receive_json(timeout=5))["success"] is True
    return ws


async def next_repair_event(ws: ClientWebSocketResponse, seconds: float = 10) -> dict[str, Any]:
    """The next ``repair.*`` event the socket receives."""
    while True:
        message = await ws.receive_json(timeout=seconds)
        if message["type"] == "event" and message["id"] == 1:
            return dict(message["event"])


def bearer(headers: dict[str, str]) -> str:
    """The access token in an ``Authorization`` header."""
    return headers["Authorization"].removeprefix("Bearer ")
