"""The benchmark runner runs a benchmark in its own process and gathers comparable figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench import run


def test_the_runner_writes_every_figure_with_its_unit_and_compares_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "first.json"
    assert run.main(["--only", "login", "--quick", "--json", str(first)]) == 0
    figures = json.loads(first.read_text())["benchmarks"]
    assert figures, "the login benchmark reported figures"
    for name, figure in figures.items():
        assert name.startswith("login."), name
        assert isinstance(figure["value"], int | float), name
        assert figure["unit"], name
    table = capsys.readouterr().out
    assert "login." in table
    assert "met" in table

    second = tmp_path / "second.json"
    assert (
        run.main(["--only", "login", "--quick", "--json", str(second), "--compare", str(first)])
        == 0
    )
    assert "%" in capsys.readouterr().out, "the change from the first run is shown"


def test_a_failing_benchmark_is_reported_not_hidden(tmp_path: Path) -> None:
    figures, failure = run.run_one("no_such_benchmark", [], timeout=60)
    assert figures == {}
    assert failure is not None
    assert "exit 1" in failure


def test_targets_are_judged_in_the_right_direction() -> None:
    assert run.verdict({"value": 2.0, "unit": "ms", "target": 3}) == "met"
    assert run.verdict({"value": 4.0, "unit": "ms", "target": 3}) == "MISSED"
    assert run.verdict({"value": 2900, "unit": "req/s", "target": 3000}) == "MISSED"
    assert run.verdict({"value": 5, "unit": "runs"}) == ""
