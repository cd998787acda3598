"""Output paths are checked before a run, so a typo never costs the simulation's results."""

from __future__ import annotations

from pathlib import Path

import pytest
from lines import one_machine
from typer.testing import CliRunner

from twin.cli import app

LINE = one_machine(name="short", horizon=2000, replications=2)


@pytest.fixture
def line(tmp_path: Path) -> Path:
    path = tmp_path / "line.yaml"
    path.write_text(LINE, encoding="utf-8")
    (tmp_path / "plain-file").write_text("x", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("command", "option", "target", "message"),
    [
        ("run", "--json", ".", "is a folder; give a file name"),
        ("run", "--trace", ".", "is a folder; give a file name"),
        ("run", "--out", "plain-file", "exists and is not a folder"),
        ("run", "--json", "plain-file/r.json", "is not a folder"),
        ("compare", "--json", ".", "is a folder; give a file name"),
        ("compare", "--out", "plain-file", "exists and is not a folder"),
        ("sweep", "--out", "plain-file", "exists and is not a folder"),
    ],
)
def test_bad_output_path_is_refused_before_running(
    line: Path, command: str, option: str, target: str, message: str
) -> None:
    """A folder given for a file (or a file for a folder) exits 2 naming the option."""
    extra = ["--param", "stations.M.servers=1,2"] if command == "sweep" else []
    args = [command, str(line), option, str(line.parent / target), "--workers", "1", *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert f"option {option}" in result.output and message in result.output
    assert "Traceback" not in result.output


def test_missing_parent_folders_are_created(line: Path) -> None:
    """Parent folders of --json are created, and the file is written."""
    target = line.parent / "a" / "b" / "r.json"
    result = CliRunner().invoke(app, ["run", str(line), "--json", str(target), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert target.is_file()
