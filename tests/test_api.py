"""The Python API: twin.load, run, compare, sweep, their typed reports and tidy tables."""

from __future__ import annotations

import copy
import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import scenarios.experiment
import twin
from scenarios.schema import Scenario
from scenarios.store import claim
from twin.errors import SimulationError, UsageError
from twin.reports import RunReport

# M/M/1 at rho = 0.8: 0.8 parts/s = 2880 parts/h, L = 4 parts, W = 5 s.
MM1 = {"reps": 4, "horizon": 20000, "warmup": 1000}


@pytest.fixture(scope="module")
def mm1() -> RunReport:
    return twin.run("mm1", workers=1, **MM1)


def test_run_mm1_matches_queueing_theory(mm1: RunReport) -> None:
    """Throughput, WIP and lead time of the bundled M/M/1 are those of the formulas."""
    line = mm1.line
    assert mm1.replications == 4 and mm1.complete and mm1.seed == 1
    assert line.throughput_per_hour.mean == pytest.approx(2880, rel=0.02)
    assert 0 < line.throughput_per_hour.ci95 < 60
    assert line.wip.mean == pytest.approx(4.0, rel=0.15)
    assert line.lead_time_s.mean.mean == pytest.approx(5.0, rel=0.15)
    # Little's law on the results: L = lambda x W.
    lam = line.throughput_per_hour.mean / 3600
    assert line.wip.mean == pytest.approx(lam * line.lead_time_s.mean.mean, rel=0.02)
    assert mm1.stations["M1"]["availability"].mean == pytest.approx(0.8, rel=0.02)


def test_figures_are_the_documents_numbers(mm1: RunReport) -> None:
    """Every typed figure is the document's summary: mean, half-width, values, bounds."""
    doc = mm1.to_dict()
    tp = doc["line"]["throughput_per_hour"]
    figure = mm1.line.throughput_per_hour
    assert (figure.mean, figure.ci95, list(figure.values)) == (
        tp["mean"],
        tp["ci95_halfwidth"],
        tp["values"],
    )
    assert figure.low == pytest.approx(tp["mean"] - tp["ci95_halfwidth"])
    assert figure.n == 4
    assert mm1.line["lead_time_s.p95"].mean == doc["line"]["lead_time_s"]["p95"]["mean"]
    assert json.loads(mm1.to_json()) == doc
    with pytest.raises(KeyError, match="no figure 'thruput'"):
        mm1.line["thruput"]


def test_run_tables_are_tidy_and_equal_the_document(mm1: RunReport) -> None:
    """line: a row per figure; stations: a row per station and figure; replications:
    a row per replication, scope and figure; numbers as in the document."""
    doc = mm1.to_dict()
    tables = mm1.to_pandas()
    line = tables.line.set_index("figure")
    assert list(tables.line.columns) == ["figure", "mean", "ci95_halfwidth", "low", "high", "n"]
    assert line.loc["throughput_per_hour", "mean"] == doc["line"]["throughput_per_hour"]["mean"]
    assert line.loc["lead_time_s.p50", "mean"] == doc["line"]["lead_time_s"]["p50"]["mean"]
    stations = tables.stations
    assert set(stations["station"]) == {"M1"}
    assert "states.starved" in set(stations["figure"])
    busy = stations[stations["figure"] == "states.busy"]["mean"].item()
    assert busy == doc["stations"]["M1"]["states"]["busy"]["mean"]
    reps = tables.replications
    assert list(reps.columns) == ["replication", "scope", "figure", "value"]
    assert len(reps) == 4 * (len(tables.line) + len(stations))
    wip = reps[(reps["replication"] == 2) & (reps["figure"] == "wip")]["value"].item()
    assert wip == doc["line"]["wip"]["values"][2]


