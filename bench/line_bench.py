"""Benchmark: the engine behind ``twin run`` against the same line written in raw SimPy.

The line: 10 single-machine stations in series, saturated (no arrivals: the first station
never starves), one product, exponential process times of 54-62 s, finite input buffers of
2-5 places, and failures on every machine (MTBF 4 h, MTTR 10 min, exponential, operating
basis). Both models run in this process, one replication each, horizon after horizon:

- ``twin``: the project's building blocks, as ``scenarios.experiment.run_replication``
  uses them (build the line from the scenario, run it, collect the KPIs), so the time is
  simulation time, not process start-up;
- ``raw``: ``bench/raw_simpy_line.py``, the same semantics by hand in plain SimPy.

Printed: wall time (best of ``--repeats``), the twin/raw ratio (target: at most 1.5; judged
on the median ratio of runs of the two models made back to back, which is robust to load),
SimPy events processed per second, the peak traced memory of each run (target: flat as
the horizon grows), whether the two models agree, and one end-to-end ``twin run`` of the
CLI for information. ``--quick`` runs short horizons once. The exit status is 1 when the
models disagree (the timing would mean nothing), or with ``--strict`` when a target is
missed.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import math
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import simpy
from raw_simpy_line import RawLine, StationSpec

from models.kpi import collect
from scenarios.builder import build
from scenarios.loader import loads
from scenarios.schema import Scenario

SEED = 2020
WARMUP = 2 * 3600.0
MTBF = 4 * 3600.0
MTTR = 10 * 60.0
# (station, mean process time in seconds, input buffer places)
STATIONS = [
    ("S01", 55.0, 3),
    ("S02", 58.0, 2),
    ("S03", 60.0, 4),
    ("S04", 57.0, 3),
    ("S05", 62.0, 5),
    ("S06", 56.0, 2),
    ("S07", 59.0, 3),
    ("S08", 61.0, 4),
    ("S09", 54.0, 2),
    ("S10", 58.0, 3),
]
RATIO_TARGET = 1.5
MEMORY_SLACK = 1.25
"""Flat memory: the peak at the longest horizon is within this factor of the shortest."""


def scenario_yaml(
    horizon: float, replications: int = 1, name: str = "bench-10-station-line"
) -> str:
    """The benchmark line in the scenario format (shared with parallel_bench.py)."""
    lines = [
        f"name: {name}",
        "description: 10 stations in series, saturated, failures, finite buffers.",
        f"seed: {SEED}",
        f"horizon: {horizon:g}",
        f"warmup: {WARMUP:g}",
        f"replications: {replications}",
        "stations:",
    ]
    for sid, mean, buffer in STATIONS:
        lines += [
            f"  - id: {sid}",
            f"    input_buffer: {buffer}",
            f"    process_time: {{dist: exponential, mean: {mean:g}s}}",
            "    failures:",
            f"      mtbf: {{dist: exponential, mean: {MTBF:g}s}}",
            f"      mttr: {{dist: exponential, mean: {MTTR:g}s}}",
            "      basis: operating",
        ]
    return "\n".join(lines) + "\n"


def raw_specs() -> list[StationSpec]:
    return [StationSpec(sid, buffer, mean, MTBF, MTTR) for sid, mean, buffer in STATIONS]


def events_processed(env: simpy.Environment) -> int:
    """Events SimPy has processed: every event scheduled (``_eid``) minus those still queued.

    Reads two private attributes of ``simpy.Environment``; ``check_event_count`` holds this
    against a step-counting environment before any timing is trusted.
    """
    scheduled: int = next(env._eid)
    return scheduled - len(env._queue)


class CountingEnvironment(simpy.Environment):
    """An environment that counts its steps (slower; only to check ``events_processed``)."""

    def __init__(self) -> None:
        super().__init__()
        self.steps = 0

    def step(self) -> None:
        self.steps += 1
        super().step()


@dataclass
class Run:
    """One timed run of one model."""

    wall: float
    events: int
    throughput: float
    lead_time: float


def run_twin(scenario: Scenario, env: simpy.Environment | None = None) -> Run:
    """The project's engine, as ``run_replication`` runs replication 0 without a trace."""
    env = env or simpy.Environment()
    start = time.perf_counter()
    line = build(env, scenario, 0)
    env.run(until=scenario.horizon)
    kpis = collect(line, env.now)
    wall = time.perf_counter() - start
    figures = kpis["line"]
    assert isinstance(figures, dict)
    return Run(
        wall, events_processed(env), figures["throughput_per_hour"], figures["lead_time_s"]["mean"]
    )


