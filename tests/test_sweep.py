"""`twin sweep`: full factorial grids, --param errors, and --precision replications."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lines import invoke, two_station

from scenarios.batch import evaluate_models
from scenarios.figures import headline, neck_of
from scenarios.loader import loads
from scenarios.store import Store
from scenarios.sweep import Param, model_at, parse_param, points
from twin.errors import ScenarioError, UsageError
from twin.stats import summarize

LINE = two_station(name="sweep line", seed=8, horizon=1500, replications=3)


@pytest.fixture
def line_file(scenario_file: Callable[..., Path]) -> Path:
    return scenario_file(LINE, "sweep.yaml")


# -- parameters and grids -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "param"),
    [
        ("stations.M2.input_buffer=0,1,2", Param("stations.M2.input_buffer", (0, 1, 2))),
        (" horizon = 5min, 2h ", Param("horizon", ("5min", "2h"))),
        ("stations.M1.scrap_rate=0.02", Param("stations.M1.scrap_rate", (0.02,))),
        ("stations.*.servers=1,2", Param("stations.*.servers", (1, 2))),
    ],
)
def test_parse_param_reads_yaml_scalars(text: str, param: Param) -> None:
    """PATH=V1,V2 gives the path and its values read as YAML (ints, floats, durations)."""
    assert parse_param(text) == param


@pytest.mark.parametrize(
    "text", ["stations.M2.input_buffer", "=1,2", "horizon=", "horizon=  ", "horizon=1,,2", "a=1,"]
)
def test_parse_param_errors_name_the_option(text: str) -> None:
    """A --param without '=', without a path or with an empty value is a UsageError."""
    with pytest.raises(UsageError, match="--param"):
        parse_param(text)


def test_points_are_the_full_factorial() -> None:
    """3 x 2 values make 6 points, the first parameter varying slowest, named PATH=V;..."""
    grid = points([Param("a", (0, 1, 2)), Param("b", ("x", "y"))])
    assert [p.name for p in grid] == [
        "a=0;b=x",
        "a=0;b=y",
        "a=1;b=x",
        "a=1;b=y",
        "a=2;b=x",
        "a=2;b=y",
    ]
    assert grid[3].settings == (("a", 1), ("b", "y"))
    assert len(points([Param("a", (1, 2)), Param("b", (1, 2, 3)), Param("c", (1, 2))])) == 12


def test_model_at_applies_the_settings() -> None:
    """model_at() gives the validated scenario with the point's values."""
    s = loads(LINE)
    grid = points([parse_param("stations.M2.input_buffer=0,4"), parse_param("horizon=1h")])
    models = [model_at(s, p) for p in grid]
    assert [m.stations[1].input_buffer for m in models] == [0, 4]
    assert {m.horizon for m in models} == {3600.0}
    assert s.stations[1].input_buffer == 0 and s.horizon == 1500.0


@pytest.mark.parametrize(
    ("param", "words"),
    [
        ("stations.M7.input_buffer=1", ["M7", "--param"]),
        ("stations.M1.buffer=1", ["'buffer'", "--param"]),
        ("stations.M1.input_buffer=-1", ["input_buffer", "greater than or equal to 0"]),
        ("stations.M1.servers=two", ["servers", "integer"]),
    ],
)
def test_model_at_rejects_a_bad_point(param: str, words: list[str]) -> None:
    """A path that does not exist, or a value the field refuses, is a ScenarioError."""
    s = loads(LINE)
    with pytest.raises(ScenarioError) as info:
        model_at(s, points([parse_param(param)])[0])
    for word in words:
        assert word in str(info.value)


# -- the command ----------------------------------------------------------------------------


