"""``GET /api/integrations`` on the real application."""

from __future__ import annotations

from pathlib import Path

from pytest_aiohttp import AiohttpClient

from hub.app import create_app
from hub.config import HubConfig, IntegrationsConfig
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.integrations.helpers import make_integration


def config_for(bundled: Path) -> HubConfig:
    return HubConfig(integrations=IntegrationsConfig(bundled_dir=bundled))


async def test_lists_the_bundled_integrations(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    client = await aiohttp_client(create_app(tmp_path, HubConfig(), env={}))
    await sign_in(client, OWNER, OWNER_PASSWORD)
    resp = await client.get("/api/integrations")
    assert resp.status == 200
    body = await resp.json()
    by_domain = {item["domain"]: item for item in body["integrations"]}
    text_tools = by_domain["text_tools"]
    assert text_tools["status"] == "loaded"
    assert text_tools["enabled"] is True
    assert text_tools["manifest"]["config_flow"] is False
    assert text_tools["manifest"]["required_tier"] in (0, "unregulated")


async def test_shows_why_an_integration_is_missing(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    bundled = tmp_path / "integrations"
    make_integration(bundled, "good")
    make_integration(bundled, "bad_import", init="raise RuntimeError('no usb stick')\n")
    make_integration(bundled, "bad_manifest", manifest="domain: bad_manifest\nnmae: x\n")
    client = await aiohttp_client(create_app(tmp_path / "config", config_for(bundled), env={}))
    await sign_in(client, OWNER, OWNER_PASSWORD)
    body = await (await client.get("/api/integrations")).json()
    statuses = {item["domain"]: item["status"] for item in body["integrations"]}
    assert statuses == {"good": "loaded", "bad_import": "failed"}
    failed = next(i for i in body["integrations"] if i["domain"] == "bad_import")
    assert "no usb stick" in failed["reason"]
    reasons = {s["path"].rsplit("/", 1)[1]: s["reason"] for s in body["skipped"]}
    assert reasons == {"bad_import": "import_failed", "bad_manifest": "manifest_invalid"}


async def test_a_vanished_integration_is_listed_as_not_found(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    bundled, config_dir = tmp_path / "integrations", tmp_path / "config"
    folder = make_integration(bundled, "gone_soon")
    first = await aiohttp_client(create_app(config_dir, config_for(bundled), env={}))
    await sign_in(first, OWNER, OWNER_PASSWORD)
    await first.close()
    (folder / "manifest.yaml").unlink()
    (folder / "__init__.py").unlink()
    folder.rmdir()
    client = await aiohttp_client(create_app(config_dir, config_for(bundled), env={}))
    await sign_in(client, OWNER, OWNER_PASSWORD)
    body = await (await client.get("/api/integrations")).json()
    assert body["integrations"] == [
        {
            "domain": "gone_soon",
            "name": "Gone Soon",
            "version": "0.0.0",
            "integration_type": None,
            "iot_class": None,
            "trust_tier": None,
            "quality_scale": None,
            "config_flow": None,
            "single_instance": None,
            "default_scope": None,
            "status": "not_found",
            "reason": None,
            "enabled": True,
            "allowed_scopes": ["user", "global"],
            "event_types": [],
            "relation_types": [],
            "manifest": None,
            "source": None,
            "path": None,
            "missing_requirements": [],
            "description": None,
            "icon": None,
            "features": None,
            "entries": [],
        }
    ]


async def test_the_catalog_speaks_the_persons_language_and_shows_what_is_set_up(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    client = await aiohttp_client(create_app(tmp_path, HubConfig(), env={}))
    await sign_in(client, OWNER, OWNER_PASSWORD)
    resp = await client.post("/api/config-flows", json={"domain": "system_monitor"})
    monitor_entry = (await resp.json())["entry_id"]

    english = (await (await client.get("/api/integrations")).json())["integrations"]
    by_domain = {item["domain"]: item for item in english}
    helpers = by_domain["helpers"]
    assert helpers["name"] == "Helpers"
    assert helpers["description"].startswith("Toggles, numbers and buttons")
    assert helpers["features"] == {
        "webhooks": False,
        "health": False,
        "pulls": False,
        "messages": False,
        "listens": False,
    }
    assert by_domain["openproject"]["features"] == {
        "webhooks": True,
        "health": True,
        "pulls": True,
        "messages": False,
        "listens": False,
    }
    assert by_domain["webhook"]["features"]["webhooks"] is True
    assert by_domain["system_monitor"]["entries"] == [
        {"entry_id": monitor_entry, "title": "System Monitor", "scope": "global"}
    ]
    assert helpers["entries"] == []

    german = (
        await (await client.get("/api/integrations", headers={"Accept-Language": "de"})).json()
    )["integrations"]
    helfer = next(item for item in german if item["domain"] == "helpers")
    assert helfer["name"] == "Helfer"
    assert helfer["description"].startswith("Schalter, Zahlen und Tasten")

    # The icon: an image, public like the UI's files, that cannot run as a page.
    assert helpers["icon"] == "/integration-icons/helpers.svg"
    resp = await client.get(helpers["icon"], headers={"Authorization": ""})
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "image/svg+xml"
    assert "sandbox" in resp.headers["Content-Security-Policy"]
    assert (await resp.text()).startswith("<svg")
    assert (await client.get("/integration-icons/nothing_here.svg")).status == 404