def test_station_figures_are_read_whatever_their_names(mm1: RunReport) -> None:
    """Renamed or new station figures appear in the report and the tables as they are."""
    doc = copy.deepcopy(mm1.to_dict())
    m1 = doc["stations"]["M1"]
    m1["oee_total"] = m1.pop("oee_index")
    m1["losses"] = {"speed": m1["effectiveness"]}
    report = RunReport.of(doc)
    assert report.stations["M1"]["oee_total"].mean == m1["oee_total"]["mean"]
    figures = set(report.to_pandas().stations["figure"])
    assert {"oee_total", "losses.speed"} <= figures
    assert "oee_index" not in figures


def test_load_applies_overrides() -> None:
    """Keyword overrides replace the scenario's values; durations take units."""
    sc = twin.load("mm1", reps=2, seed=7, horizon="2h", warmup="5min")
    assert (sc.replications, sc.seed, sc.horizon, sc.warmup) == (2, 7, 7200.0, 300.0)
    assert twin.load(sc) is sc


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reps": 0}, "argument reps: must be at least 1, got 0"),
        ({"seed": -1}, "argument seed: must be at least 0"),
        ({"horizon": "2 weeks"}, "argument horizon: invalid duration '2 weeks'"),
        ({"reps": 2.5}, "argument reps: expected a whole number"),
        ({"reps": 10**23}, r"argument reps: must be at most 10,000 \(replications per model\)"),
        ({"seed": 2**64}, r"argument seed: must be at most .* \(a signed 64-bit integer\)"),
    ],
)
def test_load_refuses_bad_overrides(kwargs: dict[str, Any], message: str) -> None:
    """A bad override is a UsageError naming the argument."""
    with pytest.raises(UsageError, match=message):
        twin.load("mm1", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workers": 10**6}, r"argument workers: must be at most \d+ \(4 per core"),
        ({"scheduler": "not-an-address"}, "argument scheduler: expected \\[tcp://\\]HOST:PORT"),
        ({"max_n": 65}, r"argument max_n: must be at most 64 \(retrofits in one plan\)"),
        ({"precision": 1.5}, "argument precision: must be between 0 and 1"),
        ({"max_reps": 10**6}, "argument max_reps: must be at most 10,000"),
    ],
)
def test_compare_refuses_bad_settings_before_running(
    kwargs: dict[str, Any], message: str, tmp_path: Path
) -> None:
    """The command line's limits hold for the API too, named as arguments; nothing is written."""
    with pytest.raises(UsageError, match=message):
        twin.compare("demo", ["smed"], reps=2, out=tmp_path / "cmp", **kwargs)
    assert not (tmp_path / "cmp").exists()


def test_unknown_scenario_names_the_bundled_ones() -> None:
    """A name that is neither a file nor bundled says which names exist."""
    with pytest.raises(UsageError, match="bundled: demo, mm1"):
        twin.load("no-such-line")


def _fail_replication(bad: int, exc: BaseException) -> Any:
    real = scenarios.experiment.run_replication

    def run_replication(scenario: Scenario, replication: int, trace: str | None = None) -> Any:
        if replication == bad:
            raise exc
        return real(scenario, replication, trace)

    return run_replication


def test_failed_replications_raise_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """No half result: a failed replication raises SimulationError listing it."""
    monkeypatch.setattr(
        scenarios.experiment, "run_replication", _fail_replication(1, ValueError("bad sample"))
    )
    with pytest.raises(SimulationError) as info:
        twin.run("mm1", reps=3, horizon=2000, warmup=100, workers=1)
    assert str(info.value) == (
        "1 of 3 replications of 'mm1' failed:\nreplications 1: ValueError: bad sample"
    )


def test_allow_partial_keeps_the_finished_replications(monkeypatch: pytest.MonkeyPatch) -> None:
    """With allow_partial the report covers the replications that finished, by index."""
    monkeypatch.setattr(
        scenarios.experiment, "run_replication", _fail_replication(1, ValueError("bad sample"))
    )
    report = twin.run("mm1", reps=3, horizon=2000, warmup=100, workers=1, allow_partial=True)
    assert (report.replications, report.complete) == (2, False)
    assert dict(report.errors) == {1: "ValueError: bad sample"}
    assert report.line.throughput_per_hour.n == 2
    assert sorted(set(report.to_pandas().replications["replication"])) == [0, 2]


