"""Benchmark: replications in parallel processes, and what the experiment store costs.

The batch: ``--reps`` replications (16; 8 with ``--quick``) of a 10-station saturated line
with failures on every machine (MTBF 4 h, MTTR 10 min, exponential process times of
54-62 s, buffers of 2-5 places), each 7 days simulated, about 0.5 s of CPU (``--quick``:
1 day, about 0.07 s).
Every way of running it goes through the project's own code:

- ``loop``: a plain ``for`` loop over ``scenarios.experiment.run_replication`` (the floor);
- ``run w=1`` / ``run w=N``: ``scenarios.experiment.run`` with 1 and ``--workers`` (2)
  local processes; the speed-up is ``run w=1 / run w=N`` (target: at least 1.8 on 2 cores);
- ``batch w=1`` / ``batch w=N``: ``scenarios.batch.evaluate`` with a fresh ``Store`` in a
  temporary directory each time (nothing reused), as ``twin compare`` and ``twin sweep`` run;
- ``dask``: ``evaluate`` on a ``distributed.LocalCluster`` (2 worker processes, one thread
  each, on 127.0.0.1); its start-up and its first (cold) batch are printed apart from the
  warm best (skip with ``--no-dask``).

Times are the best of ``--repeats`` (3; 1 with ``--quick``), the variants interleaved so
that they all see the same machine load. Every way must give results identical to the
loop, to the bit (compared as canonical JSON), and the store must give them back as put;
the exit status is 1 otherwise, or with ``--strict`` when the speed-up target is missed.

When the speed-up falls short, the numbers printed under "why" tell the causes apart:

- the machine: two pure-Python burners run alone and side by side; their ratio is what
  two processes can get from this machine right now (other processes, shared cores);
- CPU in the workers: the workers' CPU time against the serial CPU time (each task slower
  in a worker: contention) and against ``workers x wall`` (workers idle: start-up,
  granularity, the parent being slow to feed them);
- process start-up: a pool running no-op tasks through ``twin.runner.run_tasks``;
- pickling: size and round-trip time of a task's arguments (the scenario) and a result;
- granularity: the measured task times, scheduled in submission order on the workers,
  give the best speed-up the batch allows (the last tasks leave a worker idle).

The store part times ``model_key``, ``Store.put`` (JSON encoding and one SQLite commit per
replication) and ``Store.load``, each per replication and as a share of one replication's
simulation time, and compares ``batch w=1`` with ``loop``. ``--store-dir`` puts the
database somewhere other than the temporary directory (a commit costs what the file
system's sync costs).

The runner starts its workers from a fork server that has the simulator preloaded (safe
beside the progress bar's thread; about 0.4 s once per command, then a pool starts in
about 20 ms). Measured on a 2-core machine (Python 3.11), nothing else running: the default batch
takes 8.6 s in 1 process and 4.35 s in 2, a speed-up of 1.97-1.98x (1.94-1.97x through ``evaluate``
with the store; 1.85x on Dask), every way identical to the bit. The runner costs little: a
fork pool starts in about 11 ms, a task's arguments pickle to 3.4 kB and a result to
2.1 kB (0.14 ms round trip), and the workers are busy 99% of the wall time. With other
processes on the machine the speed-up falls to about 1.0x, and the burner ceiling falls
with it: the machine, not the runner. Start-up is what would change that: a ``spawn``
pool (the default on macOS and Windows; ``forkserver``, Linux's default from Python 3.14,
imports alike unless modules are preloaded, as the runner does) spends 0.3-1 s importing
the project in each worker, 8-11% of this batch, paid again by every ``evaluate`` call.
``Store.put`` costs about 0.085 ms per replication (one SQLite commit in WAL mode with
``synchronous=NORMAL``), under 0.02% of a replication.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import pickle
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from line_bench import scenario_yaml as line_scenario

from scenarios.batch import evaluate
from scenarios.experiment import run, run_replication
from scenarios.loader import loads
from scenarios.schema import Scenario
from scenarios.store import Store, model_key
from twin.runner import run_tasks

SPEEDUP_TARGET = 1.8
BURN_LOOPS = 10_000_000
"""Iterations of the pure-Python burner (about 0.3 s on a free core)."""

KPIs = dict[str, Any]
Results = dict[int, KPIs]


def scenario_yaml(horizon: float, replications: int) -> str:
    """The benchmark line of line_bench.py, with ``replications`` replications."""
    return line_scenario(horizon, replications, "bench-parallel-line")


def canonical(results: Mapping[int, KPIs]) -> str:
    """Results as canonical JSON: equal strings mean equal results, to the bit (NaN too)."""
    return json.dumps({str(k): results[k] for k in sorted(results)}, sort_keys=True)


@dataclass
class Timing:
    """The timed runs of one way of running the batch."""

    walls: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    results: Results = field(default_factory=dict)

    @property
    def best(self) -> float:
        return min(self.walls)

    @property
    def best_cpu(self) -> float:
        return self.cpu[self.walls.index(self.best)]


def cpu_seconds() -> float:
    """CPU seconds of this process and of its finished (waited-for) children, such as the
    pool's workers once the pool is shut down."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed(timing: Timing, fn: Callable[[], Results]) -> None:
    gc.collect()
    cpu = cpu_seconds()
    start = time.perf_counter()
    results = fn()
    timing.walls.append(time.perf_counter() - start)
    timing.cpu.append(cpu_seconds() - cpu)
    timing.results = results


