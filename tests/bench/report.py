"""How every benchmark reports: a table on stdout, and the same figures as JSON when asked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Figures = dict[str, dict[str, Any]]


def report(figures: Figures, json_path: str | None) -> None:
    """Print ``figures`` (each ``{"value", "unit", ...}``) and write them to ``json_path`` if given."""
    print(f"{'figure':34s} {'value':>10s}  unit")
    for name, figure in figures.items():
        print(f"{name:34s} {figure['value']:>10}  {figure['unit']}")
    if json_path:
        Path(json_path).write_text(json.dumps({"benchmarks": figures}, indent=2) + "\n")
