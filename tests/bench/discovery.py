"""Discovery benchmark: find, validate, order and import 100 generated minimal integrations.

Run: ``python -m tests.bench.discovery [--count 100] [--runs 5] [--json FILE]``. Each run is a fresh
process, so imports are real; the first run also compiles the modules (no ``__pycache__`` yet), the
later ones are what every start of the hub pays.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.bench.report import report

INIT = '''"""Generated integration {index}."""

from hub.integrations.integration import Integration

from .tools import describe


class Generated(Integration):
    """Integration {index}."""

    label = describe()


INTEGRATION = Generated()
'''

TOOLS = '''"""Generated helpers."""


def describe() -> str:
    """A label."""
    return "generated {index}"
'''

MEASURE = """
import sys, time
from pathlib import Path
start = time.perf_counter()
from hub.integrations.loader import discover

imported = time.perf_counter()
result = discover(Path(sys.argv[1]))
done = time.perf_counter()
assert len(result.loaded) == int(sys.argv[2]), result.skipped
print(imported - start, done - imported)
"""


def generate(root: Path, count: int) -> None:
    """Write ``count`` integrations, each with a dependency on the previous tenth for ordering work."""
    for index in range(count):
        domain = f"generated_{index:03d}"
        folder = root / domain
        folder.mkdir(parents=True)
        deps = [f"generated_{index - 10:03d}"] if index >= 10 else []
        after = [f"generated_{index + 1:03d}"] if index % 7 == 0 and index + 1 < count else []
        (folder / "manifest.yaml").write_text(
            f"domain: {domain}\nname: Generated {index}\nversion: '1.0.{index}'\n"
            f"iot_class: local_polling\ndependencies: {deps}\nafter_dependencies: {after}\n"
        )
        (folder / "__init__.py").write_text(INIT.format(index=index))
        (folder / "tools.py").write_text(TOOLS.format(index=index))


def measure(root: Path, count: int) -> tuple[float, float]:
    """(import of the loader, discovery) in seconds, in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(root), str(count)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[0]), float(out[1])


def figures(cold: float, warm: list[float], count: int) -> dict[str, dict[str, Any]]:
    """The figures with units."""
    return {
        "discovery.cold": {"value": round(cold, 4), "unit": "s", "integrations": count},
        "discovery.warm": {
            "value": round(statistics.median(warm), 4),
            "unit": "s",
            "integrations": count,
            "target": 0.5,
        },
        "discovery.per_integration": {
            "value": round(statistics.median(warm) / count * 1000, 3),
            "unit": "ms",
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hub-bench-discovery-") as tmp:
        root = Path(tmp)
        generate(root, args.count)
        cold = measure(root, args.count)[1]
        warm = [measure(root, args.count)[1] for _ in range(args.runs)]
    result = figures(cold, warm, args.count)
    report(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
