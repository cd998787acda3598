"""Hostile scenario files: each is refused with ``error: file:line: ...`` and exit code 2."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest
from typer.testing import CliRunner

from scenarios.loader import MAX_BYTES, MAX_DEPTH
from twin.cli import app

ONE_STATION = """\
stations:
  - id: M1
    process_time: 60s
"""


class Case(NamedTuple):
    text: str
    line: int
    message: str


def _bomb(levels: int) -> str:
    """Billion laughs: each level lists the one below ten times."""
    rows = ['a0: &a0 "lol"']
    for i in range(1, levels):
        rows.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    return "\n".join(rows) + "\n"


CASES: dict[str, Case] = {
    "recursive alias": Case(f"name: x\nloop: &a [*a]\n{ONE_STATION}", 2, "aliases (*a) are not"),
    "alias bomb": Case(_bomb(9), 2, "YAML aliases (*a0) are not allowed"),
    "alias of a station": Case(
        "name: x\nstations:\n  - &m {id: M1, process_time: 1s}\n  - *m\n", 4, "aliases (*m)"
    ),
    "duplicate key": Case(
        f"name: x\n{ONE_STATION}    servers: 2\n    servers: 3\n",
        6,
        "duplicate key 'servers' (first on line 5)",
    ),
    "duplicate top-level key": Case(f"name: x\nname: y\n{ONE_STATION}", 2, "first on line 1"),
    "list as dist tag": Case(
        "name: x\nstations:\n  - id: M1\n    process_time: {dist: [exponential], mean: 1}\n",
        4,
        "stations[M1].process_time: 'dist' must name a distribution, got a list",
    ),
    "mapping as dist tag": Case(
        "name: x\nstations:\n  - id: M1\n    process_time: {dist: {a: 1}}\n",
        4,
        "'dist' must name a distribution, got a dict",
    ),
    "list as process time": Case(
        "name: x\nstations:\n  - id: M1\n    process_time: [60s]\n",
        4,
        "expected a distribution or a duration, got a list",
    ),
    "weibull shape overflows its mean": Case(
        "name: x\nstations:\n  - id: M1\n"
        "    process_time: {dist: weibull, shape: 0.001, scale: 1}\n",
        4,
        "process_time.shape: Input should be greater than or equal to 0.1",
    ),
    "gamma cv too small to sample": Case(
        "name: x\nstations:\n  - id: M1\n    process_time: {dist: gamma, mean: 1, cv: 1e-200}\n",
        4,
        "process_time.cv: Input should be greater than or equal to 0.001",
    ),
    "empirical weights overflow": Case(
        "name: x\nstations:\n  - id: M1\n"
        "    process_time: {dist: empirical, values: [1, 2], weights: [1e308, 1e308]}\n",
        4,
        "weights are too large",
    ),
    "infinite scrap rate": Case(
        f"name: x\n{ONE_STATION}    scrap_rate: .inf\n", 5, "scrap_rate: Input should be a finite"
    ),
    "nan margin": Case(
        f"name: x\n{ONE_STATION}economics:\n  margin_per_good_part: .nan\n",
        6,
        "economics.margin_per_good_part: Input should be a finite number",
    ),
    "infinite gamma cv": Case(
        "name: x\nstations:\n  - id: M1\n    process_time: {dist: gamma, mean: 1, cv: .inf}\n",
        4,
        "process_time.cv: Input should be a finite number",
    ),
    "infinite mean in a per-product table": Case(
        "name: x\nproducts:\n  - id: A\n    route: [M1]\nstations:\n  - id: M1\n"
        "    process_time:\n      A: {dist: exponential, mean: .inf}\n",
        8,
        "stations[M1].process_time.A.mean: duration must be finite",
    ),
    "servers true": Case(
        f"name: x\n{ONE_STATION}    servers: true\n", 5, "servers: expected a number, got true"
    ),
    "too many servers": Case(
        f"name: x\n{ONE_STATION}    servers: 1000000000\n", 5, "less than or equal to 1000"
    ),
    "bool replications": Case(
        f"name: x\nreplications: false\n{ONE_STATION}", 2, "expected a number, got false"
    ),
    "wrong-case id": Case(
        "name: x\nstations:\n  - id: M1\n    process_time: 60s\n"
        "  - Id: M2\n    process_time: 60s\n",
        5,
        "stations[1].Id: unknown field",
    ),
    "tiny process time": Case(
        "name: x\nstations:\n  - id: M1\n    process_time: 1e-300\n",
        4,
        "shorter than the engine's resolution of 1ms",
    ),
    "huge horizon": Case(f"name: x\nhorizon: 1e9d\n{ONE_STATION}", 2, "longer than 100 years"),
    "event budget": Case(
        "name: x\nhorizon: 30d\nstations:\n  - id: M1\n    servers: 1000\n    process_time: 1ms\n",
        6,
        "stations[M1].process_time: a replication would simulate about 2.6e+12 events",
    ),
    "failures too frequent": Case(
        "name: x\nhorizon: 100d\nstations:\n  - id: M1\n    process_time: 1min\n"
        "    failures: {mtbf: 1ms, mttr: 0}\n",
        6,
        "failures.mtbf: a replication would simulate about 8.6e+09 events",
    ),
    "deep nesting": Case(
        "name: x\nextra: " + "[" * 1000 + "]" * 1000 + "\n", 2, f"deeper than {MAX_DEPTH} levels"
    ),
    "binary tag": Case(f"name: !!binary aGVsbG8=\n{ONE_STATION}", 1, "YAML tag !!binary"),
    "set tag": Case(f"name: !!set {{a, b}}\n{ONE_STATION}", 1, "YAML tag !!set"),
    "python tag": Case(f"name: !!python/object:os.system x\n{ONE_STATION}", 1, "!!python/object"),
    "number as key": Case(f"name: x\n1: 2\n{ONE_STATION}", 2, "a key must be text, got 1"),
    "list as key": Case(f"name: x\n? [a]\n: 2\n{ONE_STATION}", 2, "a key must be text, got a list"),
    "timestamp where a duration is meant": Case(
        f"name: x\nhorizon: 2024-01-01\n{ONE_STATION}", 2, "invalid duration '2024-01-01'"
    ),
    "NUL character": Case("name: x\x00\n", 1, "character U+0000 is not allowed"),
    "number of 5000 digits": Case(f"name: x\nseed: {'9' * 5000}\n", 2, "more than 4300 digits"),
    "too many stations": Case(
        "name: x\nstations:\n"
        + "".join(f"  - {{id: M{i}, process_time: 1h}}\n" for i in range(1001)),
        2,
        "stations: List should have at most 1000 items",
    ),
    "too many retrofits": Case(
        f"name: x\n{ONE_STATION}retrofits:\n"
        + "".join(f"  - {{id: r{i}, changes: {{stations.M1.servers: 2}}}}\n" for i in range(51)),
        5,
        "retrofits: List should have at most 50 items",
    ),
    "unknown field inside a retrofit change": Case(
        f"name: x\n{ONE_STATION}retrofits:\n  - id: r\n    changes:\n"
        "      stations.M1.scrap_rate: 0.1\n      stations.M1.failures:\n"
        "        mtbf: 1h\n        mttr: 1min\n        bogus: 1\n",
        9,
        "retrofits[r]: makes stations[M1].failures.bogus invalid: unknown field",
    ),
    "unknown field inside a per-product distribution": Case(
        "name: x\nproducts:\n  - id: A\n    route: [M1]\nstations:\n  - id: M1\n"
        "    process_time:\n      A:\n        dist: exponential\n        mean: 1\n"
        "        bogus: 2\n",
        11,
        "stations[M1].process_time.A.bogus: unknown field",
    ),
    "a problem on line 100 (an emoji code)": Case(
        "name: x\n" + "#\n" * 95 + f"{ONE_STATION}    servres: 2\n",
        100,
        "stations[M1].servres: unknown field",
    ),
    "retrofit makes servers a bool": Case(
        f"name: x\n{ONE_STATION}retrofits:\n  - id: r\n    changes:\n"
        "      stations.M1.servers: true\n",
        8,
        "retrofits[r]: makes stations[M1].servers invalid: expected a number, got true",
    ),
}


def _refused(path: Path, *args: str) -> str:
    """Run the CLI on ``path``; assert exit 2 and no exception; return stderr."""
    result = CliRunner().invoke(app, [*args, str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: "), result.stderr
    return result.stderr


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_file_is_refused_at_its_line(name: str, scenario_file: Callable[..., Path]) -> None:
    """Each hostile file gets one clear message naming the file, the line and the problem."""
    case = CASES[name]
    path = scenario_file(case.text)
    stderr = _refused(path, "validate")
    assert stderr.startswith(f"error: {path}:{case.line}: "), stderr
    assert case.message in stderr, stderr


def test_wrong_case_id_is_not_blamed_on_line_1(scenario_file: Callable[..., Path]) -> None:
    """A station written ``- Id: M2`` is reported on its own line only, twice over."""
    path = scenario_file(CASES["wrong-case id"].text)
    stderr = _refused(path, "validate")
    assert stderr.splitlines() == [
        f"error: {path}:5: stations[1].id: required field is missing",
        f"error: {path}:5: stations[1].Id: unknown field "
        "(check its spelling and where it is placed)",
    ]


def test_a_date_is_text_where_text_is_meant(scenario_file: Callable[..., Path]) -> None:
    """An unquoted date as a name is read as the text it looks like."""
    path = scenario_file(f"name: 2024-01-01\n{ONE_STATION}")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("ok: '2024-01-01': 1 stations")


def test_anchor_without_alias_is_harmless(scenario_file: Callable[..., Path]) -> None:
    """An anchor that nothing refers to is plain YAML and is accepted."""
    path = scenario_file(f"name: &n x\n{ONE_STATION}")
    assert CliRunner().invoke(app, ["validate", str(path)]).exit_code == 0


def test_file_larger_than_the_limit(tmp_path: Path) -> None:
    """A file over the size limit is refused before it is parsed."""
    path = tmp_path / "big.yaml"
    path.write_bytes(b"name: x\n" + b" " * MAX_BYTES)
    assert _refused(path, "validate") == f"error: {path}: larger than 10 MiB: not a scenario file\n"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_endless_device_is_refused() -> None:
    """``validate /dev/zero`` reads at most the limit, then refuses."""
    assert "larger than 10 MiB" in _refused(Path("/dev/zero"), "validate")


def test_folder_is_refused(tmp_path: Path) -> None:
    """A folder given as a scenario is named as such."""
    assert (
        _refused(tmp_path, "validate") == f"error: {tmp_path}: is a folder, not a scenario file\n"
    )


def test_a_folder_named_like_a_bundled_scenario_does_not_hide_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`twin validate demo` next to a folder called demo means the bundled demo."""
    (tmp_path / "demo").mkdir()
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["validate", "demo"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("ok: 'bearing-ring line'")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--horizon", "1e9d", "option --horizon: duration '1e9d' is longer than 100 years"),
        ("--horizon", "1e-300", "option --horizon: duration '1e-300' is shorter than"),
        ("--horizon", "inf", "option --horizon: invalid duration 'inf'"),
        ("--warmup", "1e-5", "option --warmup: duration '1e-5' is shorter than"),
        ("--horizon", "90y", "option --horizon: invalid duration '90y'"),
    ],
)
def test_bad_horizon_and_warmup_options(option: str, value: str, message: str) -> None:
    """``--horizon``/``--warmup`` values meet the same duration rules as the file."""
    result = CliRunner().invoke(app, ["run", "mm1", "--reps", "1", option, value])
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"error: {message}"), result.stderr


