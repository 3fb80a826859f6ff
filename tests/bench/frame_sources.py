"""Frame-sources benchmark: what the UI's content security policy costs per request, and per change.

Run: ``python -m tests.bench.frame_sources [--surfaces 500] [--cards 10] [--json FILE]``. A request
reads the cached policy (target ≤ 2 µs); a change of the surfaces recomputes it from every stored
iframe card once (target ≤ 50 ms for 500 dashboards of 10 cards each; the URLs seen before are
cached, so a later change costs less).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hub.api.frame_sources import FrameSources
from hub.core.storage import StorageManager
from hub.integrations.surfaces import Surface, Surfaces
from tests.bench.report import report


def _surface(index: int, cards: int) -> Surface:
    config = {
        "views": [
            {
                "cards": [
                    {"type": "iframe", "url": f"https://host{index}-{card}.example:8443/p?q=1"}
                    for card in range(cards)
                ]
            }
        ]
    }
    return Surface(
        slug=f"board-{index}",
        name=f"Board {index}",
        config=config,
        icon=None,
        description=None,
        show_in_nav=True,
        kind="dashboard",
        owner="someone",
        source_domain=None,
        read_only=False,
        updated_at=0.0,
    )


def main(argv: list[str] | None = None) -> int:
    """Fill the surfaces, then time cached reads and recomputations."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--surfaces", type=int, default=500)
    parser.add_argument("--cards", type=int, default=10)
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hub-bench-frames-") as tmp:
        surfaces = Surfaces(StorageManager(Path(tmp)))
        boards = {f"board-{i}": _surface(i, args.cards) for i in range(args.surfaces)}
        sources = FrameSources(surfaces)
        surfaces._state.reset(dict(boards))
        start = time.perf_counter()
        sources.policy()
        first = time.perf_counter() - start
        recompute = []
        for _ in range(5):
            surfaces._state.reset(dict(boards))  # a fresh mapping, as every commit swaps in
            start = time.perf_counter()
            policy = sources.policy()
            recompute.append(time.perf_counter() - start)
        reads = 100_000
        start = time.perf_counter()
        for _ in range(reads):
            sources.policy()
        per_read = (time.perf_counter() - start) / reads
    report(
        {
            "frame_sources.cached_read": {
                "value": round(per_read * 1e6, 3),
                "unit": "µs",
                "target": 2,
            },
            "frame_sources.first_compute": {
                "value": round(first * 1000, 2),
                "unit": "ms",
                "target": 50,
                "iframe_cards": args.surfaces * args.cards,
            },
            "frame_sources.recompute_median": {
                "value": round(statistics.median(recompute) * 1000, 2),
                "unit": "ms",
                "target": 50,
                "iframe_cards": args.surfaces * args.cards,
            },
            "frame_sources.header_size": {"value": len(policy), "unit": "bytes"},
        },
        args.json,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