def test_sweep_command_end_to_end(line_file: Path, tmp_path: Path) -> None:
    """`twin sweep` runs every point, writes sweep.json and sweep.csv, one row per point."""
    out, json_path = tmp_path / "run", tmp_path / "sweep.json"
    result = invoke(
        "sweep", str(line_file), "--param", "stations.M2.input_buffer=0,5",
        "--param", "stations.M1.process_time.mean=1,0.8", "--reps", "2",
        "--out", str(out), "--json", str(json_path), "--workers", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "sweep.json").read_text())
    assert json.loads(json_path.read_text()) == doc
    assert doc["parameters"] == {
        "stations.M2.input_buffer": [0, 5],
        "stations.M1.process_time.mean": [1, 0.8],
    }
    assert [r["point"] for r in doc["points"]] == [
        "stations.M2.input_buffer=0;stations.M1.process_time.mean=1",
        "stations.M2.input_buffer=0;stations.M1.process_time.mean=0.8",
        "stations.M2.input_buffer=5;stations.M1.process_time.mean=1",
        "stations.M2.input_buffer=5;stations.M1.process_time.mean=0.8",
    ]
    for row in doc["points"]:
        assert row["replications"] == 2
        for name in ("throughput_per_hour", "oee", "lead_time_s", "wip", "scrap_rate"):
            assert len(row[name]["values"]) == 2
    tp = [r["throughput_per_hour"]["mean"] for r in doc["points"]]
    assert tp[2] > tp[0] + 400 and tp[3] > tp[1] + 400  # a buffer before M2 helps a lot
    with (out / "sweep.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4
    assert [r["stations.M2.input_buffer"] for r in rows] == ["0", "0", "5", "5"]
    assert float(rows[3]["throughput_per_hour.mean"]) == pytest.approx(tp[3])
    assert json.loads((out / "experiment.json").read_text())["complete"] is True
    assert "sweep line: sweep" in result.stdout


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--param", "stations.M2.input_buffer"], "--param"),
        (["--param", "stations.M2.input_buffer="], "--param"),
        (["--param", "stations.M2.input_buffer=1,,2"], "--param"),
        (["--param", "stations.M9.input_buffer=1,2"], "--param"),
        (["--param", "stations.M2.input_buffer=1", "--precision", "0"], "--precision"),
        (["--param", "stations.M2.input_buffer=1", "--max-reps", "1"], "--max-reps"),
        (["--param", "stations.M2.input_buffer=1", "--workers", "0"], "--workers"),
    ],
)
def test_sweep_command_bad_option_exits_2(
    args: list[str], option: str, line_file: Path, tmp_path: Path
) -> None:
    """A malformed --param, a path that does not exist or a bad option exits 2 naming it."""
    result = invoke("sweep", str(line_file), *args, "--out", str(tmp_path / "run"))
    assert result.exit_code == 2, result.output
    assert option in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_sweep_command_needs_a_param(line_file: Path) -> None:
    """`twin sweep` without --param is refused (click's usage error, exit 2)."""
    result = invoke("sweep", str(line_file))
    assert result.exit_code == 2
    assert "--param" in result.output


# -- --precision ----------------------------------------------------------------------------


def models() -> dict[str, Any]:
    s = loads(LINE)
    return {p.name: model_at(s, p) for p in points([parse_param("stations.M2.input_buffer=0,2")])}


def test_loose_precision_stops_at_the_first_replications(tmp_path: Path) -> None:
    """A target every figure already meets adds no replication."""
    with Store(tmp_path / "store.sqlite") as store:
        batch = evaluate_models(models(), 3, store, precision=0.5, max_replications=50)
        assert batch.replications == 3
        assert all(len(reps) == 3 for reps in batch.results.values())
        assert (batch.ran, batch.reused) == (6, 0)
        assert store.count() == 6


def test_tight_precision_adds_replications_up_to_the_cap(tmp_path: Path) -> None:
    """A target no figure can meet adds replications until --max-reps."""
    with Store(tmp_path / "store.sqlite") as store:
        batch = evaluate_models(models(), 3, store, precision=1e-5, max_replications=8)
        assert batch.replications == 8
        assert all(sorted(reps) == list(range(8)) for reps in batch.results.values())
        assert store.count() == 16
        assert batch.ran == 16


def test_precision_is_met_when_it_stops_early(tmp_path: Path) -> None:
    """With a reachable target it stops before the cap with every headline figure precise."""
    target = 0.05
    ms = models()
    with Store(tmp_path / "store.sqlite") as store:
        batch = evaluate_models(ms, 3, store, precision=target, max_replications=200)
    assert 3 < batch.replications < 200
    assert batch.ran == 2 * batch.replications
    for name, reps in batch.results.items():
        assert len(reps) == batch.replications
        for figure, extract in headline(neck_of(reps)).items():
            summary = summarize([extract(reps[r]) for r in sorted(reps)])
            if summary["mean"]:
                assert summary["ci95_halfwidth"] <= target * abs(summary["mean"]), (name, figure)


@pytest.mark.parametrize(("precision", "reps"), [("0.5", 2), ("0.00001", 5)])
def test_precision_option_of_the_command(
    precision: str, reps: int, line_file: Path, tmp_path: Path
) -> None:
    """`--precision` with a loose target keeps --reps; a tight one goes to --max-reps."""
    out = tmp_path / "run"
    result = invoke(
        "sweep", str(line_file), "--param", "stations.M2.input_buffer=0,2", "--reps", "2",
        "--precision", precision, "--max-reps", "5", "--out", str(out), "--workers", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "sweep.json").read_text())
    assert [row["replications"] for row in doc["points"]] == [reps, reps]
    assert f"{2 * reps} replications run, 0 reused" in result.stderr