def test_an_interrupt_propagates_unless_partial_results_are_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C during a run raises KeyboardInterrupt; allow_partial returns what finished."""
    monkeypatch.setattr(
        scenarios.experiment, "run_replication", _fail_replication(2, KeyboardInterrupt())
    )
    with pytest.raises(KeyboardInterrupt):
        twin.run("mm1", reps=4, horizon=2000, warmup=100, workers=1)
    report = twin.run("mm1", reps=4, horizon=2000, warmup=100, workers=1, allow_partial=True)
    assert (report.replications, report.complete, report.indices) == (2, False, (0, 1))


def test_run_refuses_to_start_while_a_worker_process_boots(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Called while a spawned process imports the main script, run says what to do."""
    monkeypatch.setattr(multiprocessing.current_process(), "_inheriting", True, raising=False)
    with pytest.raises(UsageError, match='put the calls under `if __name__ == "__main__":`'):
        twin.run("mm1", reps=1, workers=1)


def test_compare_tables_and_attribution(tmp_path: Path) -> None:
    """A plan's paired gains, its money and the Shapley split, as tables and on disk."""
    out = tmp_path / "cmp"
    report = twin.compare(
        "demo", ["platform+smed"], reps=3, horizon="4h", warmup="30min", workers=2, out=out
    )
    doc = report.to_dict()
    assert report.ranking == ["platform+smed"] and report.best is not None
    # The headline OEE is read at the baseline's simulated bottleneck, a demo station.
    assert report.bottleneck == doc["bottleneck"]["station"]
    assert report.bottleneck in {s["id"] for s in doc["scenario"]["stations"]}
    assert report.bottleneck_share == doc["bottleneck"]["share"] >= 1 / 3
    assert json.loads((out / "comparison.json").read_text(encoding="utf-8")) == doc
    tables = report.to_pandas()
    plans = tables.plans.set_index(["plan", "figure"])
    assert len(plans) == 2 * len(doc["baseline"]["levels"])
    gain = doc["plans"]["platform+smed"]["differences"]["throughput_per_hour"]
    assert plans.loc[("platform+smed", "throughput_per_hour"), "difference"] == gain["mean"]
    assert plans.loc[("baseline", "throughput_per_hour"), "difference"] == 0.0
    assert plans.loc[("platform+smed", "throughput_per_hour"), "rank"] == 1
    # Shapley shares add up to the plan's mean gain (efficiency).
    shares = tables.contributions
    tp = shares[shares["figure"] == "throughput_per_hour"]
    assert set(tp["retrofit"]) == {"platform", "smed"}
    assert tp["value"].sum() == pytest.approx(gain["mean"])
    npv = tables.economics.set_index(["plan", "item"]).loc[("platform+smed", "npv")]
    assert npv["value"] == doc["plans"]["platform+smed"]["economics"]["npv"]["mean"]
    assert len(tables.replications) == 2 * 3 * len(doc["baseline"]["levels"])
    again = twin.compare(
        "demo", ["platform+smed"], reps=3, horizon="4h", warmup="30min", workers=2, out=out
    )
    assert again.to_dict() == doc


def test_compare_refuses_a_scenario_without_retrofits() -> None:
    """Comparing needs retrofits; the error says so."""
    with pytest.raises(UsageError, match="has no retrofits to compare"):
        twin.compare("mm1", reps=2)


def test_sweep_of_the_arrival_rate_matches_theory(tmp_path: Path) -> None:
    """M/M/1 at two arrival rates: throughput is the arrival rate (1800 and 2880 per hour)."""
    grid = {"arrivals.interarrival.mean": [2.0, 1.25]}
    report = twin.sweep("mm1", grid, reps=3, horizon=20000, workers=1, out=tmp_path)
    assert json.loads((tmp_path / "sweep.json").read_text(encoding="utf-8")) == report.to_dict()
    assert (tmp_path / "sweep.csv").read_text(encoding="utf-8").count("\n") == 3
    points = report.to_pandas().points
    tp = points[points["figure"] == "throughput_per_hour"].set_index("arrivals.interarrival.mean")[
        "mean"
    ]
    assert tp[2.0] == pytest.approx(1800, rel=0.03)
    assert tp[1.25] == pytest.approx(2880, rel=0.03)
    assert [p.name for p in report.points] == [
        "arrivals.interarrival.mean=2.0",
        "arrivals.interarrival.mean=1.25",
    ]


