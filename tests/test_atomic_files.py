"""Result files are written whole or not at all; a full disk never costs the printed results."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from lines import one_machine
from typer.testing import CliRunner

from scenarios.experiment import run
from scenarios.loader import loads
from twin.cli import app
from twin.errors import UsageError
from twin.files import atomic_open, check_writable, write_all, write_atomic

LINE = one_machine(name="tiny line", seed=5, horizon=900, replications=2)

FULL = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def disk_full(*_: object) -> None:
    raise FULL


def fail_on(names: set[str]) -> Callable[[str, str], None]:
    """An ``os.replace`` that finds the disk full for the targets named, works for others."""
    real = os.replace

    def replace(src: str, dst: str) -> None:
        if Path(dst).name in names:
            raise FULL
        real(src, dst)

    return replace


def test_write_atomic_replaces_the_file_whole(tmp_path: Path) -> None:
    """The new text replaces the old one, and nothing else is left in the folder."""
    target = tmp_path / "r.json"
    target.write_text("old\n", encoding="utf-8")
    write_atomic(target, "new ünïcode\n")
    assert target.read_text(encoding="utf-8") == "new ünïcode\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_full_disk_midway_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills after half the text is written: the old file stays, no temp file remains."""
    target = tmp_path / "results.json"
    target.write_text('{"complete": true}\n', encoding="utf-8")
    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError) as info:
        write_atomic(target, "x" * 100_000)
    assert info.value.errno == errno.ENOSPC
    assert target.read_text(encoding="utf-8") == '{"complete": true}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_a_writer_failing_midway_leaves_no_partial_file(tmp_path: Path) -> None:
    """An error between two writes of a CSV leaves no target and no temp file."""
    target = tmp_path / "sub" / "rows.csv"
    with pytest.raises(OSError), atomic_open(target, newline="") as fh:
        fh.write("a,b\n1,2\n")
        raise FULL
    assert not target.exists()
    assert list((tmp_path / "sub").iterdir()) == []


def test_write_all_keeps_going_and_names_each_failure(tmp_path: Path) -> None:
    """One failed writer does not stop the next; each failure says which file and why."""
    good = tmp_path / "good.txt"
    failed = write_all(
        {"bad.json": lambda: disk_full(), "good.txt": lambda: write_atomic(good, "ok")}
    )
    assert failed == ["bad.json: No space left on device"]
    assert good.read_text(encoding="utf-8") == "ok"


def test_run_files_survive_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing a run's folder again on a full disk leaves the previous results readable."""
    result = run(loads(LINE, "tiny.yaml"), workers=1)
    folder = result.write_dir(tmp_path / "run")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert set(before) == {"results.json", "replications.csv", "scenario.yaml"}
    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        result.write_dir(folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert json.loads(before["results.json"])["replications"] == 2


def test_unwritable_folder_is_found_by_trying(tmp_path: Path) -> None:
    """A folder that refuses new files is refused, even for a user whom permissions do not stop."""
    with pytest.raises(UsageError, match=r"option --json: cannot write /proc/1/x\.json"):
        check_writable("--json", Path("/proc/1/x.json"))
    check_writable("--json", tmp_path / "new" / "x.json")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def line(tmp_path: Path) -> Path:
    path = tmp_path / "line.yaml"
    path.write_text(LINE, encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["compare", "sweep"])
def test_full_disk_after_the_experiment_prints_the_results_and_exits_1(
    command: str, line: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table is printed, the files that can be written are, the others are named; exit 1."""
    name = "comparison.json" if command == "compare" else "sweep.json"
    store = tmp_path / "store"
    target = tmp_path / "copy.json"
    extra = ["--param", "stations.M.servers=1,2"] if command == "sweep" else []
    monkeypatch.setattr(os, "replace", fail_on({name, "copy.json"}))
    args = [command, str(line), *extra, "--out", str(store), "--json", str(target)]
    result = CliRunner().invoke(app, [*args, "--workers", "1"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "tiny line" in result.stdout  # the results table
    assert f"could not write {store / name}: No space left on device" in result.stderr
    assert f"could not write {target}: No space left on device" in result.stderr
    assert not target.exists() and not (store / name).exists()
    assert (store / "replications.csv").read_text(encoding="utf-8").count("\n") > 2
    assert not [p for p in store.iterdir() if p.name.endswith(".tmp")]
    # Not marked complete: the same command later finishes the files.
    assert json.loads((store / "experiment.json").read_text())["complete"] is False


def test_full_disk_store_is_a_clear_error(
    line: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the store directory cannot be written at all, one error line and exit 1."""
    monkeypatch.setattr(os, "replace", fail_on({"experiment.json"}))
    result = CliRunner().invoke(app, ["compare", str(line), "--out", str(tmp_path / "s")])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "could not keep the results in" in result.stderr
    assert "No space left on device" in result.stderr


def test_run_writes_what_it_can_when_one_target_fails(
    line: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`twin run`: --json finds the disk full, --out is still written; the table is printed."""
    monkeypatch.setattr(os, "replace", fail_on({"r.json"}))
    target, folder = tmp_path / "r.json", tmp_path / "kept"
    args = ["run", str(line), "--json", str(target), "--out", str(folder), "--workers", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "tiny line" in result.stdout
    assert f"could not write the results: {target}: No space left on device" in result.stderr
    assert not target.exists()
    doc = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert doc["replications"] == 2 and doc["complete"] is True
