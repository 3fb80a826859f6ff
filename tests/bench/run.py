"""Every benchmark of the project in one run: a table of figures, and JSON to compare runs.

Run: ``python -m tests.bench.run [--quick] [--only NAME ...] [--json FILE] [--compare OLD.json]``.
Each benchmark runs in a process of its own (so one's memory never counts against another's) and
writes its figures as JSON; this gathers them, prints one table with each figure's unit, target and
whether it was met, and with ``--compare`` the change from an earlier run's file. ``--quick`` runs
shorter versions for a smoke check; the figures of a full run are the ones to compare.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

Figures = dict[str, dict[str, Any]]

BENCHMARKS: Final[dict[str, tuple[list[str], list[str]]]] = {
    # name: (full arguments, quick arguments)
    "startup": ([], ["--runs", "2", "--idle", "2"]),
    "startup_entries": ([], ["--entries", "500", "--runs", "1"]),
    "discovery": ([], ["--runs", "2"]),
    "flows": ([], ["--flows", "50", "--entries", "200"]),
    "entities": ([], ["--records", "2000"]),
    "webhooks": ([], ["--seconds", "3"]),
    "webhook_presets": ([], ["--seconds", "3", "--dedupe-rounds", "300", "--claimed", "10000"]),
    "entity_list": ([], ["--entities", "1000", "--calls", "20"]),
    "ws_memory": ([], ["--sockets", "100", "--seconds", "3", "--after", "3"]),
    "purge": ([], ["--rows", "100000", "--entities", "200"]),
    "backup": ([], ["--entities", "5000", "--history", "50000"]),
    "login": ([], ["--runs", "5"]),
    "fanout": ([], ["--clients", "5", "--changes", "300", "--pings", "1000"]),
    "agent": ([], ["--runs", "100", "--idle", "2"]),
    "ui": ([], ["--seconds", "2", "--entities", "300"]),
    "comms": ([], ["--backlog", "1000", "--deliveries", "5", "--listeners", "5"]),
    "signal": ([], ["--deliveries", "5", "--burst", "200"]),
    "frame_sources": ([], ["--surfaces", "50"]),
    "sandbox": ([], ["--runs", "30"]),
    "mcp_server": ([], ["--calls", "50"]),
    "mcp_client": ([], ["--calls", "50"]),
    "workflows": (
        [],
        ["--pings", "50", "--seconds", "2", "--workflows", "50", "--runs", "1", "--idle", "1"],
    ),
    "memory": (
        [],
        ["--nodes", "2000", "--facts", "10000", "--recalls", "50", "--entities", "1000"],
    ),
}

HIGHER_IS_BETTER: Final = (
    "req/s",
    "events/s",
    "actions/s",
    "round trips/s",
    "rows/s",
    "runs",
    "entries",
    "messages",
    "listeners",
)
"""Higher is better for these units; for every other unit (time, memory, size), lower is."""


def run_one(name: str, args: list[str], timeout: float) -> tuple[Figures, str | None]:
    """Run one benchmark in a fresh process; its figures, or the reason it failed."""
    with tempfile.TemporaryDirectory(prefix=f"hub-bench-run-{name}-") as tmp:
        out = Path(tmp) / "figures.json"
        command = [sys.executable, "-m", f"tests.bench.{name}", *args, "--json", str(out)]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return {}, f"took longer than {timeout:g} s"
        if not out.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return {}, f"exit {done.returncode}: {tail[0]}"
        figures: Figures = json.loads(out.read_text())["benchmarks"]
        return figures, None if done.returncode == 0 else f"exit {done.returncode}"


def verdict(figure: dict[str, Any]) -> str:
    """``met`` / ``missed`` against the figure's target, or blank when it has none."""
    target, value = figure.get("target"), figure.get("value")
    if not isinstance(target, int | float) or not isinstance(value, int | float):
        return ""
    better = figure.get("unit") in HIGHER_IS_BETTER
    return "met" if (value >= target if better else value <= target) else "MISSED"


def change(figure: dict[str, Any], old: dict[str, Any] | None) -> str:
    """The change from an earlier run, in percent."""
    if old is None or not isinstance(old.get("value"), int | float) or not old["value"]:
        return ""
    value = figure.get("value")
    if not isinstance(value, int | float):
        return ""
    return f"{(value - old['value']) / abs(old['value']) * 100:+.1f}%"


def table(figures: Figures, previous: Figures) -> str:
    """The figures as aligned text."""
    lines = [f"{'figure':40s} {'value':>12s} {'unit':12s} {'target':>8s} {'':7s} {'change':>8s}"]
    for name, figure in figures.items():
        target = figure.get("target", "")
        lines.append(
            f"{name:40s} {figure.get('value')!s:>12s} {figure.get('unit', '')!s:12s} "
            f"{target!s:>8s} {verdict(figure):7s} {change(figure, previous.get(name)):>8s}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks; exit 1 if any of them failed to run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, for a smoke check")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), metavar="NAME")
    parser.add_argument("--json", metavar="FILE", help="write every figure with its unit")
    parser.add_argument("--compare", metavar="FILE", help="an earlier run's --json file")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per benchmark")
    args = parser.parse_args(argv)
    previous: Figures = {}
    if args.compare:
        previous = json.loads(Path(args.compare).read_text())["benchmarks"]
    gathered: Figures = {}
    failures: dict[str, str] = {}
    for name in args.only or list(BENCHMARKS):
        full, quick = BENCHMARKS[name]
        start = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        figures, failure = run_one(name, quick if args.quick else full, args.timeout)
        gathered.update(figures)
        if failure:
            failures[name] = failure
        print(f"  {name}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    print(table(gathered, previous))
    for name, failure in failures.items():
        print(f"{name} failed: {failure}")
    if args.json:
        meta = {"quick": args.quick, "failures": failures, "at": time.time()}
        document = {"benchmarks": gathered, "run": meta}
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