def test_sweep_refuses_an_empty_parameter() -> None:
    """A parameter without values is a UsageError naming it."""
    with pytest.raises(UsageError, match=r"parameters\['stations.M1.servers'\]"):
        twin.sweep("mm1", {"stations.M1.servers": []})


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_importing_an_engine_module_does_not_import_scenarios(tmp_path: Path) -> None:
    """twin's API is imported on first use, so the engine stays below the scenarios."""
    code = (
        "import sys, twin.durations; print('scenarios' in sys.modules);"
        "import twin; twin.run; print('scenarios' in sys.modules, twin.run.__module__)"
    )
    result = _python(code, tmp_path)
    assert result.stdout.split() == ["False", "True", "twin.api"]


def test_a_script_without_a_main_guard_runs_in_parallel(tmp_path: Path) -> None:
    """A script that calls twin.run(workers=2) at top level prints its result once."""
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(
            """\
            import twin

            print("script started")
            res = twin.run("mm1", reps=4, horizon=5000, warmup=500, workers=2)
            print(f"replications {res.replications}")
            print(f"throughput {res.line.throughput_per_hour.mean:.0f}")
            """
        ),
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["script started", "replications 4"]
    assert 2700 < float(lines[2].split()[1]) < 3060
    assert "bootstrapping" not in result.stderr and "Traceback" not in result.stderr


def test_a_worker_that_dies_is_reported_as_such() -> None:
    """A worker process that ends abruptly fails its tasks with a message saying what to do."""
    from twin.runner import run_tasks

    outcome = run_tasks(os._exit, [(0, (3,)), (1, (3,))], workers=2)
    assert outcome.results == {} and sorted(outcome.errors) == [0, 1]
    for message in outcome.errors.values():
        assert message.startswith("twin.errors.SimulationError: a worker process ended abruptly")
        assert 'if __name__ == "__main__":' in message


def test_output_paths_are_checked_before_simulating(tmp_path: Path) -> None:
    """An out= that is a file, or a trace= that is a folder, is refused at once."""
    afile = tmp_path / "taken"
    afile.write_text("x", encoding="utf-8")
    with pytest.raises(UsageError, match=r"argument out: .* exists and is not a folder"):
        twin.run("mm1", reps=1, out=afile)
    with pytest.raises(UsageError, match=r"argument trace: .* is a folder"):
        twin.run("mm1", reps=1, trace=tmp_path)
    with pytest.raises(UsageError, match=r"argument out: .* exists and is not a folder"):
        twin.sweep("mm1", {"stations.M1.servers": [1, 2]}, out=afile)
    with pytest.raises(UsageError, match=r"argument out: cannot create .* is not a folder"):
        twin.compare("demo", ["smed"], reps=2, out=afile / "under-a-file")


def test_a_busy_out_folder_is_refused(tmp_path: Path) -> None:
    """Another process holding out= (here: another lock in this one) is named; nothing runs."""
    out = tmp_path / "cmp"
    with claim(out, "out"), pytest.raises(UsageError, match=r"argument out: .* is in use"):
        twin.compare("demo", ["smed"], reps=2, horizon="6h", workers=1, out=out)
    assert not (out / "store.sqlite").exists()


def test_precision_adds_replications_up_to_max_reps() -> None:
    """An unreachable precision runs each point up to max_reps replications, no further."""
    report = twin.sweep(
        "mm1",
        {"stations.M1.servers": [1, 2]},
        reps=2,
        horizon=2000,
        warmup=100,
        workers=1,
        precision=0.0001,
        max_reps=4,
    )
    assert [p.replications for p in report.points] == [4, 4]
    assert report.points[0].figures["throughput_per_hour"].n == 4