def loop(scenario: Scenario, reps: int, durations: list[float]) -> Results:
    """The floor: one process, no runner, no store; task times go to ``durations``."""
    durations.clear()
    results: Results = {}
    for rep in range(reps):
        start = time.perf_counter()
        results[rep] = run_replication(scenario, rep)
        durations.append(time.perf_counter() - start)
    return results


def run_batch(scenario: Scenario, workers: int) -> Results:
    outcome = run(scenario, workers=workers).outcome
    if outcome.errors:
        sys.exit(f"replications failed: {outcome.errors}")
    return outcome.results


def store_batch(
    scenario: Scenario, reps: int, workers: int, root: Path, scheduler: str | None = None
) -> Results:
    """``evaluate`` with a fresh store; checks the store gives back what was put."""
    with tempfile.TemporaryDirectory(dir=root) as tmp, Store(Path(tmp) / "store.sqlite") as store:
        batch = evaluate({"line": scenario}, reps, store, workers, scheduler)
        if batch.errors:
            sys.exit(f"replications failed: {batch.errors}")
        results = batch.results["line"]
        if canonical(store.load(model_key(scenario))) != canonical(results):
            sys.exit("the store gave back different results from those put")
        return results


def noop(index: int) -> int:
    return index


def pool_startup(workers: int, repeats: int) -> float:
    """Wall time of ``run_tasks`` running ``workers`` no-op tasks in a fresh pool (best)."""
    best = float("inf")
    for _ in range(max(3, repeats)):
        start = time.perf_counter()
        run_tasks(noop, [(i, (i,)) for i in range(workers)], workers)
        best = min(best, time.perf_counter() - start)
    return best


def spawn_startup(workers: int) -> float:
    """Wall time of a pool whose workers start fresh interpreters and import the project
    (the ``spawn`` start method: the default on macOS and Windows)."""
    ctx = multiprocessing.get_context("spawn")
    start = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        list(pool.map(noop, range(workers)))
    return time.perf_counter() - start


def burn(out: Any = None) -> float:
    """A pure-Python CPU burner; returns (or sends) its own wall time."""
    start = time.perf_counter()
    total = 0
    for i in range(BURN_LOOPS):
        total += i * i
    wall = time.perf_counter() - start
    if out is not None:
        out.send(wall)
    return wall


def machine_ceiling(workers: int) -> tuple[float, float, float]:
    """(alone s, side by side s, ceiling): what ``workers`` processes get from this machine.

    Each burner times itself, so fork and join are not counted.
    """
    ctx = multiprocessing.get_context("fork")
    alone = min(burn() for _ in range(3))
    together = []
    for _ in range(3):
        pipes = [ctx.Pipe(duplex=False) for _ in range(workers)]
        procs = [ctx.Process(target=burn, args=(w,)) for _, w in pipes]
        for p in procs:
            p.start()
        together.append(max(r.recv() for r, _ in pipes))
        for p in procs:
            p.join()
    side = min(together)
    return alone, side, workers * alone / side


