"""Ctrl-C while workers run: the parent stops at a safe point, keeps what finished, and
leaves Ctrl-C as it found it."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

from scenarios.experiment import run_replication
from scenarios.schema import Scenario
from twin.runner import run_tasks

LINE = """\
name: short line
seed: 4
horizon: 2h
replications: 200
stations:
  - id: A
    process_time: {dist: exponential, mean: 60s}
"""


def test_ctrl_c_between_results_stops_the_pool_cleanly(
    scenario: Callable[[str], Scenario],
) -> None:
    """A SIGINT delivered to the parent as its first result comes in (while it waits on
    hundreds of futures) ends the run as interrupted, with the finished replications kept
    and the rest cancelled; the parent's Ctrl-C handler is back afterwards."""
    model = scenario(LINE)
    before = signal.getsignal(signal.SIGINT)
    done: list[int] = []

    def on_done(index: int, result: object) -> None:
        done.append(index)
        if len(done) == 1:
            os.kill(os.getpid(), signal.SIGINT)

    tasks = [(i, (model, i)) for i in range(200)]
    outcome = run_tasks(run_replication, tasks, workers=2, on_done=on_done)
    assert outcome.interrupted
    assert 1 <= len(outcome.results) < 200
    assert sorted(outcome.results) == sorted(done)
    assert signal.getsignal(signal.SIGINT) is before