def test_horizon_option_meets_the_event_budget() -> None:
    """A long ``--horizon`` on a fast line is refused by the event budget, naming the option."""
    result = CliRunner().invoke(app, ["run", "mm1", "--reps", "1", "--horizon", "36500d"])
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("error: mm1 with --reps --horizon: arrivals.interarrival:")
    assert "5e+09 events, more than the limit of 1e+09" in result.stderr


def test_markup_in_a_name_is_printed_as_written(scenario_file: Callable[..., Path]) -> None:
    """A name containing rich markup is shown verbatim by validate and run, without a crash."""
    path = scenario_file(f'name: "x[/bold] [red]y"\n{ONE_STATION}')
    checked = CliRunner().invoke(app, ["validate", str(path)])
    assert checked.exit_code == 0, checked.stderr
    assert "'x[/bold] [red]y'" in checked.stdout
    ran = CliRunner().invoke(app, ["run", str(path), "--reps", "1", "--horizon", "10min"])
    assert ran.exit_code == 0, ran.stderr
    assert "x[/bold] [red]y: line KPIs" in ran.stdout


def test_too_many_default_plans_are_refused(scenario_file: Callable[..., Path]) -> None:
    """Forty independent retrofits would make 2^40 default plans: compare refuses at once."""
    retrofits = "".join(
        f"  - {{id: r{i}, changes: {{stations.M1.servers: 2}}}}\n" for i in range(40)
    )
    path = scenario_file(f"name: x\n{ONE_STATION}retrofits:\n{retrofits}")
    out = path.parent / "out"
    result = CliRunner().invoke(app, ["compare", str(path), "--reps", "2", "--out", str(out)])
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(
        "error: option --max-n: the 40 retrofits allow more than 256 plans; "
        "compare fewer with --max-n 1 (40 plans)"
    )
    assert not out.exists()
