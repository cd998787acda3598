"""Conservation laws that hold on any line: parts in = parts out + scrap + WIP, time adds up."""

from __future__ import annotations

import math
from typing import Any

import pytest
import simpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.kpi import collect
from models.line import Line
from models.station import STATES
from scenarios.builder import build
from scenarios.experiment import run_replication
from scenarios.loader import validate
from scenarios.schema import Scenario

HOLDING = {STATES.index("busy"), STATES.index("blocked"), STATES.index("setup")}
BLOCKED = STATES.index("blocked")


def times(draw: st.DrawFn) -> Any:
    """A process-time distribution of a few seconds to a minute."""
    kind = draw(st.sampled_from(["exponential", "triangular", "constant"]))
    mean = draw(st.integers(5, 60))
    if kind == "exponential":
        return {"dist": "exponential", "mean": mean}
    if kind == "triangular":
        return {"dist": "triangular", "low": mean / 2, "mode": mean, "high": mean * 2}
    return draw(st.sampled_from([mean, f"{mean}s", {"dist": "constant", "value": mean}]))


@st.composite
def lines(draw: st.DrawFn) -> dict[str, Any]:
    """A small random line: 1-4 stations, one or two products, saturated or with arrivals."""
    n = draw(st.integers(1, 4))
    ids = [f"S{i}" for i in range(n)]
    two = draw(st.booleans())
    products = [{"id": "A", "route": ids}]
    if two:
        keep = draw(st.lists(st.booleans(), min_size=n, max_size=n).filter(any))
        products.append({"id": "B", "route": [s for s, k in zip(ids, keep, strict=True) if k]})
    stations = []
    for sid in ids:
        station: dict[str, Any] = {"id": sid, "servers": draw(st.integers(1, 3))}
        buffer = draw(st.one_of(st.none(), st.integers(0, 3)))
        if buffer is not None:
            station["input_buffer"] = buffer
        if two and draw(st.booleans()):
            station["process_time"] = {"A": times(draw), "B": times(draw)}
        else:
            station["process_time"] = times(draw)
        if draw(st.booleans()):
            station["failures"] = {
                "mtbf": {"dist": "exponential", "mean": draw(st.integers(100, 2000))},
                "mttr": {"dist": "exponential", "mean": draw(st.integers(10, 200))},
                "basis": draw(st.sampled_from(["operating", "calendar"])),
            }
        if draw(st.booleans()):
            station["scrap_rate"] = draw(st.floats(0.0, 0.3))
        if two and draw(st.booleans()):
            station["setup"] = {
                "time": draw(st.sampled_from([15, {"dist": "exponential", "mean": 20}])),
                "when": draw(st.sampled_from(["product_change", "always"])),
            }
        stations.append(station)
    horizon = draw(st.integers(600, 5400))
    data: dict[str, Any] = {
        "name": "random line",
        "seed": draw(st.integers(0, 2**32)),
        "horizon": horizon,
        "warmup": draw(st.sampled_from([0, horizon // 4])),
        "replications": 1,
        "products": products,
        "stations": stations,
    }
    if draw(st.booleans()):
        arrivals: dict[str, Any] = {"interarrival": {"dist": "exponential", "mean": 40}}
        if two:
            share = draw(st.sampled_from([0.0, 0.3, 0.5, 1.0]))
            arrivals["mix"] = {"A": share, "B": 1.0 - share}
        data["arrivals"] = arrivals
    return data


def simulate(scenario: Scenario) -> tuple[Line, dict[str, Any]]:
    env = simpy.Environment()
    line = build(env, scenario, 0)
    env.run(until=scenario.horizon)
    return line, collect(line, env.now)


def parts_present(line: Line, scenario: Scenario) -> int:
    """Count the parts physically in the line: queued, on a machine, or waiting to get in."""
    queued = sum(len(s.queue.items) for s in line.stations.values())
    machines = [m for s in line.stations.values() for m in s.machines]
    on_machines = sum(m.base in HOLDING for m in machines)
    pending = sum(len(s.gate.queue) for s in line.stations.values() if s.gate is not None)
    # Every blocked machine and every saturated feeder holds one pending request of a place;
    # the other pending requests are parts that arrived and wait to enter their first station.
    feeders = len({p.route[0] for p in scenario.products}) if scenario.saturated else 0
    blocked = sum(m.base == BLOCKED for m in machines)
    return queued + on_machines + pending - blocked - feeders


SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


@SETTINGS
@given(lines())
def test_parts_are_conserved(data: dict[str, Any]) -> None:
    """Parts created = finished + scrapped + in the line, counted where they physically are."""
    scenario = validate(data, "random.yaml")
    line, kpis = simulate(scenario)
    parts = kpis["line"]["parts"]
    assert parts["created"] == parts["finished"] + parts["scrapped"] + parts["in_system"]
    assert parts["in_system"] >= 0
    assert parts_present(line, scenario) == parts["in_system"]
    assert line.wip.level == parts["in_system"]


@SETTINGS
@given(lines())
def test_station_figures_are_fractions(data: dict[str, Any]) -> None:
    """State fractions add up to 1, A and Q are fractions, PBT = AUBT + ADOT; one bottleneck."""
    scenario = validate(data, "random.yaml")
    kpis = run_replication(scenario, 0)
    specs = {s.id: s for s in scenario.stations}
    for sid, figures in kpis["stations"].items():
        states = figures["states"]
        assert set(states) == set(STATES)
        assert all(0.0 <= v <= 1.0 + 1e-12 for v in states.values())
        assert abs(math.fsum(states.values()) - 1.0) <= 1e-9, states
        assert 0.0 <= figures["availability"] <= 1.0
        assert figures["availability"] == states["busy"]
        if figures["produced"] > 0:
            assert 0.0 <= figures["quality_ratio"] <= 1.0
            assert figures["quality_ratio"] + figures["scrap_ratio"] == pytest.approx(1.0)
            assert figures["good"] <= figures["produced"]
        else:
            assert math.isnan(figures["quality_ratio"])
            assert math.isnan(figures["oee_index"])
        spec = specs[sid]
        if spec.failures is None:
            assert states["down"] == 0.0
            assert figures["failures"] == 0.0
        if spec.setup is None:
            assert states["setup"] == 0.0
        if spec.scrap_rate == 0.0 and figures["produced"] > 0:
            assert figures["quality_ratio"] == 1.0
        t = figures["time_s"]
        assert t["pbt"] == pytest.approx(t["aubt"] + t["adot"])
        if t["aubt"] > 0:
            alloc = figures["allocation_efficiency"] * figures["utilisation_efficiency"]
            assert alloc == pytest.approx(figures["availability"])
    active = any(f["active_share"] > 0 for f in kpis["stations"].values())
    assert sum(f["bottleneck"] for f in kpis["stations"].values()) == float(active)


@SETTINGS
@given(lines())
def test_line_figures_are_consistent(data: dict[str, Any]) -> None:
    """Throughput, scrap rate and WIP are non-negative and the scrap rate is a fraction."""
    scenario = validate(data, "random.yaml")
    kpis = run_replication(scenario, 0)["line"]
    assert kpis["throughput_per_hour"] >= 0
    assert kpis["wip"] >= 0
    if not math.isnan(kpis["scrap_rate"]):
        assert 0.0 <= kpis["scrap_rate"] <= 1.0
    if all(s.scrap_rate == 0.0 for s in scenario.stations):
        assert kpis["parts"]["scrapped"] == 0