def list_schedule(durations: list[float], workers: int) -> float:
    """Makespan of the tasks handed out in order, each to the first worker to be free."""
    free = [0.0] * workers
    for d in durations:
        i = free.index(min(free))
        free[i] += d
    return max(free)


def pickling(scenario: Scenario, result: KPIs) -> tuple[int, int, float]:
    """(task bytes, result bytes, round-trip seconds of both) as the process pool pickles."""
    args = (scenario, 0, None)
    reps = 50
    start = time.perf_counter()
    for _ in range(reps):
        a = pickle.dumps(args, pickle.HIGHEST_PROTOCOL)
        pickle.loads(a)
        r = pickle.dumps(result, pickle.HIGHEST_PROTOCOL)
        pickle.loads(r)
    return len(a), len(r), (time.perf_counter() - start) / reps


@dataclass
class StoreCost:
    key_s: float
    encode_s: float
    put_median_s: float
    put_mean_s: float
    put_normal_s: float
    load_s: float
    rows: int


def put_times(path: Path, key: str, samples: list[KPIs], synchronous: str | None) -> list[float]:
    """Seconds of each ``Store.put`` into a new database at ``path``."""
    times = []
    with Store(path) as store:
        if synchronous is not None:
            # What-if only: the store does not offer this setting.
            store._db.execute(f"PRAGMA synchronous={synchronous}")
        for rep, kpis in enumerate(samples):
            start = time.perf_counter()
            store.put(key, rep, "line", kpis)
            times.append(time.perf_counter() - start)
    return times


def store_cost(scenario: Scenario, results: Results, rows: int, root: Path) -> StoreCost:
    """Per-replication cost of the store, on ``rows`` rows in a fresh database under ``root``."""
    keys = []
    for _ in range(20):
        start = time.perf_counter()
        key = model_key(scenario)
        keys.append(time.perf_counter() - start)
    samples = [results[i % len(results)] for i in range(rows)]
    start = time.perf_counter()
    for kpis in samples:
        json.dumps(kpis, sort_keys=True)
    encode = (time.perf_counter() - start) / rows
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        puts = put_times(Path(tmp) / "store.sqlite", key, samples, None)
        normal = put_times(Path(tmp) / "normal.sqlite", key, samples, "NORMAL")
        loads_ = []
        for _ in range(5):
            with Store(Path(tmp) / "store.sqlite") as store:
                start = time.perf_counter()
                back = store.load(key)
                loads_.append(time.perf_counter() - start)
        if len(back) != rows:
            sys.exit(f"the store gave back {len(back)} rows of {rows}")
    return StoreCost(
        min(keys),
        encode,
        statistics.median(puts),
        statistics.fmean(puts),
        statistics.fmean(normal),
        min(loads_) / rows,
        rows,
    )


@dataclass
class DaskRun:
    startup_s: float
    connect_s: float
    cold_s: float
    warm: Timing
    note: str


