"""Start-up imports only the integrations that have entries; the rest when something needs them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pytest_aiohttp import AiohttpClient

from hub.app import create_app
from hub.config import HubConfig, IntegrationsConfig
from hub.integrations.loader import NAMESPACE, scan
from hub.integrations.registry import IntegrationRegistry
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.integrations.helpers import make_integration


def imported(domain: str) -> bool:
    return f"{NAMESPACE}.{domain}" in sys.modules


def forget(*domains: str) -> None:
    for domain in domains:
        sys.modules.pop(f"{NAMESPACE}.{domain}", None)


async def test_start_imports_only_what_has_entries_and_the_catalog_the_rest(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    bundled, config_dir = tmp_path / "integrations", tmp_path / "config"
    make_integration(bundled, "lazy_used")
    make_integration(bundled, "lazy_unused")
    make_integration(bundled, "lazy_broken", init="raise RuntimeError('no usb stick')\n")
    config = HubConfig(integrations=IntegrationsConfig(bundled_dir=bundled))
    first = await aiohttp_client(create_app(config_dir, config, env={}))
    await sign_in(first, OWNER, OWNER_PASSWORD)
    resp = await first.post("/api/config-flows", json={"domain": "lazy_used"})
    assert resp.status == 200, await resp.text()
    entry_id = (await resp.json())["entry_id"]
    await first.close()
    forget("lazy_used", "lazy_unused", "lazy_broken")

    client = await aiohttp_client(create_app(config_dir, config, env={}))
    assert imported("lazy_used")
    assert not imported("lazy_unused")
    assert not imported("lazy_broken")
    await sign_in(client, OWNER, OWNER_PASSWORD)
    entry = await (await client.get(f"/api/config-entries/{entry_id}")).json()
    assert entry["state"] == "loaded"

    body = await (await client.get("/api/integrations")).json()
    items = {item["domain"]: item for item in body["integrations"]}
    assert {d: i["status"] for d, i in items.items()} == {
        "lazy_used": "loaded",
        "lazy_unused": "loaded",
        "lazy_broken": "failed",
    }
    assert "no usb stick" in items["lazy_broken"]["reason"]
    assert [s["reason"] for s in body["skipped"]] == ["import_failed"]
    assert imported("lazy_unused")
    await client.close()  # writes the catalog the listing completed
    saved = json.loads((config_dir / ".storage" / "core.integrations").read_text())
    assert saved["data"]["integrations"]["lazy_broken"]["status"] == "failed"


async def test_a_flow_imports_its_integration(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    bundled = tmp_path / "integrations"
    make_integration(bundled, "lazy_flowed")
    forget("lazy_flowed")
    config = HubConfig(integrations=IntegrationsConfig(bundled_dir=bundled))
    client = await aiohttp_client(create_app(tmp_path / "config", config, env={}))
    await sign_in(client, OWNER, OWNER_PASSWORD)
    assert not imported("lazy_flowed")
    resp = await client.post("/api/config-flows", json={"domain": "lazy_flowed"})
    assert resp.status == 200, await resp.text()
    assert imported("lazy_flowed")


def test_a_domain_is_imported_after_its_dependencies(tmp_path: Path) -> None:
    make_integration(tmp_path, "lazy_base")
    make_integration(tmp_path, "lazy_child", dependencies=["lazy_base"])
    make_integration(tmp_path, "lazy_other")
    forget("lazy_base", "lazy_child", "lazy_other")
    registry = IntegrationRegistry(scan(tmp_path))
    assert not registry.complete
    assert registry.candidates().keys() == {"lazy_base", "lazy_child", "lazy_other"}

    child = registry.get("lazy_child")
    assert child is not None
    assert imported("lazy_base")
    assert not imported("lazy_other")
    assert registry.domains == ["lazy_base", "lazy_child", "lazy_other"]
    assert registry.complete


def test_a_broken_dependency_skips_its_dependents_on_first_use(tmp_path: Path) -> None:
    make_integration(tmp_path, "lazy_root", init="raise ImportError('gone')\n")
    make_integration(tmp_path, "lazy_leaf", dependencies=["lazy_root"])
    registry = IntegrationRegistry(scan(tmp_path))
    assert registry.get("lazy_leaf") is None
    skipped = registry.skipped_domain("lazy_leaf")
    assert skipped is not None
    assert skipped.reason == "dependency_missing"
    assert [item.reason for item in registry.skipped] == ["import_failed", "dependency_missing"]
