"""A SIGKILL in the middle of a large sync leaves the store as it was before that sync, or after."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub.entities.search_index import index_pending
from tests.entities import sync_writer
from tests.integrations.helpers import make_integration

CRASHY = """
from hub.integrations.entities import EntityStateTypeDescriptor
from hub.integrations.integration import Integration

ITEM = EntityStateTypeDescriptor(key="item", name="Item", rag=True)


class Crashy(Integration):
    def entity_types(self):
        return {"item": ITEM}


INTEGRATION = Crashy()
"""

ROUNDS = int(os.environ.get("HUB_CRASH_ROUNDS", "6"))


def check_whole(path: Path) -> int:
    """The database is intact and holds exactly one sync's version; returns that version."""
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        versions = {row[0] for row in conn.execute("SELECT DISTINCT state FROM entities")}
        count = conn.execute("SELECT count(*) FROM entities").fetchone()[0]
        index_pending(conn)  # what the next start indexes before anything is searched
        fts = conn.execute("SELECT count(*) FROM entity_search").fetchone()[0]
        stray = conn.execute(
            "SELECT count(*) FROM entity_search s LEFT JOIN entities e ON e.id = s.rowid "
            "WHERE e.id IS NULL OR e.name != s.name"
        ).fetchone()[0]
        assert stray == 0, "the search index holds an entity that is gone, or an old name"
    if not versions:
        return 0
    assert len(versions) == 1, f"a torn sync: states {sorted(versions)[:5]}"
    version = int(next(iter(versions)))
    assert count == sync_writer.COUNT - (version % 3)
    assert fts == count, "the search index moved with its entities"
    return version


@pytest.mark.slow
def test_sigkill_during_large_syncs_never_tears_the_store(tmp_path: Path) -> None:
    make_integration(tmp_path / "integrations", "crashy", init=CRASHY)
    writer = Path(sync_writer.__file__)
    seed = random.randrange(1 << 30)
    chance = random.Random(seed)
    last = 0
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for round_ in range(ROUNDS):
        proc = subprocess.Popen(
            [sys.executable, str(writer), str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # one version committed in this round
        assert first.strip(), f"round {round_}: the writer never committed (seed {seed})"
        time.sleep(chance.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        version = check_whole(tmp_path / "hub.db")
        assert version >= last, f"round {round_}: went back from {last} to {version} (seed {seed})"
        last = version
