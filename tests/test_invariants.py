"""Conservation laws that hold on any line: parts in = parts out + scrap + WIP, time adds up."""

from __future__ import annotations

import itertools
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

HOLDING = {STATES.index(s) for s in ("busy", "blocked", "setup", "operator")}
# Calendars that change within the first hours of the first day (the horizons are short).
CALENDARS = [
    {"shifts": [{"start": "00:00", "end": "00:20"}, {"start": "00:25", "end": "01:30"}]},
    {
        "shifts": [{"start": "00:00", "end": "00:50"}, {"start": "00:55", "end": "02:00"}],
        "breaks": [{"start": "00:05", "duration": 120}, {"start": "00:30", "duration": 300}],
    },
]
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
            rate = draw(st.floats(0.0, 0.3))
            station["scrap_rate"] = {"A": rate, "B": rate / 2} if two else rate
        if two and draw(st.booleans()):
            matrix = {"A": {"B": 15}, "B": {"A": {"dist": "exponential", "mean": 20}}}
            station["setup"] = {
                "time": draw(st.sampled_from([15, {"dist": "exponential", "mean": 20}, matrix])),
                "when": draw(st.sampled_from(["product_change", "always"])),
            }
        if draw(st.integers(0, 2)) == 0:
            station["operator"] = draw(
                st.sampled_from(["crew", {"pool": "crew", "load": draw(st.integers(1, 20))}])
            )
        if "setup" in station and draw(st.booleans()):
            station["setup"]["operator"] = "crew"
        if draw(st.integers(0, 3)) == 0:
            station["calendar"] = draw(st.sampled_from(["always", CALENDARS[0]]))
        if draw(st.integers(0, 3)) == 0:
            size = draw(st.integers(1, 5))
            station["batch"] = {"size": size, "min": draw(st.integers(1, size)), "max_wait": 30}
        if draw(st.integers(0, 3)) == 0:
            station["maintenance"] = {
                "every": draw(st.integers(200, 2000)),
                "basis": draw(st.sampled_from(["operating", "calendar"])),
                "duration": draw(st.integers(10, 100)),
            }
        if draw(st.integers(0, 3)) == 0:  # it wears, perhaps watched by a sensor
            station["condition"] = {
                "wear": {
                    "rate": draw(st.sampled_from([5, 20, 60])),
                    "cv": draw(st.sampled_from([0.0, 0.001, 0.3, 1.0])),
                },
                "fails_at": draw(st.sampled_from([2, {"dist": "normal", "mean": 5, "sd": 1}])),
                "repair": draw(st.integers(10, 300)),
            }
            if "failures" in station:
                station["failures"]["basis"] = "operating"
            if draw(st.booleans()):
                station["link"] = "net"
            if draw(st.booleans()):
                every = draw(st.integers(5, 120))
                station["sensors"] = [{"id": "s", "noise": draw(st.floats(0, 2)), "every": every}]
                if draw(st.booleans()):
                    station["sensors"][0]["edge"] = "edge"
                policy = draw(st.sampled_from(["condition", "external"]))
                station["maintenance"] = {"policy": policy, "duration": draw(st.integers(5, 60))}
                if policy == "condition":
                    station["maintenance"]["alarm"] = {"sensor": "s", "above": 1.5}
                    if draw(st.booleans()):
                        station["maintenance"]["crew"] = "maint"
        if draw(st.integers(0, 3)) == 0:
            # Back to itself, or (one product) to any station before it.
            earlier = ids[: ids.index(sid) + 1] if not two else [sid]
            rework: dict[str, Any] = {
                "rate": draw(st.floats(0.0, 0.4)),
                "to": draw(st.sampled_from(earlier)),
            }
            if draw(st.booleans()):
                rework["max"] = draw(st.integers(0, 2))
            station["rework"] = rework
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
        "operators": [{"id": "crew", "count": draw(st.integers(1, 2))}],
        "network": {
            "links": [
                {
                    "id": "net",
                    "latency": draw(st.sampled_from([0, 2, 30])),
                    "loss": draw(st.sampled_from([0.0, 0.3])),
                    **({"outage": {"mtbf": 300, "mttr": 60}} if draw(st.booleans()) else {}),
                }
            ],
            "edge": [{"id": "edge", "compute": 1, "capacity": draw(st.sampled_from([0.05, 10]))}],
        },
        "crews": [{"id": "maint", "count": 1, "response": draw(st.integers(0, 100))}],
    }
    if draw(st.booleans()):
        data["calendar"] = draw(st.sampled_from(CALENDARS))
    if draw(st.integers(0, 2)) == 0:
        transport: dict[str, Any] = {
            "time": draw(st.sampled_from([0, 5, {"dist": "exponential", "mean": 8}]))
        }
        pairs = sorted({(a, b) for p in products for a, b in itertools.pairwise(p["route"])})
        if pairs and draw(st.booleans()):
            a, b = draw(st.sampled_from(pairs))
            if draw(st.booleans()):
                transport["agv"] = {"fleet": draw(st.integers(1, 2)), "speed": 1, "load": 3}
                transport["moves"] = [{"from": a, "to": b, "agv": True, "distance": 20}]
            else:
                capacity = draw(st.integers(1, 4))
                conveyor = {"from": a, "to": b, "length": 6, "speed": 0.5, "capacity": capacity}
                transport["conveyors"] = [conveyor]
        data["transport"] = transport
    source = draw(st.sampled_from(["saturated", "arrivals", "orders"]))
    if source == "arrivals":
        arrivals: dict[str, Any] = {"interarrival": {"dist": "exponential", "mean": 40}}
        if two:
            share = draw(st.sampled_from([0.0, 0.3, 0.5, 1.0]))
            arrivals["mix"] = {"A": share, "B": 1.0 - share}
        data["arrivals"] = arrivals
    elif source == "orders":
        lots = [{"product": p["id"], "lot": draw(st.integers(1, 6))} for p in products]
        orders: dict[str, Any] = {"sequence": lots}
        if draw(st.booleans()):
            orders["interarrival"] = {"dist": "exponential", "mean": 120}
        data["orders"] = orders
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
    # A batch machine holds its load (gathered, in process, or waiting to pass on).
    on_machines = sum(
        len(m.load) if m.station.batch is not None else m.base in HOLDING for m in machines
    )
    pending = sum(len(s.gate.queue) for s in line.stations.values() if s.gate is not None)
    # A machine blocked for a vehicle or a place on a conveyor waits there, not at a gate.
    pending += sum(len(c.slots.queue) for c in line.conveyors)
    pending += len(line.fleet.resource.queue) if line.fleet is not None else 0
    # Every blocked machine and every saturated feeder holds one pending request of a place;
    # the other pending requests are parts that arrived and wait to enter their first station.
    feeders = len({p.route[0] for p in scenario.products}) if scenario.saturated else 0
    blocked = sum(m.base == BLOCKED for m in machines)
    return queued + on_machines + pending - blocked - feeders + line.moving


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
def test_station_figures_add_up(data: dict[str, Any]) -> None:
    """Per station the state shares sum to 1, impossible losses are exactly zero, the ISO
    22400 time elements add up (PBT = AUBT + ADOT), and one station is the bottleneck."""
    scenario = validate(data, "random.yaml")
    kpis = run_replication(scenario, 0)
    specs = {s.id: s for s in scenario.stations}
    assert set(kpis["stations"]) == set(specs)
    for sid, figures in kpis["stations"].items():
        states = figures["states"]
        assert set(states) == set(STATES)
        assert math.fsum(states.values()) == pytest.approx(1.0, abs=1e-9), states
        assert min(states.values()) >= 0.0, states
        assert figures["good"] <= figures["produced"]
        planned = states["held"] + states["maintenance"] + states["off"]  # planned stops leave PBT
        assert figures["availability"] == pytest.approx(states["busy"] / (1.0 - planned))
        if figures["produced"] > 0:
            shares = figures["quality_ratio"] + figures["scrap_ratio"] + figures["rework_ratio"]
            assert shares == pytest.approx(1.0)
        else:
            assert math.isnan(figures["quality_ratio"])
            assert math.isnan(figures["oee_index"])
        spec = specs[sid]
        if spec.failures is None and spec.condition is None:
            assert (states["down"], figures["failures"]) == (0.0, 0.0)
        if spec.condition is not None:
            assert figures["wear_breakdowns"] <= figures["failures"]
        if spec.setup is None:
            assert states["setup"] == 0.0
        if spec.scrap_rate == 0.0 and spec.rework is None:
            assert figures["good"] == figures["produced"]
        if spec.maintenance is None:
            assert states["maintenance"] == 0.0
        if spec.crew is None and (spec.setup is None or spec.setup.operator is None):
            assert states["operator"] == 0.0
        if spec.calendar == "always" or (spec.calendar is None and scenario.calendar is None):
            assert states["off"] == 0.0
        t = figures["time_s"]
        assert t["pbt"] == pytest.approx(t["aubt"] + t["adot"])
        if t["aubt"] > 0:
            alloc = figures["allocation_efficiency"] * figures["utilisation_efficiency"]
            assert alloc == pytest.approx(figures["availability"])
    active = any(f["active_share"] > 0 for f in kpis["stations"].values())
    assert sum(f["bottleneck"] for f in kpis["stations"].values()) == float(active)


