"""Benchmark: start-up of a one-replication ``twin run``.

Start-up is the wall time from the moment a process is started to the moment the engine
processes its first simulated event, in ``twin run SCENARIO --reps 1 --workers 1 --horizon
1s --warmup 0`` (the bundled ``mm1`` unless ``--scenario`` names another): the interpreter,
the imports, the command line, loading and validating the file, building the line. What
follows the first event (one simulated second, the report) is timed too, as the whole run.
Target: start-up under 0.3 s.

How the first event is seen: each run is a fresh ``python -c`` that wraps SimPy's
``Environment.step`` so that its first call writes the clock to standard error, then calls
the ``main`` of the ``twin`` console script with the same arguments. The wrapper costs one
function call per event; importing SimPy first changes the order of the imports, not what
is imported. The benchmark reads the clock just before it starts the process; both read
``CLOCK_MONOTONIC``, which every process on the machine shares.

Printed, as min and median of ``--runs`` fresh processes (15; 5 with ``--quick``), the
commands taken in turn so that all see the same load:

- start-up, to the first event, and the whole run, to exit (the same processes);
- ``import twin.cli``: the wall time of ``python -c "import twin.cli"``, and the
  cumulative time ``python -X importtime`` reports for it, with the packages that took most
  (their own import time, summed per top-level package);
- for scale: a bare interpreter, ``import numpy, simpy``, and the floor of dependencies a
  run needs whatever the project does (numpy, SimPy, PyYAML, pydantic with one model,
  typer, rich's console), and start-up less that floor, round by round: what the project's
  own modules, its pydantic models and typer's commands add;
- what was loaded at the first event: whether a process pool was (``multiprocessing`` or
  ``concurrent.futures.process``), and which of the heavy packages were.

Bytecode is compiled before timing (one run not counted, with ``PYTHONDONTWRITEBYTECODE``
unset), as after an install: a stale ``.pyc`` costs tens of milliseconds per module. With
``--strict`` a missed target makes the exit status 1.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

STARTUP_TARGET = 0.3
HEAVY = (
    "dask",
    "distributed",
    "pandas",
    "pyarrow",
    "scipy",
    "matplotlib",
    "pyvista",
    "vtk",
    "zmq",
    "imageio",
    "PIL",
)
POOLS = ("multiprocessing", "concurrent.futures.process")

# Run with HEAVY and POOLS defined before it.
PROBE = """\
import os, sys, time
import simpy.core

_step = simpy.core.Environment.step
_seen = []


def _first(env):
    if not _seen:
        _seen.append(True)
        now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        loaded = {name.split(".")[0] for name in sys.modules}
        heavy = sorted(loaded & HEAVY) or ["-"]
        pools = [m for m in POOLS if m in sys.modules] or ["-"]
        line = f"first-event {now} {','.join(heavy)} {','.join(pools)}\\n"
        os.write(2, line.encode())
    return _step(env)


simpy.core.Environment.step = _first
sys.argv = ["twin", *sys.argv[1:]]
from twin.cli import main

main()
"""
FLOOR = """\
import numpy, simpy, yaml, typer, rich.console
from pydantic import BaseModel


class Model(BaseModel):
    x: int
"""


def clock() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def spawn(args: Sequence[str], cwd: Path) -> tuple[float, str]:
    """Start ``args``; its wall time (s) and its standard error. Stop if it fails."""
    start = clock()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    wall = (clock() - start) / 1e9
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return wall, done.stderr


def startup(args: Sequence[str], cwd: Path) -> tuple[float, float, str, str]:
    """Seconds to the first event and to exit; heavy packages and pool modules loaded."""
    start = clock()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    end = clock()
    if done.returncode != 0:
        sys.exit(f"twin run exited {done.returncode}:\n{done.stderr}")
    found = re.search(r"^first-event (\d+) (\S+) (\S+)$", done.stderr, re.MULTILINE)
    if found is None:
        sys.exit(f"the run processed no event:\n{done.stderr}")
    first = (int(found[1]) - start) / 1e9
    return first, (end - start) / 1e9, found[2], found[3]


def import_times(stderr: str) -> tuple[float, dict[str, float]]:
    """``-X importtime`` output: twin.cli's cumulative seconds, own seconds per package."""
    total = 0.0
    own: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        row = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)$", line)
        if row is None:
            continue
        own[row[4].split(".")[0]] += int(row[1]) / 1e6
        if row[4] == "twin.cli":
            total = int(row[2]) / 1e6
    return total, own


