"""Signing a test client in, as the web UI does."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient

OWNER = "owner"
OWNER_PASSWORD = "correct horse battery"


async def sign_in(
    client: TestClient[web.Request, web.Application], username: str, password: str
) -> str:
    """Onboard (first start) or log in, and send the access token with every later request."""
    status = await (await client.get("/api/onboarding")).json()
    path = "/api/onboarding" if status["open"] else "/api/auth/login"
    resp = await client.post(path, json={"username": username, "password": password})
    assert resp.status == 200, await resp.text()
    token = str((await resp.json())["access_token"])
    client.session.headers["Authorization"] = f"Bearer {token}"
    return token
