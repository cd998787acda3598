"""Benchmark: ``twin run`` against the same line written the way an experienced SimPy user
writes it (``bench/idiomatic_simpy_line.py``), on ``bench/idiomatic_line.yaml``.

The line: 10 single-machine stations in series, saturated, exponential process times of
mean 1 s, failures every 100 s of operation (exponential), exponential repairs of mean 10 s,
buffers of 5 between stations. Printed:

- **in process**: ``scenarios.experiment.run_replication`` against the idiomatic model's
  simulation (build and run; imports excluded), median and range of the paired ratios;
- **end to end**: ``twin run SCENARIO --reps 1 --workers 1`` against ``python
  bench/idiomatic_simpy_line.py`` over the same horizon, each a fresh process, timed pair
  by pair, median and range of the ratios (target: at most 1.5);
- **start-up**: a one-replication ``twin run`` of a 1-second horizon, and for scale a bare
  interpreter and ``import twin.cli`` (target: under 0.3 s);
- **events**: the SimPy events each model processes over 20,000 s (the engine spends none
  on a free place or a waiting part; the idiomatic model spends a get and a put per part
  and station);
- **agreement**: throughput of both models over a few seeds, with 95% confidence
  intervals. The models draw different random numbers, so they agree statistically, not
  event for event; the script exits 1 if the means differ by more than 3%.

``--quick`` uses a shorter horizon and fewer pairs. With ``--strict`` a missed target also
makes the exit status 1.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import idiomatic_simpy_line as idiomatic
import simpy

from scenarios.builder import build
from scenarios.experiment import run_replication
from scenarios.loader import load
from scenarios.schema import Scenario
from twin.stats import summarize

HERE = Path(__file__).resolve().parent
SCENARIO = HERE / "idiomatic_line.yaml"
END_TO_END_TARGET = 1.5
STARTUP_TARGET = 0.3
AGREEMENT = 0.03
"""Throughput means of the two models must be within this share of each other."""


def check_same_line(scenario: Scenario) -> None:
    """The scenario file and the idiomatic model must describe the same line."""
    expected_station = {
        "servers": 1,
        "process_time": {"dist": "exponential", "mean": idiomatic.PROCESS_MEAN},
        "failures": {
            "mtbf": {"dist": "exponential", "mean": idiomatic.MTBF},
            "mttr": {"dist": "exponential", "mean": idiomatic.MTTR},
            "basis": "operating",
        },
    }
    problems = []
    if (scenario.horizon, scenario.warmup, scenario.seed) != (
        idiomatic.HORIZON,
        idiomatic.WARMUP,
        idiomatic.SEED,
    ):
        problems.append("horizon, warm-up or seed")
    if scenario.arrivals is not None or scenario.orders is not None:
        problems.append("not a saturated line")
    if len(scenario.stations) != idiomatic.STATIONS:
        problems.append("number of stations")
    for i, station in enumerate(scenario.stations):
        dumped = station.model_dump(include=set(expected_station))
        buffer = 0 if i == 0 else idiomatic.BUFFER
        if dumped != expected_station or station.input_buffer != buffer:
            problems.append(f"station {station.id}")
    if problems:
        sys.exit(f"{SCENARIO.name} and idiomatic_simpy_line.py differ: {', '.join(problems)}")


def timed(fn: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def paired(a: Callable[[], object], b: Callable[[], object], pairs: int) -> list[float]:
    """Ratios a/b of runs made back to back, so that both see the same load."""
    return [timed(a) / timed(b) for _ in range(pairs)]


def command(args: Sequence[str]) -> Callable[[], object]:
    """A fresh process running ``args``; stop with its error output if it fails."""

    def run() -> None:
        done = subprocess.run(args, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"{' '.join(args)} exited {done.returncode}:\n{done.stderr}")

    return run


def median_wall(args: Sequence[str], runs: int = 5) -> float:
    """Median wall time of ``runs`` fresh processes running ``args``."""
    return statistics.median(timed(command(args)) for _ in range(runs))


def describe(ratios: list[float]) -> str:
    return (
        f"{statistics.median(ratios):.2f}x (range {min(ratios):.2f}-{max(ratios):.2f}, "
        f"{len(ratios)} pairs)"
    )


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "missed"


def twin_exe() -> str:
    exe = Path(sys.executable).with_name("twin")
    if not exe.exists():
        sys.exit(f"no `twin` next to {sys.executable}: install the project in this environment")
    return str(exe)


def events(scenario: Scenario) -> tuple[int, int]:
    """SimPy events processed by the engine and by the idiomatic model over the horizon:
    events scheduled (SimPy numbers them) less those still queued at the end."""
    counts = []
    for make in (
        lambda env: build(env, scenario, 0),
        lambda env: idiomatic.line(env, idiomatic.SEED, scenario.warmup),
    ):
        env = simpy.Environment()
        make(env)
        env.run(until=scenario.horizon)
        counts.append(next(env._eid) - len(env._queue))
    return counts[0], counts[1]


def agreement(scenario: Scenario, seeds: int) -> bool:
    """Throughput (parts/h) of both models over ``seeds`` runs, with 95% CIs."""
    twin = [
        float(run_replication(scenario, r)["line"]["throughput_per_hour"]) for r in range(seeds)
    ]
    hand = [
        idiomatic.throughput_per_hour(
            idiomatic.simulate(scenario.horizon, idiomatic.SEED + r, scenario.warmup),
            scenario.horizon,
        )
        for r in range(seeds)
    ]
    means = []
    for name, values in (("twin", twin), ("idiomatic", hand)):
        s = summarize(values)
        assert s["mean"] is not None and s["ci95_halfwidth"] is not None
        means.append(s["mean"])
        print(f"  {name:<10} {s['mean']:8.1f} ± {s['ci95_halfwidth']:.1f} parts/h")
    gap = abs(means[0] - means[1]) / means[1]
    ok = gap <= AGREEMENT
    print(
        f"  difference {gap:.1%} of the idiomatic mean: "
        f"{'agree' if ok else 'DISAGREE'} (within {AGREEMENT:.0%})"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short horizon, fewer pairs")
    parser.add_argument("--pairs", type=int, default=None, help="paired runs per comparison")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    horizon = 20_000.0 if args.quick else idiomatic.HORIZON
    pairs = args.pairs or (3 if args.quick else 5)

    scenario = load(SCENARIO)
    check_same_line(scenario)
    scenario = scenario.model_copy(update={"horizon": horizon})
    twin = twin_exe()
    load_avg = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"10-station saturated line (work 1 s, MTBF 100 s operating, MTTR 10 s, buffers 5), "
        f"horizon {horizon:g} s, seed {scenario.seed}"
    )
    print(f"python {sys.version.split()[0]}; load average {load_avg} on {os.cpu_count()} CPUs")

    short = scenario.model_copy(update={"horizon": 20_000.0})
    ours, theirs = events(short)
    print(
        f"\nevents over 20000 s: twin {ours:,}, idiomatic {theirs:,} "
        f"({ours / theirs:.2f} of the idiomatic model's)"
    )

    seeds = 5 if args.quick else 8
    print(f"\nagreement, throughput over {seeds} seeds, horizon 20000 s (95% CI):")
    ok = agreement(short, seeds)

    inproc = paired(
        lambda: run_replication(scenario, 0),
        lambda: idiomatic.simulate(horizon, idiomatic.SEED, scenario.warmup),
        pairs,
    )
    print(f"\nin process, run_replication / idiomatic loop: {describe(inproc)}")

    with tempfile.TemporaryDirectory() as tmp:
        yaml = Path(tmp) / "line.yaml"
        yaml.write_text(SCENARIO.read_text(encoding="utf-8"), encoding="utf-8")
        run = [twin, "run", str(yaml), "--reps", "1", "--workers", "1"]
        hand = [sys.executable, str(HERE / "idiomatic_simpy_line.py"), f"--horizon={horizon}"]
        e2e = paired(command([*run, "--horizon", f"{horizon:g}s"]), command(hand), pairs)
        e2e_median = statistics.median(e2e)
        print(
            f"end to end, twin run / python idiomatic_simpy_line.py: {describe(e2e)}; "
            f"target <= {END_TO_END_TARGET}x: {verdict(e2e_median, END_TO_END_TARGET)}"
        )
        tiny = median_wall([*run, "--horizon", "1s", "--warmup", "0"])
    bare = median_wall([sys.executable, "-c", "pass"])
    imports = median_wall([sys.executable, "-c", "import twin.cli"])
    print(
        f"start-up, twin run of a 1 s horizon: {tiny:.2f} s (median of 5); "
        f"target < {STARTUP_TARGET} s: {'met' if tiny < STARTUP_TARGET else 'missed'}"
    )
    print(f"  for scale: bare interpreter {bare:.2f} s, import twin.cli {imports:.2f} s")

    missed = e2e_median > END_TO_END_TARGET or tiny >= STARTUP_TARGET
    if not ok:
        return 1
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
