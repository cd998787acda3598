"""Hostile option values are refused before anything runs: exit 2, the option named."""

from __future__ import annotations

from pathlib import Path

import pytest
from lines import one_machine
from typer.testing import CliRunner

from scenarios.schema import MAX_REPLICATIONS as MAX_REPS
from twin.checks import MAX_POINTS
from twin.cli import app
from twin.runner import default_workers

LINE = one_machine(name="tiny line", seed=3, horizon=600, replications=2)

HUGE = "99999999999999999999999"
SWEEP = ["--param", "stations.M.servers=1,2"]

# (arguments, option named in the message, words of the message)
SHARED: list[tuple[list[str], str, str]] = [
    (["--reps", "0"], "--reps", "at least 1"),
    (["--reps", "-5"], "--reps", "at least 1"),
    (["--reps", HUGE], "--reps", f"at most {MAX_REPS:,}"),
    (["--reps", str(MAX_REPS + 1)], "--reps", f"at most {MAX_REPS:,}"),
    (["--reps", "1e3"], "--reps", "valid integer"),
    (["--seed", "-1"], "--seed", "at least 0"),
    (["--seed", str(2**63)], "--seed", "signed 64-bit integer"),
    (["--seed", HUGE], "--seed", "signed 64-bit integer"),
    (["--workers", "0"], "--workers", "at least 1"),
    (["--workers", HUGE], "--workers", "per core"),
    (["--workers", str(4 * default_workers() + 1)], "--workers", "per core"),
]
EXPERIMENT: list[tuple[list[str], str, str]] = [
    (["--max-reps", "1"], "--max-reps", "at least 2"),
    (["--max-reps", HUGE], "--max-reps", f"at most {MAX_REPS:,}"),
    (["--precision", "0"], "--precision", "between 0 and 1"),
    (["--precision", "1"], "--precision", "between 0 and 1"),
    (["--precision", "nan"], "--precision", "between 0 and 1"),
    (["--precision", "inf"], "--precision", "between 0 and 1"),
    (["--precision", "-0.1"], "--precision", "between 0 and 1"),
    (["--scheduler", "garbage"], "--scheduler", "HOST:PORT"),
    (["--scheduler", "tcp://127.0.0.1"], "--scheduler", "HOST:PORT"),
    (["--scheduler", "tcp://127.0.0.1:99999"], "--scheduler", "HOST:PORT"),
    (["--scheduler", "http://127.0.0.1:8786"], "--scheduler", "HOST:PORT"),
    (["--json", "/proc/1/comparison.json"], "--json", "cannot write"),
    (["--json", "plain-file/c.json"], "--json", "is not a folder"),
    (["--json", "."], "--json", "is a folder"),
    (["--out", "/proc/1/twin-store"], "--out", "cannot write"),
    (["--out", "plain-file/store"], "--out", "is not a folder"),
    (["--json", "x" * 300 + ".json"], "--json", "File name too long"),
    (["--out", "a/" + "b" * 256 + "/c"], "--out", "File name too long"),
]
COMPARE_ONLY: list[tuple[list[str], str, str]] = [
    (["--max-n", "-1"], "--max-n", "at least 0"),
    (["--max-n", HUGE], "--max-n", "retrofits in one plan"),
]
SERVERS_200 = ["--param", "stations.M.servers=" + ",".join(map(str, range(1, 201)))]
SCRAP_100 = ["--param", "stations.M.scrap_rate=" + ",".join(f"0.{i:03d}" for i in range(100))]
SWEEP_ONLY: list[tuple[list[str], str, str]] = [
    (
        [*SERVERS_200, *SCRAP_100],
        "--param",
        f"20,000 points (200 x 100); at most {MAX_POINTS:,}",
    ),
]
RUN_ONLY: list[tuple[list[str], str, str]] = [
    (["--json", "/proc/1/results.json"], "--json", "cannot write"),
    (["--trace", "/proc/1/trace.parquet"], "--trace", "cannot write"),
    (["--out", "/proc/1/twin-run"], "--out", "cannot write"),
    (["--out", "plain-file"], "--out", "exists and is not a folder"),
]

CASES = (
    [("run", *case) for case in SHARED + RUN_ONLY]
    + [("compare", *case) for case in SHARED + EXPERIMENT + COMPARE_ONLY]
    + [("sweep", *case) for case in SHARED + EXPERIMENT + SWEEP_ONLY]
)


@pytest.fixture
def line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The scenario file, and a plain file to put paths under, in the working folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plain-file").write_text("x", encoding="utf-8")
    path = tmp_path / "line.yaml"
    path.write_text(LINE, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("command", "args", "option", "words"),
    CASES,
    ids=[f"{c[0]} {' '.join(c[1])[:60]}" for c in CASES],
)
def test_bad_option_is_refused_before_running(
    line: Path, command: str, args: list[str], option: str, words: str
) -> None:
    """Exit 2 with one message naming the option and the rule; nothing is simulated or made."""
    extra = SWEEP if command == "sweep" and "--param" not in args else []
    out = [] if "--out" in args else ["--out", "store"]
    if command == "run":
        out = []
    result = CliRunner().invoke(app, [command, str(line), *extra, *out, *args])
    assert result.exit_code == 2, result.output
    assert option in result.stderr
    assert words in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert not (line.parent / "store").exists()
    assert not (line.parent / "runs").exists()


def test_a_huge_value_is_shortened_in_the_message(line: Path) -> None:
    """A value of hundreds of digits is not echoed back whole."""
    result = CliRunner().invoke(app, ["run", str(line), "--reps", "9" * 400])
    assert result.exit_code == 2
    assert "(400 digits)" in result.stderr
    assert len(result.stderr) < 300


def test_the_largest_allowed_seed_runs(line: Path, tmp_path: Path) -> None:
    """2**63 - 1 is accepted and recorded exactly in the results."""
    target = tmp_path / "r.json"
    seed = str(2**63 - 1)
    args = ["run", str(line), "--seed", seed, "--workers", "1", "--json", str(target)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f'"seed": {seed}' in target.read_text(encoding="utf-8")


def test_too_many_default_plans_are_refused(tmp_path: Path) -> None:
    """Eleven independent retrofits make 2**11 - 1 plans: refused before any is run."""
    retrofits = "".join(
        f"  - {{id: r{i}, changes: {{stations.M.scrap_rate: 0.0{i}}}}}\n" for i in range(11)
    )
    body = LINE.split("retrofits:\n")[1].split("stations:\n")[1]
    path = tmp_path / "many.yaml"
    path.write_text(
        LINE.split("retrofits:\n")[0] + "retrofits:\n" + retrofits + "stations:\n" + body,
        encoding="utf-8",
    )
    out = tmp_path / "store"
    result = CliRunner().invoke(app, ["compare", str(path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert (
        "option --max-n: the 11 retrofits allow more than 256 plans; "
        "compare fewer with --max-n 3 (231 plans)" in " ".join(result.stderr.split())
    )
    assert not out.exists()