def run_raw(horizon: float, env: simpy.Environment | None = None, block: bool = True) -> Run:
    """The hand-written model, with the same seed and streams."""
    env = env or simpy.Environment()
    start = time.perf_counter()
    line = RawLine(env, raw_specs(), SEED, 0, WARMUP, block)
    env.run(until=horizon)
    wall = time.perf_counter() - start
    throughput = line.throughput_per_hour(env.now)
    return Run(wall, events_processed(env), throughput, line.lead_time_mean())


def check_event_count(scenario: Scenario) -> None:
    """``events_processed`` must match a step-counting environment, for both models."""
    models: dict[str, Callable[[simpy.Environment], Run]] = {
        "twin": lambda env: run_twin(scenario, env),
        "raw": lambda env: run_raw(scenario.horizon, env),
    }
    for name, model in models.items():
        env = CountingEnvironment()
        counted = model(env).events
        if counted != env.steps:
            sys.exit(f"event count check failed for {name}: {counted} vs {env.steps} steps")


@dataclass
class Timing:
    """The fastest run of each model at one horizon, and the ratio of each pair of runs."""

    twin: Run
    raw: Run
    paired: list[float]


def time_pair(twin: Callable[[], Run], raw: Callable[[], Run], repeats: int) -> Timing:
    """Run both models ``repeats`` times, alternating, so that both see the same load."""
    twins, raws = [], []
    for _ in range(repeats):
        gc.collect()
        twins.append(twin())
        gc.collect()
        raws.append(raw())
    return Timing(
        min(twins, key=lambda r: r.wall),
        min(raws, key=lambda r: r.wall),
        [t.wall / r.wall for t, r in zip(twins, raws, strict=True)],
    )


