"""Mistakes in scenario files: one clear message naming the file, the line and the field."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest
from typer.testing import CliRunner

from scenarios.loader import load, loads
from twin.cli import app
from twin.errors import ScenarioError


class Case(NamedTuple):
    text: str
    line: int
    field: str
    message: str


CASES: dict[str, Case] = {
    "unknown station field": Case(
        """\
name: typo
stations:
  - id: M1
    servres: 2
    process_time: 60s
""",
        4,
        "stations[M1].servres",
        "unknown field",
    ),
    "unknown top-level field": Case(
        """\
name: typo
horizn: 8h
stations:
  - id: M1
    process_time: 60s
""",
        2,
        "horizn",
        "unknown field",
    ),
    "wrong type": Case(
        """\
name: wrong type
stations:
  - id: M1
    process_time: 60s
  - id: M2
    servers: many
    process_time: 60s
""",
        6,
        "stations[M2].servers",
        "valid integer",
    ),
    "negative horizon": Case(
        """\
name: negative
horizon: -5min
stations:
  - id: M1
    process_time: 60s
""",
        2,
        "horizon",
        "must not be negative",
    ),
    "negative mean": Case(
        """\
name: negative
stations:
  - id: M1
    process_time: 60s
  - id: M2
    process_time:
      dist: exponential
      mean: -30s
""",
        8,
        "stations[M2].process_time.mean",
        "must not be negative",
    ),
    "negative mtbf": Case(
        """\
name: negative
stations:
  - id: M1
    process_time: 60s
    failures:
      mtbf: {dist: exponential, mean: -2h}
      mttr: 10min
""",
        6,
        "stations[M1].failures.mtbf.mean",
        "must not be negative",
    ),
    "route names unknown station": Case(
        """\
name: bad route
products:
  - id: A
    route: [M1, M2]
  - id: B
    route:
      - M1
      - M3
stations:
  - id: M1
    process_time: 60s
  - id: M2
    process_time: 60s
""",
        8,
        "products[B].route[1]",
        "unknown station 'M3'; stations are: M1, M2",
    ),
    "unknown distribution": Case(
        """\
name: bad dist
stations:
  - id: M1
    process_time: 60s
  - id: M2
    process_time: {dist: gaussian, mean: 55s}
""",
        6,
        "stations[M2].process_time",
        "unknown distribution 'gaussian'; expected one of: constant, exponential",
    ),
    "invalid YAML": Case(
        """\
name: bad yaml
stations:
  - id: M1
   process_time: 60s
""",
        4,
        "",
        "invalid YAML",
    ),
    "scrap rate above 1": Case(
        """\
name: scrap
stations:
  - id: M1
    process_time: 60s
    scrap_rate: 1.5
""",
        5,
        "stations[M1].scrap_rate",
        "less than or equal to 1",
    ),
    "scrap rate below 0": Case(
        """\
name: scrap
stations:
  - id: M1
    process_time: 60s
    scrap_rate: -0.1
""",
        5,
        "stations[M1].scrap_rate",
        "greater than or equal to 0",
    ),
    "mix share above 1": Case(
        """\
name: mix
products:
  - id: A
    route: [M1]
  - id: B
    route: [M1]
arrivals:
  interarrival: 60s
  mix:
    A: 0
    B: 1.5
stations:
  - id: M1
    process_time: 30s
""",
        11,
        "arrivals.mix.B",
        "less than or equal to 1",
    ),
    "mix shares do not add up": Case(
        """\
name: mix
products:
  - id: A
    route: [M1]
  - id: B
    route: [M1]
arrivals:
  interarrival: 60s
  mix: {A: 0.5, B: 0.2}
stations:
  - id: M1
    process_time: 30s
""",
        7,
        "arrivals",
        "mix shares must add up to 1, they add up to 0.7",
    ),
    "missing process time for a product": Case(
        """\
name: two products
products:
  - id: A
    route: [M1]
  - id: B
    route: [M1]
stations:
  - id: M1
    process_time:
      A: 60s
""",
        9,
        "stations[M1].process_time",
        "no process_time for product 'B'",
    ),
    "missing process time": Case(
        """\
name: no time
stations:
  - id: M1
    servers: 2
""",
        3,
        "stations[M1].process_time",
        "required field is missing",
    ),
    "warmup longer than horizon": Case(
        """\
name: warm
horizon: 1h
warmup: 2h
stations:
  - id: M1
    process_time: 60s
""",
        3,
        "warmup",
        "must be shorter than horizon",
    ),
}

IDS = sorted(CASES)


def expected_line(source: str, case: Case) -> str:
    field = f" {case.field}:" if case.field else ""
    return f"{source}:{case.line}:{field} "


@pytest.mark.parametrize("name", IDS)
def test_loads_names_line_and_field(name: str) -> None:
    """Each mistake gives exactly one problem, on the right line and field."""
    case = CASES[name]
    with pytest.raises(ScenarioError) as info:
        loads(case.text, "line.yaml")
    error = info.value
    assert len(error.problems) == 1, str(error)
    problem = error.problems[0]
    assert (problem.line, problem.field) == (case.line, case.field)
    assert case.message in problem.message
    assert str(error).startswith(expected_line("line.yaml", case))
    assert "\n" not in str(error)


@pytest.mark.parametrize("name", IDS)
def test_load_names_the_file(name: str, scenario_file: Callable[..., Path]) -> None:
    """Loading a real file puts its path at the start of the message."""
    case = CASES[name]
    path = scenario_file(case.text)
    with pytest.raises(ScenarioError) as info:
        load(path)
    assert str(info.value).startswith(expected_line(str(path), case))


@pytest.mark.parametrize("command", ["run", "validate"])
@pytest.mark.parametrize("name", IDS)
def test_cli_prints_one_error_and_exits_2(
    name: str, command: str, scenario_file: Callable[..., Path]
) -> None:
    """`twin run`/`twin validate` on a bad file print one error line, exit 2, no traceback."""
    case = CASES[name]
    path = scenario_file(case.text)
    result = CliRunner().invoke(app, [command, str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: " + expected_line(str(path), case))
    assert case.message in lines[0]


def test_every_mistake_is_reported_in_line_order(scenario_file: Callable[..., Path]) -> None:
    """Several mistakes in one file give one line each, in the order of the file."""
    path = scenario_file(
        """\
name: two mistakes
stations:
  - id: M1
    process_time: 60s
    scrap_rate: 2
  - id: M2
    process_time: 60s
    servers: 0
"""
    )
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith(f"error: {path}:5: stations[M1].scrap_rate: ")
    assert lines[1].startswith(f"error: {path}:8: stations[M2].servers: ")


def test_missing_file_is_a_user_error(tmp_path: Path) -> None:
    """A scenario path that does not exist is reported, not raised."""
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "nope.yaml" in result.stderr
    assert "Traceback" not in result.output


def test_not_a_mapping(scenario_file: Callable[..., Path]) -> None:
    """A file that is not a YAML mapping says so, on line 1."""
    with pytest.raises(ScenarioError, match=r"line\.yaml:1: a scenario must be a YAML mapping"):
        load(scenario_file("- just\n- a list\n"))


def test_console_script_exits_2_without_traceback(scenario_file: Callable[..., Path]) -> None:
    """The installed `twin` command reports a bad file on stderr and exits 2."""
    case = CASES["route names unknown station"]
    path = scenario_file(case.text)
    twin = Path(sys.executable).with_name("twin")
    proc = subprocess.run(
        [str(twin), "run", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.strip() == (
        f"error: {path}:8: products[B].route[1]: product 'B' route names unknown station 'M3'; "
        "stations are: M1, M2"
    )
