"""Running ``hub backup …`` as a person does (a process of its own), and reading a config dir back."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.robustness.support_live_hub import REPO

PASSPHRASE = "a backup passphrase that is long"


@dataclass(frozen=True, slots=True)
class Ran:
    """What a command did."""

    code: int
    out: str
    err: str


async def hub_cli(*args: str, env: Mapping[str, str] | None = None) -> Ran:
    """``python -m hub ARGS`` with the test's environment minus any HUB variable, plus ``env``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HUB")}
    environment.update(env or {})
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub",
        *args,
        cwd=REPO,
        env=environment,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(120):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


def count(db: Path, table: str) -> int:
    """Rows of ``table`` in the database file ``db``."""
    conn = sqlite3.connect(db)
    try:
        (rows,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    finally:
        conn.close()
    return int(rows)


def listing(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` with its bytes (to prove nothing changed)."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != "hub.lock"
    }
