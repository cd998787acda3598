"""Benchmark: the cost of the smart-workshop layer's sensors on the bundled demo.

Two versions of the demo with the platform retrofit (every machine networked over the
plant Wi-Fi, an edge server), run one replication at a time in this process, back to back:

- ``plain``: no sensors;
- ``sensors``: a sensor on each of the four grinders, read every 10 minutes, its readings
  crossing the lossy Wi-Fi to the edge server. No decision uses them, so the line does
  exactly what ``plain`` does (common random numbers; the benchmark checks that every other
  figure is equal) and the difference in time is the cost of the readings alone.

Also, for information, ``predictive``: the predictive-maintenance retrofit on top (the same
sensors, and the condition policy acting on them: a different line, so only its events per
second compare).

Printed: per version the median wall time of one replication over ``--pairs`` runs, the
SimPy events processed and events per second; and the sensors/plain ratio of the medians
of the paired runs (target: at most 1.2, i.e. sensors slow a run by no more than 20%). The
exit status is 1 when the two versions disagree (the timing would mean nothing), or with
``--strict`` when the target is missed.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from typing import Any

import simpy

from models.kpi import collect
from scenarios.builder import build
from scenarios.catalog import load_scenario
from scenarios.retrofits import apply, parse_plan
from scenarios.schema import Scenario
from scenarios.validation import validate

GRINDERS = ("FACE", "ODGRIND", "IDGRIND")
TARGET = 1.2


def events_processed(env: simpy.Environment) -> int:
    """Events SimPy has processed: every event scheduled minus those still queued."""
    scheduled: int = next(env._eid)  # type: ignore[attr-defined]
    return scheduled - len(env._queue)  # type: ignore[attr-defined]


def versions() -> dict[str, Scenario]:
    demo = load_scenario("demo")
    plain = apply(demo, parse_plan(demo, "platform"))
    data = plain.model_dump(mode="json")
    for station in data["stations"]:
        if station["id"] in GRINDERS:
            station["sensors"] = [{"id": "power", "noise": 0.3, "every": 600, "edge": "edge1"}]
    sensed = validate(data, "demo with sensors")
    predictive = apply(demo, parse_plan(demo, "platform+predictive"))
    return {"plain": plain, "sensors": sensed, "predictive": predictive}


def replicate(scenario: Scenario, replication: int) -> tuple[float, int, dict[str, Any]]:
    """One replication: wall seconds, events processed, KPIs."""
    gc.collect()
    start = time.perf_counter()
    env = simpy.Environment()
    line = build(env, scenario, replication)
    env.run(until=scenario.horizon)
    kpis = collect(line, env.now)
    wall = time.perf_counter() - start
    return wall, events_processed(env), kpis


def _same_line(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def strip(k: dict[str, Any]) -> dict[str, Any]:
        line = {x: v for x, v in k["line"].items() if x != "readings"}
        return {"line": line, "stations": k["stations"]}

    return strip(a) == strip(b)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=9, help="replications per version")
    parser.add_argument("--strict", action="store_true", help="exit 1 if the target is missed")
    args = parser.parse_args(argv)
    models = versions()
    walls: dict[str, list[float]] = {name: [] for name in models}
    events: dict[str, list[int]] = {name: [] for name in models}
    ratios: list[float] = []
    agree = True
    for rep in range(args.pairs):
        found = {}
        order = ("plain", "sensors") if rep % 2 == 0 else ("sensors", "plain")
        for name in (*order, "predictive"):
            wall, count, kpis = replicate(models[name], rep)
            walls[name].append(wall)
            events[name].append(count)
            found[name] = kpis
        agree &= _same_line(found["plain"], found["sensors"])
        ratios.append(walls["sensors"][-1] / walls["plain"][-1])
    print(f"demo, one replication of {models['plain'].horizon / 3600:g} h, {args.pairs} runs each")
    print(f"{'version':<11} {'median s':>9} {'events':>10} {'events/s':>10}")
    for name in models:
        wall = statistics.median(walls[name])
        count = statistics.median(events[name])
        print(f"{name:<11} {wall:>9.3f} {count:>10,.0f} {count / wall:>10,.0f}")
    ratio = statistics.median(ratios)
    extra = statistics.median(events["sensors"]) / statistics.median(events["plain"]) - 1
    print(
        f"sensors / plain: {ratio:.3f} (median of paired runs; min {min(ratios):.3f}, "
        f"max {max(ratios):.3f}); {extra:+.1%} events; target at most {TARGET}"
    )
    print("the sensors change nothing else:", "yes" if agree else "NO")
    if not agree:
        return 1
    return 1 if args.strict and ratio > TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
