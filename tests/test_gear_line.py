"""The gear line of the real-lines issue loads and runs exactly as written: lots, setups by
product pair with a setter, operators, a conveyor, an AGV, timed moves, shifts and breaks,
a furnace around the clock as a batch machine, preventive maintenance and rework."""

from __future__ import annotations

from typing import Any

import pytest
import simpy

from scenarios.builder import build
from scenarios.experiment import run_replication
from scenarios.loader import loads
from twin.changes import Change, Changes

GEAR = """\
name: gear line
seed: 11
horizon: 7d
warmup: 1d
replications: 5
calendar:                    # the line's planned working time; the rest is a planned stop
  days: [mon, tue, wed, thu, fri]
  shifts:                    # times of day; simulated time 0 is a Monday at 00:00
    - {start: "06:00", end: "14:00"}
    - {start: "14:00", end: "22:00"}
  breaks:
    - {start: "10:00", duration: 20min}
    - {start: "18:00", duration: 20min}
products:
  - id: G1
    route: [HOB, SHAVE, HT, GRIND, INSPECT]
  - id: G2
    route: [HOB, HT, GRIND, INSPECT]
orders:                      # instead of `arrivals`: lots released in this order, cyclically
  sequence:
    - {product: G1, lot: 40}
    - {product: G2, lot: 25}
  interarrival: {dist: exponential, mean: 3h}   # between lots; omit for a saturated line
operators:
  - {id: setter, count: 1}
  - {id: loader, count: 2}
transport:
  time: 1min                 # every move between consecutive stations, unless said below
  agv: {fleet: 2, speed: 1m/s, load: 30s, unload: 30s}
  moves:
    - {from: SHAVE, to: HT, agv: true, distance: 40m}
  conveyors:
    - {from: HOB, to: SHAVE, length: 12m, speed: 0.2m/s, capacity: 20}
stations:
  - id: HOB
    servers: 2
    process_time: {G1: {dist: gamma, mean: 90s, cv: 0.15}, G2: 70s}
    operator: {pool: loader, load: 20s}      # an operator for the first 20 s of each part
    setup:
      time: {G1: {G2: 25min}, G2: {G1: 40min}}   # from -> to; a single distribution also works
      operator: setter
    failures: {mtbf: {dist: weibull, shape: 2, scale: 200h}, mttr: 1h}
    maintenance: {every: 160h, basis: operating, duration: 2h}
  - id: SHAVE
    input_buffer: 20
    process_time: 60s
    operator: loader                          # an operator for the whole process time
  - id: HT
    calendar: always                          # the furnace runs around the clock
    batch: {size: 60, min: 30, max_wait: 1h}
    process_time: 3h
  - id: GRIND
    servers: 2
    input_buffer: 30
    process_time: {G1: 100s, G2: 85s}
    rework: {rate: {G1: 0.03, G2: 0.02}, to: GRIND, max: 2}
    scrap_rate: {G1: 0.01, G2: 0.005}
  - id: INSPECT
    process_time: 30s
"""


@pytest.fixture(scope="module")
def kpis() -> dict[str, Any]:
    return run_replication(loads(GEAR, "gear.yaml"), 0)


def test_the_gear_line_loads_as_written() -> None:
    model = loads(GEAR, "gear.yaml")
    assert [s.id for s in model.stations] == ["HOB", "SHAVE", "HT", "GRIND", "INSPECT"]
    assert model.calendar is not None and model.calendar.week().hours == pytest.approx(
        5 * (16 - 40 / 60)
    )
    assert model.transport is not None and model.transport.agv is not None
    assert model.transport.conveyors[0].length / model.transport.conveyors[0].speed == 60.0


def test_every_element_of_the_gear_line_is_at_work(kpis: dict[str, Any]) -> None:
    """Each element leaves its mark on a week: the machines on shifts are off outside them
    and the furnace is not; HOB sets up and waits for its loader or setter; the operators,
    the vehicles and the rework loop are used; every part is accounted for."""
    stations, line = kpis["stations"], kpis["line"]
    for sid in ("HOB", "SHAVE", "GRIND", "INSPECT"):
        assert stations[sid]["states"]["off"] > 0.5
    assert stations["HT"]["states"]["off"] == 0.0
    assert stations["HOB"]["states"]["setup"] > 0 and stations["HOB"]["states"]["operator"] > 0
    assert line["agv_utilisation"] > 0
    assert set(line["operators"]) == {"setter", "loader"}
    assert min(line["operators"].values()) > 0
    assert stations["GRIND"]["reworked"] > 0
    parts = line["parts"]
    assert parts["created"] == parts["finished"] + parts["scrapped"] + parts["in_system"]
    for st in stations.values():
        assert sum(st["states"].values()) == pytest.approx(1.0)


def test_the_gear_line_streams_its_new_elements() -> None:
    """The conveyor's level, parts on the AGV's way and machines off shift are on the
    change stream."""
    model = loads(GEAR, "gear.yaml")
    env = simpy.Environment()
    changes = Changes()
    seen: list[Change] = []
    changes.subscribe(seen.append)
    build(env, model, 0, changes)
    env.run(until=2 * 86400)
    assert any(c.scope == "HOB>SHAVE" and c.kind == "level" and c.value == 1 for c in seen)
    assert any(c.scope == "SHAVE>HT" and c.kind == "move" for c in seen)
    assert any(c.scope == "HOB.0" and c.value == "off" for c in seen)
    assert any(c.scope == "HOB.0" and c.value == "operator" for c in seen)
