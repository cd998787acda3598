"""`twin run` warns about lines whose results cannot be trusted as they stand."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from twin.cli import app

OVERLOADED = """
name: overloaded
seed: 1
horizon: 20000
replications: 2
arrivals: {interarrival: {dist: exponential, mean: 0.8}}
stations:
  - id: M
    process_time: {dist: exponential, mean: 1}
"""

STABLE = OVERLOADED.replace("mean: 0.8", "mean: 1.25").replace("overloaded", "stable")

LOOP = """
name: loop
horizon: 10h
replications: 2
products: [{id: A, route: [M1, M2, M1]}]
stations:
  - {id: M1, input_buffer: 1, process_time: {dist: exponential, mean: 60s}}
  - {id: M2, input_buffer: 1, process_time: {dist: exponential, mean: 60s}}
"""


def _run(tmp_path: Path, text: str) -> str:
    path = tmp_path / "line.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(path), "--workers", "1"])
    assert result.exit_code == 0, result.output
    return result.output


def test_overloaded_line_is_flagged(tmp_path: Path) -> None:
    """More arrivals than capacity: the run says WIP is still growing."""
    assert "WIP is still growing" in _run(tmp_path, OVERLOADED)


def test_stable_line_is_not_flagged(tmp_path: Path) -> None:
    """A stable M/M/1 line at rho 0.8 gets no warning."""
    output = _run(tmp_path, STABLE)
    assert "warning" not in output


def test_deadlocked_loop_is_flagged(tmp_path: Path) -> None:
    """A route that revisits a station through full buffers deadlocks, and the run says so."""
    output = _run(tmp_path, LOOP)
    assert "deadlocked in 2 of 2 replications" in output
