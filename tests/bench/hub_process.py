"""A real ``python -m hub run`` for benchmarks: fresh config dir, one external integration, loopback."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.bench.startup import free_port, start_hub, stop_hub


@contextmanager
def hub_process(domain: str, init: str, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Start a hub with integration ``domain`` (its ``__init__.py`` is ``init``); yields its base URL."""
    with tempfile.TemporaryDirectory(prefix=f"hub-bench-{domain}-") as tmp:
        root = Path(tmp)
        folder = root / "external" / domain
        folder.mkdir(parents=True)
        (folder / "manifest.yaml").write_text(f"domain: {domain}\nname: {domain}\n")
        (folder / "__init__.py").write_text(init)
        port = free_port()
        environment = {k: v for k, v in os.environ.items() if not k.startswith("HUB")}
        environment.update(
            {
                "HUB__INTEGRATIONS__ALLOW_EXTERNAL": "true",
                "HUB__INTEGRATIONS__EXTERNAL_DIRS": f"[{root / 'external'}]",
                "HUB__LOGGER__DEFAULT": "error",
                **(env or {}),
            }
        )
        hub, _ = start_hub(root / "config", port, environment)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            stop_hub(hub)
