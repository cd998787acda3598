"""What users expect of the command line: --version, completion, `error:` lines, odd names."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scenarios.catalog import bundled
from twin.cli import app

runner = CliRunner()

# Rich markup in a name: printed as such, it would raise a markup error or vanish.
ODD_NAME = "[/bold] cell [red]7[/red]"

BAD_FILE = """\
name: typo line
stations:
  - id: M1
    severs: 2
    process_time: 10q
  - id: M2
    process_time: 5s
    scrap_rate: 1.5
"""


def test_version_prints_the_package_version() -> None:
    """`twin --version` prints `twin X.Y.Z` from the installed package and exits 0."""
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"twin {version('shopfloor-twin')}"


def test_show_completion_bash_names_twin(monkeypatch: pytest.MonkeyPatch) -> None:
    """`twin --show-completion bash` prints a bash completion script for `twin`."""
    # Without detection the shell is an explicit argument, whatever shell runs the tests.
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    result = runner.invoke(app, ["--show-completion", "bash"], prog_name="twin")
    assert result.exit_code == 0
    assert "_twin_completion()" in result.stdout
    assert "complete -o default -F _twin_completion twin" in result.stdout


def test_every_problem_line_has_the_error_prefix(
    scenario_file: Callable[[str], Path],
) -> None:
    """A file with three problems prints three lines, each `error: file:line: field: ...`."""
    path = scenario_file(BAD_FILE)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3
    assert lines[0] == (
        f"error: {path}:4: stations[M1].severs: unknown field "
        "(check its spelling and where it is placed)"
    )
    assert lines[1].startswith(f"error: {path}:5: stations[M1].process_time: invalid duration")
    assert lines[2].startswith(f"error: {path}:8: stations[M2].scrap_rate: ")
    assert "Traceback" not in result.output


def _odd(tmp_path: Path, bundled_name: str) -> Path:
    """A bundled scenario renamed with rich markup, written to a real file."""
    text = bundled()[bundled_name].read_text(encoding="utf-8")
    lines = [f'name: "{ODD_NAME}"' if ln.startswith("name:") else ln for ln in text.splitlines()]
    path = tmp_path / f"{bundled_name}-odd.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_validate_prints_a_markup_name_as_written(tmp_path: Path) -> None:
    """`twin validate` shows a name full of square brackets verbatim, on one line."""
    args = ["validate", str(_odd(tmp_path, "mm1"))]
    result = runner.invoke(app, args, env={"COLUMNS": "40"})
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"ok: '{ODD_NAME}': 1 stations, 1 products, ")
    assert result.stdout.endswith(" 10 replications\n")
    assert result.stdout.count("\n") == 1


def test_run_prints_a_markup_name_as_written(tmp_path: Path) -> None:
    """`twin run` titles its table with the name verbatim, and does not crash on it."""
    path = _odd(tmp_path, "mm1")
    result = runner.invoke(app, ["run", str(path), "--reps", "2", "--horizon", "1h"])
    assert result.exit_code == 0, result.output
    assert f"{ODD_NAME}: line KPIs" in result.stdout


def test_compare_and_sweep_print_a_markup_name_as_written(tmp_path: Path) -> None:
    """`twin compare` and `twin sweep` title their tables with the name verbatim."""
    path = _odd(tmp_path, "demo")
    short = ["--reps", "2", "--horizon", "2h", "--warmup", "0", "--workers", "1"]
    compared = runner.invoke(
        app, ["compare", str(path), "--plan", "platform", "--out", str(tmp_path / "c"), *short]
    )
    assert compared.exit_code == 0, compared.output
    assert f"{ODD_NAME}: plans against the baseline" in compared.stdout.replace("\n", " ")
    swept = runner.invoke(
        app,
        [
            "sweep",
            str(path),
            "--param",
            "stations.IDGRIND.servers=2,3",
            "--out",
            str(tmp_path / "s"),
            *short,
        ],
    )
    assert swept.exit_code == 0, swept.output
    assert f"{ODD_NAME}: sweep" in swept.stdout


def test_scenarios_lists_every_bundled_name() -> None:
    """`twin scenarios` lists each bundled scenario by name."""
    result = runner.invoke(app, ["scenarios"])
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.stdout.splitlines()[1:] if line.strip()]
    assert set(bundled()) <= set(names)


def test_the_watch_dashboard_lists_happenings_not_part_flow() -> None:
    """`twin watch`'s recent events show failures and commands, not every part moving on
    a conveyor or a reading arriving (the tables above show those)."""
    from twin.changes import Change
    from twin.cli import _note_event

    events: list[str] = []
    for kind in ("move", "arrive", "level", "reading"):
        _note_event(events, Change(60.0, "A>B", kind, 3, "G1"))
    assert events == []
    _note_event(events, Change(120.0, "HOB.0", "fail", -1, ""))
    assert len(events) == 1 and "HOB.0 fail" in events[0]
