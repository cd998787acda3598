"""The `twin` command line: run, scenarios, validate; files it writes; bad options; Ctrl-C."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lines import invoke

from scenarios.catalog import bundled
from scenarios.loader import load
from scenarios.overrides import override

TWO_STATION = """\
name: two-station line
seed: 7
horizon: 8h            # simulated time per replication
warmup: 30min
replications: 10
products:
  - id: A
    route: [M1, M2]
arrivals:              # omit the whole section for a saturated line
  product: A
  interarrival: {dist: exponential, mean: 75s}
stations:
  - id: M1
    servers: 1
    process_time: {dist: exponential, mean: 60s}
    failures:
      mtbf: {dist: exponential, mean: 2h}
      mttr: {dist: exponential, mean: 10min}
      basis: operating
  - id: M2
    input_buffer: 5
    process_time: {dist: triangular, low: 40s, mode: 55s, high: 80s}
    scrap_rate: 0.02
"""

# A saturated line with many short replications: a run takes half a minute or more.
LONG = """\
name: long line
seed: 1
horizon: 1d
replications: 1000
stations:
  - id: A
    process_time: {dist: exponential, mean: 60s}
  - id: B
    input_buffer: 2
    process_time: {dist: exponential, mean: 55s}
"""

FIGURE = {"mean", "ci95_halfwidth", "values"}
LINE_FIGURES = ("throughput_per_hour", "wip", "scrap_rate")
LEAD_FIGURES = ("mean", "p50", "p95")
STATION_FIGURES = (
    "availability",
    "effectiveness",
    "quality_ratio",
    "oee_index",
    "utilisation_efficiency",
    "technical_efficiency",
    "setup_rate",
    "mtbf_s",
    "mttr_s",
    "scrap_ratio",
    "first_pass_yield",
    "bottleneck",
)
STATES = ("busy", "starved", "blocked", "down", "setup", "held", "maintenance", "off", "operator")


def assert_figure(figure: Any, reps: int) -> None:
    assert isinstance(figure, dict)
    assert set(figure) == FIGURE
    assert len(figure["values"]) == reps
    values = [v for v in figure["values"] if v is not None]
    if values:
        assert figure["mean"] == pytest.approx(sum(values) / len(values), rel=1e-12, abs=1e-12)
    if len(values) >= 2:
        assert figure["ci95_halfwidth"] is not None
        assert figure["ci95_halfwidth"] >= 0


@pytest.fixture
def two_station(scenario_file: Callable[..., Path]) -> Path:
    return scenario_file(TWO_STATION, "two-station.yaml")


def test_two_station_example_loads_as_written(two_station: Path) -> None:
    """The example from the format's description loads, with units turned into seconds."""
    s = load(two_station)
    assert (s.name, s.seed, s.horizon, s.warmup, s.replications) == (
        "two-station line",
        7,
        28800.0,
        1800.0,
        10,
    )
    assert not s.saturated
    m1, m2 = s.stations
    assert m1.failures is not None
    assert (m1.failures.mtbf.expected, m1.failures.mttr.expected) == (7200.0, 600.0)
    assert m1.failures.basis == "operating"
    assert m1.input_buffer is None
    assert m2.input_buffer == 5
    assert m2.servers == 1
    assert m2.scrap_rate == 0.02
    assert m2.process_time.expected == pytest.approx(175 / 3)  # type: ignore[union-attr]


def test_two_station_example_runs_as_written(two_station: Path, tmp_path: Path) -> None:
    """`twin run` on the example exits 0, prints KPI tables and runs all 10 replications."""
    out = tmp_path / "results.json"
    result = invoke("run", str(two_station), "--workers", "2", "--json", str(out))
    assert result.exit_code == 0, result.output
    assert "throughput" in result.stdout
    assert "M2" in result.stdout
    doc = json.loads(out.read_text())
    assert doc["replications"] == 10
    assert doc["complete"] is True
    assert doc["errors"] == {}
    # Arrivals every 75 s is 48 parts/h, of which 2% are scrapped at M2.
    assert 40 < doc["line"]["throughput_per_hour"]["mean"] < 50
    assert 0 < doc["line"]["scrap_rate"]["mean"] < 0.05
    assert doc["stations"]["M1"]["availability"]["mean"] < 1
    assert doc["stations"]["M2"]["quality_ratio"]["mean"] < 1


