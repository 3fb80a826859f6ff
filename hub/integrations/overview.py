"""One view of every integration, for ``hub integrations`` and ``GET /api/integrations``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hub.integrations.catalog import CatalogRow
from hub.integrations.registry import IntegrationRegistry


def overview(registry: IntegrationRegistry, rows: Iterable[CatalogRow]) -> dict[str, Any]:
    """Loaded, failed and vanished integrations with their catalog settings, and skipped folders."""
    catalog = {row.domain: row for row in rows}
    items: list[dict[str, Any]] = []
    for item in registry:
        items.append(
            _item(item.manifest.model_dump(mode="json"), "loaded", None, catalog.get(item.domain))
            | {
                "source": item.source,
                "path": str(item.path),
                "missing_requirements": list(item.missing_requirements),
            }
        )
    listed = set(registry.domains)
    for skipped in registry.skipped:
        if skipped.domain is None or skipped.manifest is None or skipped.domain in listed:
            continue
        listed.add(skipped.domain)
        reason = f"{skipped.reason}: {skipped.message}"
        manifest = skipped.manifest.model_dump(mode="json")
        items.append(
            _item(manifest, "failed", reason, catalog.get(skipped.domain))
            | {"source": None, "path": str(skipped.path), "missing_requirements": []}
        )
    for domain, row in sorted(catalog.items()):
        if domain not in listed:
            manifest = {"domain": domain, "name": row.name, "version": row.version}
            items.append(
                _item(manifest, "not_found", None, row)
                | {"source": None, "path": None, "missing_requirements": []}
            )
    skipped_folders = [
        {
            "path": str(s.path),
            "domain": s.domain,
            "reason": str(s.reason),
            "message": s.message,
        }
        for s in registry.skipped
    ]
    return {"integrations": items, "skipped": skipped_folders}


def _item(
    manifest: dict[str, Any], status: str, reason: str | None, row: CatalogRow | None
) -> dict[str, Any]:
    return {
        "domain": manifest["domain"],
        "name": manifest.get("name", manifest["domain"]),
        "version": manifest.get("version"),
        "integration_type": manifest.get("integration_type"),
        "iot_class": manifest.get("iot_class"),
        "trust_tier": manifest.get("trust_tier"),
        "quality_scale": manifest.get("quality_scale"),
        "config_flow": manifest.get("config_flow"),
        "single_instance": manifest.get("single_instance"),
        "default_scope": manifest.get("default_scope"),
        "status": status,
        "reason": reason,
        "enabled": True if row is None else row.enabled,
        "allowed_scopes": ["user", "global"] if row is None else list(row.allowed_scopes),
        "event_types": [] if row is None else list(row.event_types),
        "relation_types": [] if row is None else list(row.relation_types),
        "manifest": manifest if status != "not_found" else None,
    }
