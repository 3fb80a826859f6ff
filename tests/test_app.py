"""The application as aiohttp runs it: services wired in order, the error envelope, health, teardown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from hub import __version__
from hub.api.state import BUS, SCHEDULER, STORAGE, TIMELINE
from hub.app import create_app
from hub.config import HubConfig
from hub.core.bus import EVENT_HUB_STOPPING
from hub.core.errors import CryptoError, NotFoundError
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in


def make_app(config_dir: Path, env: dict[str, str] | None = None) -> web.Application:
    return create_app(config_dir, HubConfig(), env=env or {})


async def test_health_answers_status_version_and_uptime(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    client = await aiohttp_client(make_app(tmp_path))
    resp = await client.get("/api/health")
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "ok"
    assert body["version"] == __version__
    assert body["uptime_seconds"] >= 0


async def test_start_up_opens_services_in_order_and_records_the_timeline(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    app = make_app(tmp_path)
    await aiohttp_client(app)
    phases = [name for name, _ in app[TIMELINE].phases]
    assert phases == [
        "storage",
        "keyring",
        "home",
        "auth",
        "database",
        "bus",
        "event_log",
        "entities",
        "comms",
        "integrations",
        "entries",
        "memory",
        "scheduler",
        "agent",
        "workflows",
    ]
    assert app[SCHEDULER].running
    assert (tmp_path / ".storage" / "master.key").exists()
    assert (tmp_path / "hub.db").exists()


async def test_errors_come_back_in_one_json_envelope(
    aiohttp_client: AiohttpClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(tmp_path)

    async def missing(request: web.Request) -> web.Response:
        raise NotFoundError("no entry named 'garage'")

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("a bug with a detail nobody should see")

    app.router.add_get("/api/missing", missing)
    app.router.add_get("/api/broken", broken)
    client = await aiohttp_client(app)
    resp = await client.get("/api/missing")
    assert resp.status == 401, "nothing but health, onboarding and login answers without a token"
    assert (await resp.json())["error"]["code"] == "unauthorized"
    await sign_in(client, OWNER, OWNER_PASSWORD)

    resp = await client.get("/api/missing")
    assert resp.status == 404
    assert await resp.json() == {
        "error": {
            "code": "not_found",
            "message": "no entry named 'garage'",
            "key": "errors.not_found",
            "params": {},
        }
    }
    resp = await client.get("/api/no-such-route")
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "not_found"
    resp = await client.post("/api/health")
    assert resp.status == 405
    assert (await resp.json())["error"]["code"] == "method_not_allowed"
    resp = await client.get("/api/broken")
    assert resp.status == 500
    text = await resp.text()
    error = json.loads(text)["error"]
    assert error["code"] == "internal_error"
    assert f"correlation id {error['correlation_id']}" in caplog.text
    assert "detail nobody should see" not in text
    assert "Traceback" not in text


async def test_cleanup_flushes_pending_saves_and_announces_the_stop(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    app = make_app(tmp_path)
    client = await aiohttp_client(app)
    seen: list[str] = []
    app[BUS].listen(EVENT_HUB_STOPPING, lambda event: seen.append(event.type))
    store = app[STORAGE].store("test.pending", 1)
    store.schedule_save(lambda: {"lamp": "on"}, delay=3600)
    assert not store.path.exists()
    await client.close()
    envelope = json.loads(store.path.read_text())
    assert envelope["data"] == {"lamp": "on"}
    assert seen == ["hub.stopping"]
    assert not app[SCHEDULER].running
    assert not (tmp_path / "hub.db-wal").exists()


async def test_a_failed_start_up_unwinds_what_it_opened(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    await (await aiohttp_client(make_app(tmp_path))).close()
    db_before = (tmp_path / "hub.db").stat().st_mtime_ns
    app = make_app(tmp_path, {"HUB_MASTER_KEY": "B" * 43})
    runner = web.AppRunner(app)  # as ``hub run`` does: set up, and clean up whatever happens
    with pytest.raises(CryptoError, match="not the one the stored secrets were encrypted with"):
        await runner.setup()
    await runner.cleanup()
    assert [name for name, _ in app[TIMELINE].phases] == ["storage", "keyring"]
    assert (tmp_path / "hub.db").stat().st_mtime_ns == db_before