@pytest.fixture
def full_run(two_station: Path, tmp_path: Path) -> dict[str, Any]:
    """`twin run` with every output option, as the README shows it."""
    json_path = tmp_path / "out" / "results.json"
    out_dir = tmp_path / "kept"
    trace = tmp_path / "trace.parquet"
    result = invoke(
        "run",
        str(two_station),
        "--reps",
        "3",
        "--json",
        str(json_path),
        "--out",
        str(out_dir),
        "--trace",
        str(trace),
        "--workers",
        "2",
    )
    assert result.exit_code == 0, result.output
    return {
        "doc": json.loads(json_path.read_text()),
        "out": out_dir,
        "trace": trace,
        "source": two_station,
    }


def test_json_holds_the_fully_resolved_scenario(full_run: dict[str, Any]) -> None:
    """The results JSON stores the scenario with every default filled in and overrides applied."""
    doc = full_run["doc"]
    expected = override(load(full_run["source"]), {"replications": 3})
    assert doc["scenario"] == expected.model_dump(mode="json")
    assert doc["scenario"]["replications"] == 3
    assert doc["scenario"]["horizon"] == 28800.0
    m1 = doc["scenario"]["stations"][0]
    assert m1["input_buffer"] is None
    assert m1["scrap_rate"] == 0.0
    assert m1["setup"] is None
    assert "economics" in doc["scenario"]
    assert doc["seed"] == 7
    assert doc["replications"] == 3
    assert doc["complete"] is True


def test_json_line_figures(full_run: dict[str, Any]) -> None:
    """Line KPIs are each {mean, ci95_halfwidth, values} with one value per replication."""
    line = full_run["doc"]["line"]
    for name in LINE_FIGURES:
        assert_figure(line[name], 3)
    for name in LEAD_FIGURES:
        assert_figure(line["lead_time_s"][name], 3)


def test_json_station_figures(full_run: dict[str, Any]) -> None:
    """Each station has the ISO 22400-2 indicators and time in each state, per replication."""
    stations = full_run["doc"]["stations"]
    assert list(stations) == ["M1", "M2"]
    for st in stations.values():
        for name in STATION_FIGURES:
            assert_figure(st[name], 3)
        assert set(st["states"]) == set(STATES)
        for state in STATES:
            assert_figure(st["states"][state], 3)
        for i in range(3):
            assert sum(st["states"][s]["values"][i] for s in STATES) == pytest.approx(1.0)
            oee = st["availability"]["values"][i] * st["effectiveness"]["values"][i]
            oee *= st["quality_ratio"]["values"][i]
            assert st["oee_index"]["values"][i] == pytest.approx(oee)
            assert st["availability"]["values"][i] == st["states"]["busy"]["values"][i]
    for i in range(3):  # one bottleneck per replication
        assert sum(st["bottleneck"]["values"][i] for st in stations.values()) == 1.0