def spread(values: list[float]) -> str:
    return f"{min(values):6.3f} s {statistics.median(values):6.3f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=None, help="fresh processes per figure")
    parser.add_argument("--quick", action="store_true", help="5 processes per figure")
    parser.add_argument("--scenario", default="mm1", help="scenario file or bundled name")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    runs = args.runs or (5 if args.quick else 15)
    scenario = args.scenario
    if Path(scenario).exists():
        scenario = str(Path(scenario).resolve())

    py = sys.executable
    run = ["run", scenario, "--reps", "1", "--workers", "1", "--horizon", "1s", "--warmup", "0"]
    probe = f"HEAVY = {set(HEAVY)!r}\nPOOLS = {POOLS!r}\n{PROBE}"
    commands = {
        "cli import": [py, "-c", "import twin.cli"],
        "importtime": [py, "-X", "importtime", "-c", "import twin.cli"],
        "bare": [py, "-c", "pass"],
        "numpy simpy": [py, "-c", "import numpy, simpy"],
        "floor": [py, "-c", FLOOR],
    }
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # children compile and keep bytecode

    load_avg = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"start-up of twin {' '.join(run)}")
    print(
        f"python {sys.version.split()[0]}; load average {load_avg} on {os.cpu_count()} CPUs; "
        f"{runs} fresh processes per figure, taken in turn"
    )

    first: list[float] = []
    whole: list[float] = []
    walls: dict[str, list[float]] = defaultdict(list)
    cumulative: list[float] = []
    own: dict[str, list[float]] = defaultdict(list)
    loaded: set[tuple[str, str]] = set()
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        for round_ in range(runs + 1):  # round 0 compiles bytecode and is not counted
            to_first, to_exit, heavy, pools = startup([py, "-c", probe, *run], cwd)
            results = {name: spawn(cmd, cwd) for name, cmd in commands.items()}
            if round_ == 0:
                continue
            first.append(to_first)
            whole.append(to_exit)
            loaded.add((heavy, pools))
            for name, (wall, _) in results.items():
                walls[name].append(wall)
            total, per_package = import_times(results["importtime"][1])
            cumulative.append(total)
            for package, seconds in per_package.items():
                own[package].append(seconds)

    print(f"\n{'':44s}{'min':>8s}{'median':>10s}")
    verdict = "met" if statistics.median(first) < STARTUP_TARGET else "missed"
    print(
        f"{'start-up, to the first simulated event':44s}{spread(first)}"
        f"   target < {STARTUP_TARGET} s: {verdict}"
    )
    print(f"{'the whole run, to exit':44s}{spread(whole)}")
    print(f"{'import twin.cli (wall, a fresh process)':44s}{spread(walls['cli import'])}")
    print(f"{'import twin.cli (-X importtime, cumulative)':44s}{spread(cumulative)}")
    print("for scale:")
    print(f"{'  a bare interpreter':44s}{spread(walls['bare'])}")
    print(f"{'  import numpy, simpy':44s}{spread(walls['numpy simpy'])}")
    print(f"{'  the dependencies of a run (see the doc)':44s}{spread(walls['floor'])}")
    above = [a - b for a, b in zip(first, walls["floor"], strict=True)]
    print(
        f"{'start-up less the dependencies':44s}{'':10s}{statistics.median(above):6.3f} s"
        "   (median of the rounds' differences)"
    )

    slowest = sorted(own, key=lambda p: statistics.median(own[p]), reverse=True)[:8]
    print(
        "\nimport twin.cli, own import time by package (median, -X importtime): "
        + ", ".join(f"{p} {1000 * statistics.median(own[p]):.0f} ms" for p in slowest)
    )
    for heavy, pools in sorted(loaded):
        print(
            "at the first event: "
            + ("no process pool module" if pools == "-" else f"process pool modules: {pools}")
            + "; "
            + (f"none of {', '.join(HEAVY)}" if heavy == "-" else f"loaded: {heavy}")
        )
    return 1 if args.strict and verdict == "missed" else 0


if __name__ == "__main__":
    raise SystemExit(main())
