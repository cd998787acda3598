"""The public names of each package, the error tree, and the command-line app."""

from __future__ import annotations

import importlib
import math
import re
import sys
import types
from pathlib import Path

import pytest
import typer
from scipy import stats
from typer.testing import CliRunner

import scenarios
import twin
from scenarios.loader import load
from scenarios.sweep import parse_param
from twin import errors
from twin.errors import Problem, ScenarioError, SimulationError, TwinError, UsageError

PUBLIC = {
    "twin": [
        "ComparisonReport",
        "DIST_NAMES",
        "Distribution",
        "Figure",
        "Problem",
        "RunReport",
        "Sampler",
        "ScenarioError",
        "SimulationError",
        "StateClock",
        "Streams",
        "SweepReport",
        "Tally",
        "TimeAverage",
        "TraceRecord",
        "TraceWriter",
        "TwinError",
        "UsageError",
        "compare",
        "format_duration",
        "load",
        "parse_duration",
        "read_trace",
        "run",
        "summarize",
        "sweep",
    ],
    "models": [
        "STATES",
        "Arrivals",
        "Failures",
        "Feeder",
        "Line",
        "Machine",
        "Part",
        "Setup",
        "Station",
        "collect",
    ],
    "scenarios": [
        "RunResult",
        "Scenario",
        "build",
        "bundled",
        "load",
        "load_scenario",
        "loads",
        "override",
        "resolve",
        "run",
        "run_replication",
    ],
    "bridges": [],
    "viz": [],
}


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_exported_names_are_pinned(package: str) -> None:
    """Each package exports exactly the names it documents, and each of them exists."""
    module = importlib.import_module(package)
    assert module.__doc__
    exported = list(getattr(module, "__all__", []))
    assert sorted(exported) == sorted(PUBLIC[package])
    assert len(set(exported)) == len(exported)
    for name in exported:
        obj = getattr(module, name)
        if isinstance(obj, type | types.FunctionType):
            assert obj.__doc__ and obj.__doc__.strip(), f"{package}.{name} has no docstring"
        elif isinstance(obj, tuple):
            assert obj and all(isinstance(item, str) for item in obj), f"{package}.{name}"


@pytest.mark.parametrize("package", ["twin", "models", "scenarios"])
def test_exported_names_come_from_the_package(package: str) -> None:
    """Re-exported names are the objects defined in the package's own modules."""
    module = importlib.import_module(package)
    for name in module.__all__:
        obj = getattr(module, name)
        if isinstance(obj, type | types.FunctionType):
            assert obj.__module__.split(".")[0] == package, (name, obj.__module__)


def test_error_tree(tmp_path: Path) -> None:
    """Each error sits under TwinError, and a real case of each renders what a user reads."""
    for cls in (ScenarioError, UsageError, SimulationError):
        assert cls.__mro__[1:] == (TwinError, Exception, BaseException, object)
    bad = tmp_path / "line.yaml"
    bad.write_text(
        "name: x\nstations:\n  - id: M\n    servers: 0\n    process_time: 30\n", encoding="utf-8"
    )
    with pytest.raises(TwinError) as scenario_error:
        load(bad)
    assert type(scenario_error.value) is ScenarioError
    assert str(scenario_error.value).startswith(f"{bad}:4: stations[M].servers:")
    with pytest.raises(TwinError) as usage_error:
        parse_param("stations.M.servers")
    assert type(usage_error.value) is UsageError
    assert str(usage_error.value) == (
        "option --param: expected PATH=V1,V2,..., got 'stations.M.servers'"
    )
    failed = SimulationError("replication 3: station M has no route out")
    assert str(failed) == "replication 3: station M has no route out"


def test_exported_functions_do_their_job(tmp_path: Path) -> None:
    """Each exported function, on a tiny input, gives the value its documentation promises."""
    assert twin.parse_duration("5min") == 300.0
    assert twin.parse_duration("1.5h") == 5400.0
    assert twin.format_duration(5400) == "1.5h"
    summary = twin.summarize([1.0, 2.0, 3.0])
    assert summary["mean"] == 2.0
    assert summary["ci95_halfwidth"] == pytest.approx(stats.t.ppf(0.975, 2) / math.sqrt(3))
    assert "exponential" in twin.DIST_NAMES
    assert "demo" in scenarios.bundled()
    assert scenarios.resolve("demo") == scenarios.bundled()["demo"]
    text = "name: one\nhorizon: 600\nreplications: 2\nstations:\n  - {id: M, process_time: 30}\n"
    (tmp_path / "one.yaml").write_text(text, encoding="utf-8")
    model = scenarios.load(tmp_path / "one.yaml")
    assert (
        model
        == scenarios.loads(text, "one.yaml")
        == scenarios.load_scenario(str(tmp_path / "one.yaml"))
    )
    assert scenarios.override(model, {"seed": 9, "replications": None}).seed == 9
    # One constant 30 s machine, never starved: a part leaves every 30 s; the 20th would
    # leave at the horizon itself, so 19 have left and one is on the machine.
    kpis = scenarios.run_replication(model, 0)
    assert kpis["line"]["parts"] == {
        "created": 20.0,
        "finished": 19.0,
        "scrapped": 0.0,
        "in_system": 1.0,
    }
    assert kpis["line"]["throughput_per_hour"] == 19 * 3600 / 600
    assert kpis["line"]["lead_time_s"]["mean"] == 30.0
    result = scenarios.run(model)
    assert result.replications == [kpis, scenarios.run_replication(model, 1)]


def test_error_tree_matches_its_drawing() -> None:
    """The tree in twin.errors' docstring lists exactly the error classes defined there."""
    assert errors.__doc__ is not None
    drawn = set(re.findall(r"[├└]── (\w+)", errors.__doc__))
    defined = {
        name
        for name, obj in vars(errors).items()
        if isinstance(obj, type) and issubclass(obj, TwinError) and obj is not TwinError
    }
    assert drawn == defined == {"ScenarioError", "UsageError", "SimulationError"}
    assert "TwinError" in errors.__doc__


def test_scenario_error_renders_each_problem() -> None:
    """A ScenarioError prints one line per problem: file, line, field and message."""
    error = ScenarioError(
        "line.yaml",
        [Problem("stations[M1].servers", "must be at least 1", 7), Problem("", "bad file")],
    )
    assert str(error).splitlines() == [
        "line.yaml:7: stations[M1].servers: must be at least 1",
        "line.yaml: bad file",
    ]
    assert error.source == "line.yaml"
    assert len(error.problems) == 2


def test_cli_app_is_a_typer_app_with_the_documented_commands(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`twin.cli.app` is the Typer app behind the `twin` command: run, scenarios, validate."""
    from twin.cli import app, main

    assert isinstance(app, typer.Typer)
    names = {c.name for c in app.registered_commands}
    assert {"run", "scenarios", "validate"} <= names
    monkeypatch.setattr(sys, "argv", ["twin", "validate", "demo"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code in (0, None)
    assert capsys.readouterr().out.startswith("ok: ")


def test_cli_help_lists_the_commands() -> None:
    """`twin --help` exits 0 and names each command."""
    from twin.cli import app

    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "scenarios", "validate"):
        assert command in result.stdout
