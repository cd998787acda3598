"""Benchmark: what ``twin report`` costs, and what recording a run over time costs.

- recording: one replication of the 10-station line of ``line_bench.py`` (4 days, 12 hours
  with ``--quick``) with ``record_replication`` against ``run_replication``, best of
  ``--repeats``; their KPIs must be equal (recording changes nothing);
- report: ``twin report`` of a kept run, comparison and sweep of that line (a short horizon,
  so that making them is quick), timed in this process (``viz.report.write``), best of
  ``--repeats``; matplotlib is imported before the clock starts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from line_bench import scenario_yaml
from typer.testing import CliRunner

from scenarios.experiment import record_replication, run_replication
from scenarios.loader import loads
from twin.cli import app
from viz.report import write


def best(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def keep(root: Path, horizon: float) -> dict[str, Path]:
    """A run, a comparison and a sweep of the benchmark line, kept in ``root``."""
    text = scenario_yaml(horizon, replications=3).replace(
        "stations:",
        "economics: {margin_per_good_part: 20}\n"
        "retrofits:\n"
        "  - {id: fast, capex: 5000, changes: {stations.S05.process_time: {scale: 0.9}}}\n"
        "  - {id: room, capex: 2000, changes: {stations.S05.input_buffer: 8}}\n"
        "stations:",
        1,
    )
    line = root / "line.yaml"
    line.write_text(text, encoding="utf-8")
    commands = {
        "run": ["run", str(line)],
        "compare": ["compare", str(line), "--plan", "fast+room"],
        "sweep": ["sweep", str(line), "--param", "stations.S05.input_buffer=2,5,8"],
    }
    dirs = {}
    for kind, args in commands.items():
        out = root / kind
        result = CliRunner().invoke(app, [*args, "--workers", "1", "--out", str(out)])
        if result.exit_code != 0:
            sys.exit(f"twin {kind} failed: {result.output}")
        dirs[kind] = out
    return dirs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a shorter line, one repeat")
    parser.add_argument("--repeats", type=int, help="timed runs (the fastest is kept)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    horizon = 12 * 3600.0 if args.quick else 4 * 86400.0
    model = loads(scenario_yaml(horizon), "bench-line.yaml")

    plain = run_replication(model, 0)
    kpis, history = record_replication(model, 0)
    if json.dumps(plain, sort_keys=True) != json.dumps(kpis, sort_keys=True):
        print("recording changed the results")
        return 1
    t_plain = best(lambda: run_replication(model, 0), repeats)
    t_rec = best(lambda: record_replication(model, 0), repeats)
    print(f"10-station line, {horizon / 3600:g} h, best of {repeats}")
    print(
        f"replication: plain {t_plain:.3f} s, recorded {t_rec:.3f} s "
        f"({t_rec / t_plain:.3f}x; {len(history['t'])} samples every {history['every_s']:g} s); "
        "same KPIs"
    )

    import matplotlib.figure  # noqa: F401  (imported before timing)

    with tempfile.TemporaryDirectory() as tmp:
        dirs = keep(Path(tmp), 8 * 3600.0)
        for kind, directory in dirs.items():
            seconds = best(lambda d=directory: write(d), repeats)
            charts = len(write(directory).charts)
            size = (directory / "report.html").stat().st_size / 1024
            print(f"report of a {kind}: {seconds:.2f} s, {charts} charts, page {size:,.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
