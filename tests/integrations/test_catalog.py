"""The catalog: discovery upserts it, vanished domains stay as not_found, admin settings survive."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hub.core.errors import BadRequestError, NotFoundError, StorageError
from hub.core.storage import StorageManager
from hub.integrations.catalog import CATALOG_KEY, IntegrationCatalog
from hub.integrations.loader import discover, scan
from hub.integrations.registry import IntegrationRegistry
from tests.integrations.helpers import make_integration


async def open_catalog(config_dir: Path) -> IntegrationCatalog:
    storage = StorageManager(config_dir)
    storage.prepare()
    catalog = IntegrationCatalog(storage)
    await catalog.load()
    return catalog


async def test_a_domain_that_disappears_and_returns_keeps_its_admin_settings(
    tmp_path: Path,
) -> None:
    config_dir, bundled = tmp_path / "config", tmp_path / "integrations"
    make_integration(bundled, "weather", version="1.0.0")
    make_integration(bundled, "lights")

    catalog = await open_catalog(config_dir)
    await catalog.sync(IntegrationRegistry(discover(bundled)))
    assert {row.domain: row.status for row in catalog.rows()} == {
        "lights": "loaded",
        "weather": "loaded",
    }
    await catalog.set_admin("weather", enabled=False, allowed_scopes=["global"])

    shutil.rmtree(bundled / "weather")
    catalog = await open_catalog(config_dir)
    await catalog.sync(IntegrationRegistry(discover(bundled)))
    gone = catalog.get("weather")
    assert gone is not None
    assert gone.status == "not_found"
    assert gone.enabled is False
    assert gone.allowed_scopes == ("global",)

    make_integration(bundled, "weather", version="2.0.0")
    catalog = await open_catalog(config_dir)
    await catalog.sync(IntegrationRegistry(discover(bundled)))
    back = catalog.get("weather")
    assert back is not None
    assert back.status == "loaded"
    assert back.version == "2.0.0"
    assert back.enabled is False, "the sync never overwrites what an admin set"
    assert back.allowed_scopes == ("global",)
    assert back.first_seen <= back.last_seen

    on_disk = json.loads((config_dir / ".storage" / CATALOG_KEY).read_text())
    assert on_disk["data"]["integrations"]["weather"]["enabled"] is False


async def test_a_domain_that_fails_to_load_is_listed_with_its_reason(tmp_path: Path) -> None:
    bundled = tmp_path / "integrations"
    make_integration(bundled, "flaky", init="raise RuntimeError('driver missing')\n")
    catalog = await open_catalog(tmp_path / "config")
    await catalog.sync(IntegrationRegistry(discover(bundled)))
    row = catalog.get("flaky")
    assert row is not None
    assert row.status == "failed"
    assert row.reason is not None
    assert "driver missing" in row.reason


async def test_a_duplicate_folder_never_marks_a_domain_not_yet_imported_as_failed(
    tmp_path: Path,
) -> None:
    bundled, extra = tmp_path / "integrations", tmp_path / "extra"
    make_integration(bundled, "porch", version="1.0.0")
    make_integration(extra, "porch", version="9.9.9")  # loses to the bundled folder
    catalog = await open_catalog(tmp_path / "config")
    registry = IntegrationRegistry(scan(bundled, [extra], allow_external=True))
    await catalog.sync(registry)
    row = catalog.get("porch")
    assert row is not None
    assert (row.status, row.version) == ("loaded", "1.0.0")
    assert not registry.complete, "nothing was imported to find that out"


async def test_admin_settings_are_validated(tmp_path: Path) -> None:
    bundled = tmp_path / "integrations"
    make_integration(bundled, "lights")
    catalog = await open_catalog(tmp_path / "config")
    await catalog.sync(IntegrationRegistry(discover(bundled)))
    with pytest.raises(NotFoundError):
        await catalog.set_admin("nothing", enabled=False)
    with pytest.raises(BadRequestError, match="unknown scope"):
        await catalog.set_admin("lights", allowed_scopes=["org"])


async def test_a_damaged_catalog_stops_start_up_instead_of_losing_settings(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    (config_dir / ".storage").mkdir(parents=True)
    path = config_dir / ".storage" / CATALOG_KEY
    path.write_text(json.dumps({"version": 1, "key": CATALOG_KEY, "data": {"rows": []}}))
    with pytest.raises(StorageError, match="is damaged"):
        await open_catalog(config_dir)
