"""What start-up loads: the command line imports typer and rich only, and a one-replication
run reaches its first simulated event without a process pool or any of the heavy packages
(traces, reports, 3D, the bridge, Dask load where they are used)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = {
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
}
POOLS = {"multiprocessing", "concurrent.futures", "concurrent.futures.process"}

# Wraps SimPy's step: at the first simulated event, prints what is loaded and stops.
PROBE = """\
import os, sys
import simpy.core

def first(env):
    loaded = {m.split(".")[0] for m in sys.modules} | set(sys.modules)
    print(sorted(loaded & WATCHED), flush=True)
    os._exit(0)

simpy.core.Environment.step = first
sys.argv = ["twin", *sys.argv[1:]]
from twin.cli import main
main()
"""


def _python(code: str, *args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_the_command_line_loads_no_simulator(tmp_path: Path) -> None:
    """``import twin.cli`` (shell completion, --help, --version) loads neither numpy,
    pydantic, SimPy, PyYAML, the scenarios, the models nor any heavy package."""
    watched = HEAVY | POOLS | {"numpy", "pydantic", "simpy", "yaml", "scenarios", "models"}
    code = (
        "import sys, twin.cli; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(watched)!r})))"
    )
    assert _python(code, cwd=tmp_path) == "[]"


@pytest.mark.parametrize("workers", [["--workers", "1"], []])
def test_a_one_replication_run_starts_without_pool_or_heavy_packages(
    tmp_path: Path, workers: list[str]
) -> None:
    """At its first simulated event, ``twin run --reps 1`` (one worker, or the default of
    one per core) has loaded no process pool and none of the heavy packages."""
    code = f"WATCHED = set({sorted(HEAVY | POOLS)!r})\n{PROBE}"
    args = ["run", "mm1", "--reps", "1", "--horizon", "1s", "--warmup", "0", *workers]
    assert _python(code, *args, cwd=tmp_path) == "[]"
