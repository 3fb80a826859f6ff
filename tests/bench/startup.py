"""Start-up benchmark: process spawn to the first 200 from ``/api/health``, then idle resident memory.

Run: ``python -m tests.bench.startup [--runs 5] [--idle 10] [--json FILE]``. Each run starts a real
``python -m hub run`` on a fresh config directory and a free port on 127.0.0.1, so first-start work
(template, master key, ``hub.db``) is included. Figures are medians over the runs.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.bench.report import report


@dataclass(frozen=True, slots=True)
class Run:
    """One start: seconds to the first 200, RSS after idling, seconds to exit on SIGTERM."""

    start_s: float
    rss_mb: float
    stop_s: float
    exit_code: int


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def health_ok(port: int) -> bool:
    """Whether ``/api/health`` answers 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/api/health")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB, from ``/proc``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def start_hub(
    config_dir: str | Path, port: int, env: Mapping[str, str], timeout: float = 30.0
) -> tuple[subprocess.Popen[bytes], float]:
    """Spawn ``hub run`` on 127.0.0.1 and wait for ``/api/health``: the process, seconds to health.

    A hub that exits or does not answer in time is killed and a ``RuntimeError`` says which.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hub",
            "run",
            "--config",
            str(config_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not health_ok(port):
            if proc.poll() is not None:
                raise RuntimeError(f"hub exited with {proc.returncode} before answering")
            if time.perf_counter() - started > timeout:
                raise RuntimeError("hub did not answer /api/health in time")
            time.sleep(0.002)
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        raise
    return proc, time.perf_counter() - started


def stop_hub(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if it has not exited within 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def one_run(idle: float, timeout: float = 30.0) -> Run:
    """Start a hub on a fresh config directory, wait for health, idle, stop it with SIGTERM."""
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB")}
        proc, start_s = start_hub(tmp, free_port(), env, timeout)
        try:
            time.sleep(idle)
            rss = rss_mb(proc.pid)
            stopping = time.perf_counter()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=timeout)
            return Run(start_s, rss, time.perf_counter() - stopping, code)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def figures(runs: list[Run]) -> dict[str, dict[str, Any]]:
    """Medians (and the spread) with units, as ``tests/bench/run.py`` will gather them."""

    def median(values: list[float]) -> float:
        return round(statistics.median(values), 4)

    return {
        "startup.time_to_health": {
            "value": median([r.start_s for r in runs]),
            "unit": "s",
            "min": round(min(r.start_s for r in runs), 4),
            "max": round(max(r.start_s for r in runs), 4),
            "target": 0.5,
        },
        "startup.idle_rss": {
            "value": round(statistics.median([r.rss_mb for r in runs]), 1),
            "unit": "MB",
            "target": 60,
        },
        "startup.time_to_exit_on_sigterm": {"value": median([r.stop_s for r in runs]), "unit": "s"},
        "startup.clean_exits": {
            "value": sum(r.exit_code == 0 for r in runs),
            "unit": "runs",
            "of": len(runs),
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds idle before reading RSS")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)
    runs = []
    for index in range(args.runs):
        run = one_run(args.idle)
        runs.append(run)
        print(
            f"run {index + 1}: health in {run.start_s * 1000:.0f} ms, RSS {run.rss_mb:.1f} MB, "
            f"exit {run.exit_code} in {run.stop_s * 1000:.0f} ms",
            file=sys.stderr,
        )
    result = figures(runs)
    report(result, args.json)
    return 0 if all(r.exit_code == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
