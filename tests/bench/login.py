"""Login benchmark: what one sign-in costs with the chosen password hash (Argon2id, 19 MiB, t=2).

Run: ``python -m tests.bench.login [--runs 20] [--json FILE]``; target ≤ 250 ms on this machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from hub.auth.passwords import hash_password, verify_password
from tests.bench.report import report


def main(argv: list[str] | None = None) -> int:
    """Hash once, then time verifications as a login does them."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)
    stored = hash_password("a good long password")
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        assert verify_password("a good long password", stored)
        times.append(time.perf_counter() - start)
    algorithm = stored.split("$")[1]
    report(
        {
            "login.hash_verify_median": {
                "value": round(statistics.median(times) * 1000, 1),
                "unit": "ms",
                "target": 250,
                "algorithm": algorithm,
            },
            "login.hash_verify_max": {"value": round(max(times) * 1000, 1), "unit": "ms"},
        },
        args.json,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