def dask_batch(
    scenario: Scenario, reps: int, workers: int, repeats: int, root: Path
) -> DaskRun | str:
    """Timings of ``evaluate`` on a LocalCluster, or why there are none."""
    try:
        import logging

        from distributed import Client, LocalCluster
    except ImportError:
        return "distributed is not installed"
    start = time.perf_counter()
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    startup = time.perf_counter() - start
    timing = Timing()
    note = ""
    default: Any = None
    try:
        address = cluster.scheduler_address
        start = time.perf_counter()
        try:
            cold = store_batch(scenario, reps, workers, root, address)
        except ValueError as exc:
            # The runner's ``as_completed`` looks for a default client; lend it one.
            first = str(exc).splitlines()[0]
            note = f"the runner failed without a default Dask client ({first}); timed with one"
            default = Client(address)
            start = time.perf_counter()
            cold = store_batch(scenario, reps, workers, root, address)
        cold_s = time.perf_counter() - start
        for _ in range(repeats):
            timed(timing, lambda: store_batch(scenario, reps, workers, root, address))
        if canonical(cold) != canonical(timing.results):
            timing.results = {}
        connect = float("inf")
        for _ in range(3):  # the runner opens a client for every batch
            start = time.perf_counter()
            Client(address, set_as_default=False, timeout="10s").close()
            connect = min(connect, time.perf_counter() - start)
    finally:
        with suppress(Exception):
            if default is not None:
                default.close()
            cluster.close()
    return DaskRun(startup, connect, cold_s, timing, note)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if abs(seconds) >= 1e-3 else f"{seconds * 1e6:.0f} us"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short replications, one repeat")
    parser.add_argument("--reps", type=int, help="replications in the batch (16; quick 8)")
    parser.add_argument("--horizon", type=float, help="seconds simulated per replication")
    parser.add_argument("--repeats", type=int, help="timed runs of each way (best is kept)")
    parser.add_argument("--workers", type=int, default=2, help="processes in parallel (2)")
    parser.add_argument("--store-dir", type=Path, help="where the store's databases go")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    reps = args.reps or (8 if args.quick else 16)
    horizon = args.horizon or (86400.0 if args.quick else 7 * 86400.0)
    repeats = args.repeats or (1 if args.quick else 3)
    workers = args.workers
    root = args.store_dir or Path(tempfile.gettempdir())
    root.mkdir(parents=True, exist_ok=True)
    scenario = loads(scenario_yaml(horizon, reps), "bench-parallel-line.yaml")

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"{reps} replications of a 10-station line with failures, horizon {horizon / 86400:g} d; "
        f"{workers} workers on {cpus} CPUs; best of {repeats}"
    )
    print(
        f"python {sys.version.split()[0]}, workers from the runner's fork server; "
        f"load average before: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    run_replication(scenario, 0)  # imports and caches, before anything is timed or forked

    ways = ["loop", "run w=1", f"run w={workers}", "batch w=1", f"batch w={workers}"]
    timings = {w: Timing() for w in ways}
    durations: list[float] = []
    best_durations: list[float] = []
    for _ in range(repeats):
        timed(timings["loop"], lambda: loop(scenario, reps, durations))
        if timings["loop"].walls[-1] == timings["loop"].best:
            best_durations = list(durations)
        timed(timings["run w=1"], lambda: run_batch(scenario, 1))
        timed(timings[f"run w={workers}"], lambda: run_batch(scenario, workers))
        timed(timings["batch w=1"], lambda: store_batch(scenario, reps, 1, root))
        timed(timings[f"batch w={workers}"], lambda: store_batch(scenario, reps, workers, root))

    dask: DaskRun | str = "skipped (--no-dask)"
    if not args.no_dask:
        dask = dask_batch(scenario, reps, workers, repeats, root)
        if not isinstance(dask, str):
            timings["dask"] = dask.warm

    floor = canonical(timings["loop"].results)
    identical = True
    rep_s = statistics.fmean(best_durations)
    print()
    print(f"{'way':<12} {'best s':>8} {'per rep':>9} {'vs run w=1':>11} {'CPU s':>7}  results")
    base = timings["run w=1"].best
    for way, t in timings.items():
        same = canonical(t.results) == floor
        identical &= same
        # Dask's workers are not this process's children: their CPU time is not seen here.
        cpu = "-" if way == "dask" else f"{t.best_cpu:.2f}"
        print(
            f"{way:<12} {t.best:>8.3f} {ms(t.best / reps):>9} {base / t.best:>10.2f}x "
            f"{cpu:>7}  {'identical' if same else 'DIFFERENT'}"
        )

    parallel = timings[f"run w={workers}"]
    speedup = base / parallel.best
    batch_speedup = timings["batch w=1"].best / timings[f"batch w={workers}"].best
    met = speedup >= SPEEDUP_TARGET
    print()
    print(
        f"speed-up, run w=1 -> w={workers}: {speedup:.2f}x (batch with store: "
        f"{batch_speedup:.2f}x); target >= {SPEEDUP_TARGET}x: {'met' if met else 'MISSED'}"
    )

    alone, side, ceiling = machine_ceiling(workers)
    startup = pool_startup(workers, repeats)
    spawned = spawn_startup(workers)
    task_bytes, result_bytes, pickle_s = pickling(scenario, timings["loop"].results[0])
    serial = sum(best_durations)
    granular = serial / list_schedule(best_durations, workers)
    serial_cpu = timings["loop"].best_cpu
    cpu_ratio = parallel.best_cpu / serial_cpu
    busy = parallel.best_cpu / (workers * parallel.best)
    print()
    print("why (each bounds the speed-up on its own):")
    share = serial_cpu / timings["loop"].best
    print(
        f"  contention: the serial loop got {share:.0%} of a CPU"
        + ("" if share > 0.9 else " (other processes compete: all timings are noisy)")
    )
    print(
        f"  machine: a burner takes {alone:.3f} s alone, {side:.3f} s with {workers} side by side"
        f" -> ceiling {ceiling:.2f}x"
    )
    if parallel.best_cpu > 0.1 * serial_cpu:
        print(
            f"  CPU: {parallel.best_cpu:.2f} s in parallel vs {serial_cpu:.2f} s serial "
            f"({cpu_ratio:.2f}x; > 1: each task slower in a worker); busy {busy:.0%} of "
            f"{workers} x wall (< 100%: workers idle, or the CPU taken by others)"
        )
    else:
        print(
            "  CPU: not seen here (the workers are children of the fork server, not of this "
            "process)"
        )
    print(
        f"  process start-up: {ms(startup)} for a pool of {workers} running no-op tasks "
        f"({startup / parallel.best:.1%} of the parallel batch); with spawn (imports in each "
        f"worker) {ms(spawned)} ({spawned / parallel.best:.1%})"
    )
    print(
        f"  pickling: task {task_bytes:,} B, result {result_bytes:,} B, round trip "
        f"{ms(pickle_s)} per task ({reps * pickle_s / serial:.2%} of the serial batch)"
    )
    print(
        f"  granularity: tasks {min(best_durations):.3f}-{max(best_durations):.3f} s "
        f"(mean {rep_s:.3f}); in submission order on {workers} workers -> at most "
        f"{granular:.2f}x"
    )
    print(
        f"  efficiency: {speedup / min(ceiling, granular):.0%} of what the machine and the "
        f"granularity allow ({min(ceiling, granular):.2f}x)"
    )

    cost = store_cost(scenario, timings["loop"].results, max(reps, 200), root)
    overhead = (timings["batch w=1"].best - timings["loop"].best) / reps
    print()
    print(f"store ({cost.rows} rows, in {root}):")
    print(f"  model_key: {ms(cost.key_s)} per model ({cost.key_s / rep_s:.3%} of a replication)")
    print(
        f"  put: median {ms(cost.put_median_s)}, mean {ms(cost.put_mean_s)} per replication "
        f"({cost.put_mean_s / rep_s:.3%} of a replication's {rep_s:.3f} s), "
        f"of which JSON {ms(cost.encode_s)}"
    )
    print(
        f"  put with PRAGMA synchronous=NORMAL (what-if): mean {ms(cost.put_normal_s)} "
        f"({cost.put_normal_s / rep_s:.3%})"
    )
    print(f"  load: {ms(cost.load_s)} per replication ({cost.load_s / rep_s:.3%})")
    print(
        f"  batch w=1 vs loop: {ms(overhead)} per replication ({overhead / rep_s:+.2%}; "
        f"runner, store and noise together)"
    )

    print()
    if isinstance(dask, str):
        print(f"dask: {dask}")
    else:
        local = timings[f"batch w={workers}"].best
        warm = dask.warm.best
        print(
            f"dask LocalCluster ({workers} processes, 127.0.0.1): start-up {dask.startup_s:.2f} s, "
            f"cold batch {dask.cold_s:.2f} s, warm {warm:.2f} s = {base / warm:.2f}x vs run w=1, "
            f"{local / warm:.2f}x vs the local pool (batch w={workers}); a client connects in "
            f"{ms(dask.connect_s)}"
        )
        if dask.note:
            print(f"  NOTE: {dask.note}")

    if not identical:
        print("results differ between ways of running: the timings compare different things")
        return 1
    if args.strict and not met:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
