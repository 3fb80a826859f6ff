"""Build integration folders on disk for loader tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml

PLAIN_INIT = """
from hub.integrations.integration import Integration


class Plain(Integration):
    pass


INTEGRATION = Plain()
"""


def make_integration(
    root: Path,
    domain: str,
    *,
    init: str | None = PLAIN_INIT,
    manifest: dict[str, object] | str | None = None,
    files: dict[str, str] | None = None,
    **fields: object,
) -> Path:
    """Write ``root/<domain>/`` with a manifest (``fields`` merged into a minimal one) and modules."""
    folder = root / domain
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(manifest, str):
        (folder / "manifest.yaml").write_text(textwrap.dedent(manifest))
    else:
        data: dict[str, object] = {"domain": domain, "name": domain.replace("_", " ").title()}
        data.update(manifest or {})
        data.update(fields)
        (folder / "manifest.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    if init is not None:
        (folder / "__init__.py").write_text(textwrap.dedent(init))
    for name, text in (files or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return folder
