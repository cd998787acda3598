"""A second experiment on a store directory in use is refused; a dead holder leaves no lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lines import machines
from typer.testing import CliRunner

from scenarios.store import LOCK_NAME, claim
from twin.cli import app
from twin.errors import UsageError

# Long replications and retrofits to compare: the first command stays busy for minutes.
LONG = machines("A", "B", name="long line", seed=2, horizon="30d", replications=4)
SHORT = machines("A", "B", name="long line", seed=2, horizon=600, replications=4)


def holder_pid(store: Path) -> int | None:
    """The pid written into the lock once the first command holds it."""
    try:
        text = (store / LOCK_NAME).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def wait_for_holder(store: Path, seconds: float = 60) -> int:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pid = holder_pid(store)
        if pid is not None:
            return pid
        time.sleep(0.1)
    raise AssertionError("the first command never took the store")


@pytest.mark.parametrize("command", ["compare", "sweep"])
def test_second_command_on_a_busy_out_is_refused(command: str, tmp_path: Path) -> None:
    """Two real processes on one --out: the second exits 2 naming the first's pid, runs nothing."""
    line = tmp_path / "long.yaml"
    line.write_text(LONG, encoding="utf-8")
    store = tmp_path / "store"
    extra = ["--param", "stations.B.servers=1,2"] if command == "sweep" else []
    argv = [command, str(line), *extra, "--out", str(store), "--workers", "1"]
    twin = [sys.executable, "-c", "from twin.cli import main; main()"]
    first = subprocess.Popen([*twin, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for_holder(store) == first.pid
        second = subprocess.run([*twin, *argv], capture_output=True, text=True, timeout=60)
        assert second.returncode == 2, second.stderr
        assert second.stderr.strip() == (
            f"error: option --out: {store} is in use by another twin process "
            f"(pid {first.pid}); wait for it or choose another --out"
        )
        assert second.stdout == ""
        assert first.poll() is None  # the first goes on undisturbed
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(30)


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    """After the holder is SIGKILLed, the next command takes the directory and runs."""
    line = tmp_path / "long.yaml"
    line.write_text(LONG, encoding="utf-8")
    store = tmp_path / "store"
    twin = [sys.executable, "-c", "from twin.cli import main; main()"]
    argv = ["compare", str(line), "--out", str(store), "--workers", "1"]
    first = subprocess.Popen([*twin, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_holder(store)
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    with claim(store):
        assert holder_pid(store) == os.getpid()
    line.write_text(SHORT, encoding="utf-8")
    result = CliRunner().invoke(app, ["compare", str(line), "--out", str(store)])
    assert result.exit_code == 0, result.output
    assert (store / "comparison.json").is_file()


def test_claim_refuses_a_second_holder_in_one_process(tmp_path: Path) -> None:
    """The lock is per open file: a second claim, even from this process, is refused."""
    busy = rf"in use by another twin process \(pid {os.getpid()}\)"
    with claim(tmp_path / "d"), pytest.raises(UsageError, match=busy), claim(tmp_path / "d"):
        pass
    with claim(tmp_path / "d"):  # released on leaving
        assert holder_pid(tmp_path / "d") == os.getpid()
