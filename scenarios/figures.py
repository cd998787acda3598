"""The headline figures a model is judged on, read from one replication's KPIs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scenarios.schema import Scenario
from twin.stats import Summary, summarize

Extract = Callable[[dict[str, Any]], float]


def bottleneck(scenario: Scenario) -> str:
    """The station with the highest ideal load per machine: the line's OEE is measured there."""
    mix = dict(scenario.product_mix())
    total = sum(mix.values())
    load: dict[str, float] = {}
    for station in scenario.stations:
        times = station.process_time
        work = 0.0
        for product in scenario.products:
            visits = product.route.count(station.id)
            if visits and product.id in mix:
                dist = times[product.id] if isinstance(times, dict) else times
                cycle = station.ideal_cycle or dist.expected
                work += mix[product.id] / total * visits * cycle
        load[station.id] = work / station.servers
    return max(load, key=lambda sid: load[sid])


def headline(scenario: Scenario) -> dict[str, Extract]:
    """The figures a plan is judged on, and where each is read in a replication's KPIs."""
    neck = bottleneck(scenario)
    return {
        "throughput_per_hour": lambda k: float(k["line"]["throughput_per_hour"]),
        "oee": lambda k: float(k["stations"][neck]["oee"]),
        "lead_time_s": lambda k: float(k["line"]["lead_time_s"]["mean"]),
        "wip": lambda k: float(k["line"]["wip"]),
        "scrap_rate": lambda k: float(k["line"]["scrap_rate"]),
    }


def levels(scenario: Scenario, reps: dict[int, dict[str, Any]]) -> dict[str, Summary]:
    """Each headline figure summarized over the given replications."""
    return {
        name: summarize([f(reps[r]) for r in sorted(reps)])
        for name, f in headline(scenario).items()
    }
