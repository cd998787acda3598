"""`twin run --plan`: simulate the line as an upgrade plan would leave it."""

from __future__ import annotations

import json
from pathlib import Path

from lines import two_station
from typer.testing import CliRunner

from twin.cli import app

LINE = two_station(
    name="plan line",
    seed=5,
    horizon=20000,
    replications=3,
    retrofits="""\
  - id: core
    core: true
    changes: {stations.M2.input_buffer: 5}
  - id: faster
    requires: [core]
    changes: {stations.M1.process_time: {scale: 0.5}}
""",
)


def _run(tmp_path: Path, *args: str) -> tuple[int, str, dict[str, object] | None]:
    path = tmp_path / "line.yaml"
    path.write_text(LINE, encoding="utf-8")
    out = tmp_path / "r.json"
    result = CliRunner().invoke(app, ["run", str(path), "--json", str(out), *args])
    doc = json.loads(out.read_text()) if out.exists() else None
    return result.exit_code, result.output, doc


def test_plan_changes_the_simulated_line(tmp_path: Path) -> None:
    """The plan's changes are what runs: a bigger buffer lifts throughput toward 7/8 per s."""
    code, _, base = _run(tmp_path, "--workers", "1")
    assert code == 0 and base is not None
    code, output, planned = _run(tmp_path, "--workers", "1", "--plan", "core")
    assert code == 0 and planned is not None
    assert "plan line [core]" in output
    scenario = planned["scenario"]
    assert isinstance(scenario, dict)
    assert scenario["stations"][1]["input_buffer"] == 5
    tp_base = base["line"]["throughput_per_hour"]["mean"]  # type: ignore[index]
    tp_plan = planned["line"]["throughput_per_hour"]["mean"]  # type: ignore[index]
    assert abs(tp_base - 2400) < 60
    assert abs(tp_plan - 3150) < 60


def test_plan_missing_a_requirement_is_refused(tmp_path: Path) -> None:
    """A plan without what its retrofits require exits 2 and says what is missing."""
    code, output, doc = _run(tmp_path, "--plan", "faster")
    assert code == 2
    assert "requires core" in output
    assert doc is None


def test_unknown_retrofit_is_refused(tmp_path: Path) -> None:
    """An unknown retrofit name exits 2 and lists the known ones."""
    code, output, _ = _run(tmp_path, "--plan", "core+turbo")
    assert code == 2
    assert "unknown retrofit 'turbo'" in output and "core, faster" in output
