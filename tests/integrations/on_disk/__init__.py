"""Test integrations as real folders that ruff and mypy see; ``install`` copies one where a hub loads it."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent


def install(root: Path, folder: str, domain: str | None = None, **manifest: object) -> Path:
    """Copy ``folder`` to ``root/<domain>``, its manifest's domain changed and ``manifest`` merged."""
    domain = domain or folder
    target = root / domain
    shutil.copytree(HERE / folder, target, ignore=shutil.ignore_patterns("__pycache__"))
    path = target / "manifest.yaml"
    data = yaml.safe_load(path.read_text())
    data.update(domain=domain, **manifest)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return target
