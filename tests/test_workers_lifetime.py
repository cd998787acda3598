"""Worker processes end when the command that started them is killed, however it is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from twin.runner import bind_to_parent

# Saturated, long replications: the workers are busy for minutes unless stopped.
LONG = """\
name: long line
seed: 1
horizon: 30d
replications: 8
stations:
  - id: A
    process_time: {dist: exponential, mean: 1}
  - id: B
    process_time: {dist: exponential, mean: 1}
"""

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="parent-death signal is Linux's")


def wait_for(check: Callable[[], object], seconds: float) -> bool:
    """Poll ``check()`` until it is true or ``seconds`` have passed (a generous bound)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.1)
    return False


def workers_of(main: psutil.Process) -> list[psutil.Process]:
    """The processes running replications for ``main`` (its descendants, fork server included)."""
    try:
        procs: list[psutil.Process] = main.children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return procs


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    living = []
    for p in procs:
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                living.append(p)
        except psutil.NoSuchProcess:
            pass
    return living


def test_workers_end_when_the_command_is_killed(tmp_path: Path) -> None:
    """SIGKILL the `twin run` process: its fork server and both workers are gone within 15 s."""
    line = tmp_path / "long.yaml"
    line.write_text(LONG, encoding="utf-8")
    command = [sys.executable, "-c", "from twin.cli import main; main()"]
    main = subprocess.Popen(
        [*command, "run", str(line), "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    parent = psutil.Process(main.pid)
    descendants: list[psutil.Process] = []
    try:
        # The fork server and two workers: three descendants.
        assert wait_for(lambda: len(workers_of(parent)) >= 3, 60), "workers never started"
        descendants = workers_of(parent)
        main.send_signal(signal.SIGKILL)
        main.wait(10)
        assert wait_for(lambda: not alive(descendants), 15), alive(descendants)
    finally:
        for p in alive(descendants):
            p.kill()
        if main.poll() is None:
            main.kill()


def test_a_worker_whose_parent_is_gone_exits_at_once() -> None:
    """A worker starting after its parent died exits instead of running tasks for nobody."""
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            bind_to_parent(2**22 + 12345)  # no such process
        finally:
            os._exit(0)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == -signal.SIGTERM