def good_out(scenario: Scenario, stations: dict[str, Any]) -> float | None:
    """Good parts that left the line, counted at the stations that end the routes; ``None``
    when a station ends one route but lies inside another (its good parts do not all leave)."""
    ends = {p.route[-1] for p in scenario.products}
    inside = {s for p in scenario.products for s in p.route[:-1]}
    if ends & inside:
        return None
    return math.fsum(stations[s]["good"] for s in ends)


@SETTINGS
@given(lines())
def test_line_figures_follow_from_the_counts(data: dict[str, Any]) -> None:
    """Parts are conserved exactly; throughput and scrap follow from the station counts."""
    scenario = validate(data, "random.yaml")
    line, kpis = simulate(scenario)
    figures, parts = kpis["line"], kpis["line"]["parts"]
    assert parts == {
        "created": line.created,
        "finished": line.finished,
        "scrapped": line.scrapped,
        "in_system": line.created - line.finished - line.scrapped,
    }
    assert parts["created"] == parts["finished"] + parts["scrapped"] + parts["in_system"]
    span = scenario.horizon - scenario.warmup
    # Parts scrapped after warm-up are the ones each station made but not good.
    scrapped = math.fsum(
        f["produced"] - f["good"] - f["reworked"] for f in kpis["stations"].values()
    )
    assert scrapped == line.scrap_after_warmup
    assert figures["scrap_per_hour"] == pytest.approx(scrapped * 3600 / span)
    good = good_out(scenario, kpis["stations"])
    if good is not None:
        assert good == line.good_after_warmup
    assert figures["throughput_per_hour"] == pytest.approx(line.good_after_warmup * 3600 / span)
    out = line.good_after_warmup + line.scrap_after_warmup
    if out:
        assert figures["scrap_rate"] == pytest.approx(line.scrap_after_warmup / out)
    else:
        assert math.isnan(figures["scrap_rate"])
    if scenario.warmup == 0:
        assert (parts["finished"], parts["scrapped"]) == (line.good_after_warmup, scrapped)
    # Parts are scrapped by a scrap rate, or after the most reworks allowed.
    if all(
        s.scrap_rate == 0.0 and (s.rework is None or s.rework.max is None)
        for s in scenario.stations
    ):
        assert parts["scrapped"] == 0
