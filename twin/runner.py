"""Running independent tasks (replications), serially, in local processes or on Dask.

Results come back keyed by task index, so every way of running gives identical results.
``on_done(index, result)`` is called in this process as each task finishes (``result`` is
``None`` when the task failed), so callers can store results as they arrive. Ctrl-C stops
cleanly: finished tasks are kept and the outcome says the run was interrupted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import traceback
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from twin.errors import SimulationError, UsageError

if TYPE_CHECKING:
    import multiprocessing.context
    from concurrent.futures import Future

# Processes, threads and their pools are imported where they are used: a run of one
# replication in this process starts faster without them.

T = TypeVar("T")
Task = tuple[int, tuple[Any, ...]]
OnDone = Callable[[int, Any], None]


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

    def record(self, index: int, result: T | None, error: BaseException | None) -> None:
        if error is None:
            self.results[index] = result  # type: ignore[assignment]
        else:
            self.errors[index] = "".join(
                traceback.format_exception_only(type(error), error)
            ).strip()


def default_workers() -> int:
    """All the cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _context() -> multiprocessing.context.BaseContext:
    """Workers come from a fork server that has the simulator imported already: fast to
    start, and safe although the parent runs threads (the progress bar)."""
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():  # pragma: no cover
        return multiprocessing.get_context("spawn")
    multiprocessing.set_forkserver_preload(["scenarios.experiment"])
    return multiprocessing.get_context("forkserver")


@contextmanager
def _without_main(fn: Callable[..., Any]) -> Iterator[None]:
    """Start workers that do not re-run the main script.

    A worker process normally imports the parent's main script (as ``__mp_main__``) before
    it runs anything; a script without an ``if __name__ == "__main__":`` guard then starts
    its experiment again in every worker, which fails. The task function and its arguments
    live in importable modules, so while workers start the main module is replaced by an
    empty one and workers skip that import (also sparing them a notebook's or a script's
    own imports). A task function defined in the main script keeps the usual behaviour.
    """
    main = sys.modules.get("__main__")
    if main is None or getattr(fn, "__module__", None) == "__main__":
        yield
        return
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


BROKEN = (
    "a worker process ended abruptly (killed, out of memory, or it failed while starting); "
    'in a script, put the calls under `if __name__ == "__main__":`, or run with one worker'
)


def _ignore_sigint() -> None:
    # Workers leave Ctrl-C to the parent, which cancels what has not started.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _start_worker(parent: int) -> None:
    """Initialize a worker process: Ctrl-C is the parent's, and the worker ends with it."""
    _ignore_sigint()
    bind_to_parent(parent)


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def bind_to_parent(parent: int) -> None:
    """End this process (SIGTERM) when process ``parent`` ends, however it ends.

    Workers are forked by a fork server, which outlives a killed command as long as its
    workers live; so each worker watches the command itself, and also asks the kernel to
    signal it should its direct parent die.
    """
    import threading

    if sys.platform == "linux":
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if not _alive(parent):
        _end()
    threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()


def _watch(parent: int) -> None:
    """Wait until ``parent`` ends (a pidfd where the system has one, else polling), then end."""
    try:
        fd = os.pidfd_open(parent)
    except ProcessLookupError:
        _end()
    except (AttributeError, OSError):
        while _alive(parent):
            time.sleep(1.0)
        _end()
    else:
        import select

        select.select([fd], [], [])
        _end()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _end() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


def run_tasks(
    fn: Callable[..., T],
    tasks: Sequence[Task],
    workers: int = 1,
    on_done: OnDone | None = None,
    scheduler: str | None = None,
) -> Outcome[T]:
    """Call ``fn(*args)`` for each ``(index, args)`` and collect what comes back."""
    outcome: Outcome[T] = Outcome(total=len(tasks))

    def finish(index: int, result: T | None, error: BaseException | None) -> None:
        outcome.record(index, result, error)
        if on_done is not None:
            on_done(index, result if error is None else None)

    try:
        if scheduler is not None:
            _dask(fn, tasks, scheduler, finish)
        elif workers <= 1 or len(tasks) <= 1:
            for index, args in tasks:
                try:
                    result = fn(*args)
                except Exception as exc:
                    finish(index, None, exc)
                else:
                    finish(index, result, None)
        else:
            _local(fn, tasks, workers, finish)
    except KeyboardInterrupt:
        outcome.interrupted = True
    return outcome


Finish = Callable[[int, Any, BaseException | None], None]


def _local(fn: Callable[..., Any], tasks: Sequence[Task], workers: int, finish: Finish) -> None:
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(tasks)),
        mp_context=_context(),
        initializer=_start_worker,
        initargs=(os.getpid(),),
    )
    pending: dict[Future[Any], int] = {}

    def collect(futures: set[Future[Any]]) -> None:
        for future in futures:
            index = pending.pop(future)
            exc = future.exception()
            if isinstance(exc, BrokenProcessPool):
                exc = SimulationError(BROKEN)
            finish(index, None if exc else future.result(), exc)

    stop = _Interrupt()
    try:
        with stop:
            with _without_main(fn):
                pending = {pool.submit(fn, *args): index for index, args in tasks}
            while pending and not stop.asked:
                finished, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                collect(finished)
            if stop.asked:
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        # Cancel what has not started; keep what is running, which finishes shortly.
        for future in pending:
            future.cancel()
        running = {f for f in pending if not f.cancelled()}
        collect(wait(running).done)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _Interrupt:
    """Ctrl-C as a flag while the parent waits for its workers.

    Raised as KeyboardInterrupt, Ctrl-C could land inside ``concurrent.futures.wait``
    while it holds some of the futures' locks and leave them held: the pool's thread
    could then never hand over a result, and the run would hang. So the first Ctrl-C only
    sets ``asked`` (the waiting loop looks at it) and a second one interrupts at once. In
    a thread other than the main one, where signal handlers cannot be set, Ctrl-C keeps
    its usual form.
    """

    def __init__(self) -> None:
        self.asked = False
        self._previous: Any = None
        self._installed = False

    def _handle(self, signum: int, frame: Any) -> None:
        if self.asked:
            raise KeyboardInterrupt
        self.asked = True

    def __enter__(self) -> _Interrupt:
        import threading

        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False


def _dask(fn: Callable[..., Any], tasks: Sequence[Task], scheduler: str, finish: Finish) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover - depends on the installation
        raise UsageError(
            "option --scheduler needs Dask: pip install 'shopfloor-twin[dask]'"
        ) from None
    try:
        client = Client(scheduler, set_as_default=False, timeout="5s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(f"option --scheduler: cannot reach {scheduler}: {exc}") from None
    import uuid

    run = uuid.uuid4().hex[:8]
    with client:
        futures = {
            client.submit(fn, *args, key=f"twin-{run}-{index}", pure=False): index
            for index, args in tasks
        }
        try:
            for future in as_completed(futures, loop=client.loop):
                index = futures[future]
                if future.status == "finished":
                    finish(index, future.result(), None)
                else:
                    finish(index, None, future.exception())
        finally:
            client.cancel(list(futures))
