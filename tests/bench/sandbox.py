"""Sandbox benchmark: the built-in bubblewrap provider, for real, as ``run_in_sandbox`` uses it.

Run: ``python -m tests.bench.sandbox [--runs 200] [--json FILE]``.

- ``sandbox_echo_p50_ms`` / ``_p90_ms``: ``echo`` in a fresh sandbox (namespaces, binds, limits),
  from the call until its exit code and output are back; the target is a median of at most 100 ms.
- ``sandbox_python_p50_ms``: the same for ``python3 -c 'print(1)'`` (the interpreter's own start).
- ``sandbox_fork_bomb_s``: a fork bomb, with a 2 s wall clock, until the call returns and every
  process of it is gone.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from hub.agent.sandbox.bubblewrap import BubblewrapProvider
from hub.config import SandboxConfig
from hub.integrations.sandbox import SandboxProgram
from tests.bench.report import Figures, report

BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"


async def timings(sandbox: BubblewrapProvider, program: SandboxProgram, runs: int) -> list[float]:
    """Milliseconds of each of ``runs`` round trips; each must succeed."""
    found = []
    for _ in range(runs):
        start = time.perf_counter()
        result = await sandbox.run(program)
        found.append((time.perf_counter() - start) * 1000)
        assert result.exit_code == 0, result
    return found


async def measure(runs: int) -> Figures:
    """Every figure of this benchmark."""
    sandbox = BubblewrapProvider(SandboxConfig(provider="bubblewrap", max_processes=16))
    if not await sandbox.available():
        raise SystemExit(f"the sandbox cannot start: {sandbox.unavailable_reason}")
    echo = await timings(sandbox, SandboxProgram(command="echo hello"), runs)
    python = await timings(
        sandbox, SandboxProgram(command="print(1)", language="python"), max(5, runs // 10)
    )
    start = time.perf_counter()
    bomb = await sandbox.run(SandboxProgram(script=BOMB, language="python", timeout_seconds=2))
    bomb_s = time.perf_counter() - start
    assert bomb.killed is not None, bomb
    assert (await sandbox.run(SandboxProgram(command="echo after"))).stdout == "after\n"
    deciles = statistics.quantiles(echo, n=10)
    return {
        "sandbox_echo_p50_ms": {
            "value": round(statistics.median(echo), 1),
            "unit": "ms",
            "target": 100,
        },
        "sandbox_echo_p90_ms": {"value": round(deciles[8], 1), "unit": "ms"},
        "sandbox_python_p50_ms": {"value": round(statistics.median(python), 1), "unit": "ms"},
        "sandbox_fork_bomb_s": {"value": round(bomb_s, 2), "unit": "s"},
    }


def main() -> None:
    """Parse the arguments, measure, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    report(asyncio.run(measure(args.runs)), args.json)


if __name__ == "__main__":
    main()
