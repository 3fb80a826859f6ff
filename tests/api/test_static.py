"""Every answer forbids being framed by another page: the UI, the API and its errors."""

from __future__ import annotations

from pathlib import Path

from pytest_aiohttp import AiohttpClient

from hub.app import create_app
from hub.config import HubConfig, IntegrationsConfig


async def test_no_page_or_answer_of_the_hub_may_be_framed(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    config = HubConfig(integrations=IntegrationsConfig(enabled=False))
    client = await aiohttp_client(create_app(tmp_path / "config", config, env={}))
    for path, status in (("/", 200), ("/api/health", 200), ("/api/people", 401), ("/nope.js", 404)):
        resp = await client.get(path)
        assert resp.status == status, path
        policy = resp.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy, (path, policy)
        assert policy.count("frame-ancestors") == 1, policy
        assert resp.headers["X-Frame-Options"] == "DENY", path
        assert resp.headers["X-Content-Type-Options"] == "nosniff", path
    page = await client.get("/")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"], (
        "the UI keeps its policy"
    )
