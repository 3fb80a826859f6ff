"""The hub keeps its compiled bytecode even under PYTHONDONTWRITEBYTECODE, and runs where it cannot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(code: str, path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": f"{ROOT}:{path}"}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


def test_importing_the_hub_writes_bytecode_again(tmp_path: Path) -> None:
    (tmp_path / "later.py").write_text("VALUE = 1\n")
    result = run("import hub, later; print(later.VALUE)", tmp_path)
    assert result.returncode == 0, result.stderr
    assert list((tmp_path / "__pycache__").glob("later.*.pyc"))


def test_a_tree_where_bytecode_cannot_be_written_still_imports(tmp_path: Path) -> None:
    (tmp_path / "later.py").write_text("VALUE = 1\n")
    (tmp_path / "__pycache__").write_text("a file, so no cache directory can be made here\n")
    result = run("import hub, later; print(later.VALUE)", tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "1\n", "")
