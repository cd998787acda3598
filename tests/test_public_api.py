"""The public names of each package, the error tree, and the command-line app."""

from __future__ import annotations

import importlib
import re
import types

import pytest
import typer
from typer.testing import CliRunner

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
        assert getattr(module, name) is not None


@pytest.mark.parametrize("package", ["twin", "models", "scenarios"])
def test_exported_names_come_from_the_package(package: str) -> None:
    """Re-exported names are the objects defined in the package's own modules."""
    module = importlib.import_module(package)
    for name in module.__all__:
        obj = getattr(module, name)
        if isinstance(obj, type | types.FunctionType):
            assert obj.__module__.split(".")[0] == package, (name, obj.__module__)


def test_error_tree() -> None:
    """Every user-facing error derives from TwinError, as the errors module draws it."""
    assert issubclass(TwinError, Exception)
    for cls in (ScenarioError, UsageError, SimulationError):
        assert cls.__bases__ == (TwinError,)


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


def test_cli_app_is_a_typer_app_with_the_documented_commands() -> None:
    """`twin.cli.app` is the Typer app behind the `twin` command: run, scenarios, validate."""
    from twin.cli import app, main

    assert isinstance(app, typer.Typer)
    assert callable(main)
    names = {c.name for c in app.registered_commands}
    assert {"run", "scenarios", "validate"} <= names


def test_cli_help_lists_the_commands() -> None:
    """`twin --help` exits 0 and names each command."""
    from twin.cli import app

    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "scenarios", "validate"):
        assert command in result.stdout