def peak_memory(fn: Callable[[], object]) -> int:
    """Peak bytes traced while ``fn`` runs, above what was allocated before it."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def same_figures(a: Run, b: Run) -> bool:
    return a.throughput == b.throughput and a.lead_time == b.lead_time


def fmt_horizon(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:g} d" if days >= 1 else f"{seconds / 3600:g} h"


def cli_run(horizon: float) -> tuple[float, float] | None:
    """Wall time and throughput of one ``twin run`` in a fresh process, or None without CLI."""
    exe = Path(sys.executable).with_name("twin")
    twin = str(exe) if exe.exists() else shutil.which("twin")
    if twin is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "line.yaml"
        path.write_text(scenario_yaml(horizon), encoding="utf-8")
        out = Path(tmp) / "results.json"
        cmd = [twin, "run", str(path), "--reps", "1", "--workers", "1", "--json", str(out)]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        wall = time.perf_counter() - start
        doc = json.loads(out.read_text(encoding="utf-8"))
    return wall, float(doc["line"]["throughput_per_hour"]["mean"])


def profile_twin(scenario: Scenario, top: int = 25) -> str:
    """cProfile of one replication of the project's engine, sorted by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    run_twin(scenario)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    return text.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short horizons, one repeat")
    parser.add_argument("--repeats", type=int, help="timed runs per horizon (best is kept)")
    parser.add_argument("--profile", action="store_true", help="always profile the engine")
    parser.add_argument(
        "--raw-draws",
        choices=("block", "scalar"),
        default="block",
        help="raw model: numpy draws in blocks of 256 (default) or one scalar per call",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    base = 12 * 3600.0 if args.quick else 4 * 86400.0
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    if repeats < 1:
        parser.error("--repeats must be at least 1")
    block = args.raw_draws == "block"
    horizons = [base * k for k in (1, 4, 16)]
    scenarios = {h: loads(scenario_yaml(h), "bench-line.yaml") for h in horizons}

    print("10-station saturated line, failures (MTBF 4 h, MTTR 10 min), buffers 2-5")
    print(
        f"python {sys.version.split()[0]}, simpy {simpy.__version__}; "
        f"warm-up {fmt_horizon(WARMUP)}, best of {repeats}, 1 replication, 1 process; "
        f"raw model draws: {args.raw_draws}"
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average before the run: {load} on {os.cpu_count()} CPUs (noise if high)")
    check_event_count(scenarios[horizons[0]])

    twins = {h: partial(run_twin, scenarios[h]) for h in horizons}
    raws = {h: partial(run_raw, h, block=block) for h in horizons}
    timed = {h: time_pair(twins[h], raws[h], repeats) for h in horizons}
    memory = {h: (peak_memory(twins[h]), peak_memory(raws[h])) for h in horizons}

    header = (
        f"{'horizon':>8} {'twin ev':>10} {'raw ev':>10} {'twin s':>8} {'raw s':>8} {'ratio':>6} "
        f"{'twin ev/s':>10} {'raw ev/s':>10} {'twin peak':>10} {'raw peak':>10}"
    )
    print()
    print(header)
    print("-" * len(header))
    for h in horizons:
        twin, raw = timed[h].twin, timed[h].raw
        mt, mr = memory[h]
        print(
            f"{fmt_horizon(h):>8} {twin.events:>10,} {raw.events:>10,} "
            f"{twin.wall:>8.3f} {raw.wall:>8.3f} "
            f"{twin.wall / raw.wall:>6.2f} {twin.events / twin.wall:>10,.0f} "
            f"{raw.events / raw.wall:>10,.0f} {mt / 1024:>7,.0f} KiB {mr / 1024:>6,.0f} KiB"
        )

    print()
    print(
        f"{'horizon':>8} {'twin parts/h':>13} {'raw parts/h':>12} {'twin lead s':>12} "
        f"{'raw lead s':>11}  agreement"
    )
    agree = True
    for h in horizons:
        twin, raw = timed[h].twin, timed[h].raw
        if same_figures(twin, raw):
            # The engine spends no event on a free place or a waiting part; the raw model
            # does, so the counts differ while the parts' times are the same.
            same = twin.events == raw.events
            verdict = "identical sample path" if same else "same figures, fewer events"
        else:
            diff = abs(twin.throughput - raw.throughput) / raw.throughput
            ok = diff <= (0.10 if args.quick else 0.05)
            agree &= ok or h != horizons[-1]
            verdict = f"{'within noise' if ok else 'DISAGREE'} ({diff:.1%} apart)"
        print(
            f"{fmt_horizon(h):>8} {twin.throughput:>13.3f} {raw.throughput:>12.3f} "
            f"{twin.lead_time:>12.1f} {raw.lead_time:>11.1f}  {verdict}"
        )

    paired = sorted(r for t in timed.values() for r in t.paired)
    ratio = statistics.median(paired)
    growth = memory[horizons[-1]][0] / memory[horizons[0]][0]
    ratio_ok = ratio <= RATIO_TARGET
    memory_ok = growth <= MEMORY_SLACK
    print()
    print(
        f"time ratio, median of {len(paired)} paired runs: {ratio:.2f}x raw SimPy "
        f"(range {paired[0]:.2f}-{paired[-1]:.2f}); "
        f"target <= {RATIO_TARGET}x: {'met' if ratio_ok else 'MISSED'}"
    )
    print(
        f"twin peak memory, {fmt_horizon(horizons[-1])} vs {fmt_horizon(horizons[0])}: "
        f"{growth:.2f}x; target flat (<= {MEMORY_SLACK}x): {'met' if memory_ok else 'MISSED'}"
    )

    cli = cli_run(base)
    if cli is None:
        print("twin run (CLI): no `twin` executable found, skipped")
    else:
        wall, throughput = cli
        sim = timed[base].twin.wall
        same = "same" if math.isclose(throughput, timed[base].twin.throughput) else "DIFFERENT"
        print(
            f"twin run (CLI, end to end, {fmt_horizon(base)}): {wall:.2f} s wall, of which "
            f"{sim:.2f} s simulation; throughput {throughput:.3f}/h ({same} as in-process)"
        )

    if args.profile or not ratio_ok:
        print()
        print(f"profile of the engine, {fmt_horizon(horizons[-1])}:")
        print(profile_twin(scenarios[horizons[-1]]))

    if not agree:
        print("the two models disagree: the timings above compare different things")
        return 1
    if args.strict and not (ratio_ok and memory_ok):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
