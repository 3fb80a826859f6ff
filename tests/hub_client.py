"""A signed-in test client of a real hub: JSON in, ``(status, body)`` out, and the steps tests repeat."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient


class HubClient:
    """Wraps aiohttp's ``TestClient`` of a hub app."""

    def __init__(
        self, client: TestClient[web.Request, web.Application], app: web.Application
    ) -> None:
        self.client = client
        self.app = app

    async def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        """POST ``body`` as JSON; the status and the decoded answer."""
        resp = await self.client.post(path, json=body, **kw)
        return resp.status, await resp.json()

    async def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        """GET; the status and the decoded answer."""
        resp = await self.client.get(path, **kw)
        return resp.status, await resp.json()

    async def another_person(self, username: str, password: str) -> dict[str, str]:
        """Add a person who is not an admin; the headers their requests carry."""
        body = {"username": username, "password": password, "is_admin": False}
        status, answer = await self.post("/api/people", body)
        assert status in (200, 201), answer
        login = {"username": username, "password": password}
        status, tokens = await self.post("/api/auth/login", login)
        assert status == 200, tokens
        return {"Authorization": f"Bearer {tokens['access_token']}"}

    async def start_flow(self, domain: str, **body: Any) -> dict[str, Any]:
        """Start a config flow; its first answer (a form, or the entry for a zero-step one)."""
        status, answer = await self.post("/api/config-flows", {"domain": domain, **body})
        assert status == 200, answer
        return dict(answer)

    async def submit(self, flow_id: str, user_input: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """Submit the current form of a flow."""
        status, answer = await self.post(
            f"/api/config-flows/{flow_id}", {"user_input": user_input}, **kw
        )
        assert status == 200, answer
        return dict(answer)