def test_out_dir_keeps_the_run(full_run: dict[str, Any]) -> None:
    """--out writes results.json, replications.csv (a row per replication) and scenario.yaml."""
    out: Path = full_run["out"]
    doc = full_run["doc"]
    assert json.loads((out / "results.json").read_text()) == doc
    with (out / "replications.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["replication"]) for r in rows] == [0, 1, 2]
    for i, row in enumerate(rows):
        for key, figure in (
            ("line.throughput_per_hour", doc["line"]["throughput_per_hour"]),
            ("line.lead_time_s.p95", doc["line"]["lead_time_s"]["p95"]),
            ("stations.M1.oee_index", doc["stations"]["M1"]["oee_index"]),
            ("stations.M2.states.blocked", doc["stations"]["M2"]["states"]["blocked"]),
        ):
            assert float(row[key]) == pytest.approx(figure["values"][i], rel=1e-12)


def test_out_dir_scenario_loads_back(full_run: dict[str, Any]) -> None:
    """The kept scenario.yaml is a valid scenario equal to the one that ran."""
    kept = load(full_run["out"] / "scenario.yaml")
    assert kept.model_dump(mode="json") == full_run["doc"]["scenario"]


def test_trace_option_writes_parquet(full_run: dict[str, Any]) -> None:
    """--trace writes a Parquet file of replication 0's state changes."""
    import pyarrow.parquet as pq

    table = pq.read_table(full_run["trace"])
    assert table.column_names == ["time", "entity", "kind", "part", "value"]
    assert table.num_rows > 0


def test_overrides_apply(two_station: Path, tmp_path: Path) -> None:
    """--seed, --horizon and --warmup replace the file's values, with units accepted."""
    out = tmp_path / "r.json"
    result = invoke(
        "run",
        str(two_station),
        "--reps",
        "2",
        "--seed",
        "11",
        "--horizon",
        "2h",
        "--warmup",
        "10min",
        "--workers",
        "1",
        "--json",
        str(out),
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["seed"] == 11
    assert (doc["scenario"]["horizon"], doc["scenario"]["warmup"]) == (7200.0, 600.0)
    assert doc["replications"] == 2


def test_scenarios_lists_bundled_names() -> None:
    """`twin scenarios` lists every bundled scenario by name, `demo` among them."""
    names = bundled()
    assert "demo" in names
    result = invoke("scenarios")
    assert result.exit_code == 0, result.output
    listed = {line.split()[0] for line in result.stdout.splitlines()[1:] if line.strip()}
    assert set(names) <= listed


def test_run_bundled_by_name(tmp_path: Path) -> None:
    """`twin run demo` finds the bundled scenario by its name."""
    out = tmp_path / "demo.json"
    result = invoke(
        "run", "demo", "--reps", "2", "--horizon", "2h", "--warmup", "0", "--json", str(out)
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["replications"] == 2
    assert doc["scenario"]["horizon"] == 7200.0


def test_validate_says_what_it_describes(two_station: Path) -> None:
    """`twin validate` on a good file exits 0 and summarizes the line."""
    result = invoke("validate", str(two_station))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: 'two-station line': ")
    for fact in ("2 stations", "1 products", "with arrivals", "10 replications"):
        assert fact in result.stdout


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--reps", "0"], "--reps"),
        (["--reps", "-3"], "--reps"),
        (["--reps", "abc"], "--reps"),
        (["--horizon", "abc"], "--horizon"),
        (["--horizon", "-1h"], "--horizon"),
        (["--warmup", "soon"], "--warmup"),
        (["--warmup", "9h"], "--warmup"),
        (["--workers", "0"], "--workers"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_bad_option_exits_2_naming_it(args: list[str], option: str, two_station: Path) -> None:
    """An invalid option value exits 2 with a message that names the option, no traceback."""
    result = invoke("run", str(two_station), *args)
    assert result.exit_code == 2, result.output
    assert option in result.stderr
    assert "Traceback" not in result.output


def test_unknown_scenario_name_exits_2() -> None:
    """A name that is neither a file nor a bundled scenario exits 2 and points to the list."""
    result = invoke("run", "no-such-scenario")
    assert result.exit_code == 2
    assert "no-such-scenario" in result.stderr
    assert "twin scenarios" in result.stderr
    assert "Traceback" not in result.output


# -- Ctrl-C ---------------------------------------------------------------------------------

INTERRUPTED = re.compile(r"interrupted: (\d+) of (\d+) replications finished")


def wait_for(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name} did not appear within {timeout} s")
        time.sleep(0.05)


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_keeps_finished_replications(
    workers: int, scenario_file: Callable[..., Path], tmp_path: Path
) -> None:
    """Ctrl-C stops the run: exit 130, says how many finished, and writes their results."""
    path = scenario_file(LONG, "long.yaml")
    json_path = tmp_path / "results.json"
    trace = tmp_path / "trace.parquet"  # appears when replication 0 starts
    twin = Path(sys.executable).with_name("twin")
    cmd = [str(twin), "run", str(path), "--workers", str(workers)]
    cmd += ["--json", str(json_path), "--trace", str(trace)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        wait_for(trace, timeout=30)
        time.sleep(1.5)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stdout + stderr
    match = INTERRUPTED.search(stderr)
    assert match is not None, stderr
    finished, total = int(match.group(1)), int(match.group(2))
    assert total == 1000
    assert 1 <= finished < total
    doc = json.loads(json_path.read_text())
    assert doc["replications"] == finished
    assert doc["requested_replications"] == total
    assert doc["complete"] is False
    assert len(doc["line"]["throughput_per_hour"]["values"]) == finished
    assert not any(math.isnan(v) for v in doc["line"]["throughput_per_hour"]["values"])
