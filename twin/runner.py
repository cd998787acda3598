"""Running independent replications, serially or in parallel processes.

Results come back keyed by replication index, so a parallel run is identical to a serial
one. Ctrl-C stops cleanly: finished replications are kept and the outcome says so.
"""

from __future__ import annotations

import os
import signal
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass
class Outcome(Generic[T]):
    """What a batch of tasks produced: results and errors by index, and whether it was cut."""

    total: int
    results: dict[int, T] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def done(self) -> int:
        return len(self.results) + len(self.errors)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _ignore_sigint() -> None:
    # Workers leave Ctrl-C to the parent, which cancels what has not started.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _describe(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def run_tasks(
    fn: Callable[..., T],
    tasks: Sequence[tuple[int, tuple[Any, ...]]],
    workers: int,
    on_done: Callable[[int], None] | None = None,
) -> Outcome[T]:
    """Call ``fn(*args)`` for each ``(index, args)``; ``on_done(index)`` after each one."""
    outcome: Outcome[T] = Outcome(total=len(tasks))
    try:
        if workers <= 1 or len(tasks) <= 1:
            for index, args in tasks:
                try:
                    outcome.results[index] = fn(*args)
                except Exception as exc:
                    outcome.errors[index] = _describe(exc)
                if on_done is not None:
                    on_done(index)
        else:
            _parallel(fn, tasks, workers, outcome, on_done)
    except KeyboardInterrupt:
        outcome.interrupted = True
    return outcome


def _parallel(
    fn: Callable[..., T],
    tasks: Sequence[tuple[int, tuple[Any, ...]]],
    workers: int,
    outcome: Outcome[T],
    on_done: Callable[[int], None] | None,
) -> None:
    pool = ProcessPoolExecutor(max_workers=min(workers, len(tasks)), initializer=_ignore_sigint)
    pending: dict[Future[T], int] = {}
    try:
        pending = {pool.submit(fn, *args): index for index, args in tasks}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                index = pending.pop(future)
                exc = future.exception()
                if exc is None:
                    outcome.results[index] = future.result()
                else:
                    outcome.errors[index] = _describe(exc)
                if on_done is not None:
                    on_done(index)
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
