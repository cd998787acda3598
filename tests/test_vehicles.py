"""AGVs and conveyors between stations: a vehicle's cycle limits the rate, a conveyor's
crossing adds to the lead time and a full one blocks the station before it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from test_theory import assert_agrees, simulate
from test_transport import TANDEM as MOVED

from scenarios.experiment import run_replication
from scenarios.schema import Scenario
from twin.errors import ScenarioError

AGV = """\
name: one vehicle
seed: 2
horizon: 50h
warmup: 1h
replications: 4
transport:
  agv: {fleet: FLEET, speed: 1m/s, load: 30s, unload: 30s}
  moves:
    - {from: A, to: B, agv: true, distance: 30m}
stations:
  - id: A
    input_buffer: 0
    process_time: {dist: exponential, mean: 10s}
  - id: B
    process_time: {dist: exponential, mean: 10s}
"""


@pytest.mark.parametrize(("fleet", "rate"), [(1, 30.0), (2, 60.0)])
def test_the_vehicles_cycle_limits_the_rate(
    scenario: Callable[[str], Scenario], fleet: int, rate: float
) -> None:
    """Fast stations, moves by AGV of 30 m at 1 m/s with 30 s to load and 30 s to unload: a
    vehicle's cycle is 30 + 30 + 30 + 30 = 120 s, so one vehicle moves 30 parts/h, two 60;
    the fleet always at work, the first station blocked for the rest of its time."""
    result = simulate(scenario(AGV.replace("FLEET", str(fleet))))
    assert_agrees(result["line"]["throughput_per_hour"], rate, rel=0.01)
    assert result["line"]["agv_utilisation"]["mean"] == pytest.approx(1.0, abs=1e-3)
    a = result["stations"]["A"]["states"]
    assert a["blocked"]["mean"] == pytest.approx(1.0 - a["busy"]["mean"], abs=1e-3)


# The tandem of test_transport, its move of 2 min now a conveyor's crossing.
TANDEM = MOVED.replace(
    "  time: 2min\n",
    "  conveyors:\n    - {from: M1, to: M2, length: 24m, speed: 0.2m/s, capacity: 1000}\n",
)


def test_a_conveyor_adds_its_crossing_time_to_the_lead_time(
    scenario: Callable[[str], Scenario],
) -> None:
    """M/M/1, a conveyor of 24 m at 0.2 m/s (120 s), M/M/1: mean lead time W1 + 120 s + W2 =
    120 + 120 + 60 s; WIP by Little's law, the parts on the conveyor included."""
    result = simulate(scenario(TANDEM))
    line = result["line"]
    assert_agrees(line["lead_time_s"]["mean"], 300.0, rel=0.05)
    assert_agrees(line["wip"], 5.0, rel=0.05)
    assert_agrees(line["throughput_per_hour"], 60.0, rel=0.02)


FULL = """\
name: a short conveyor
seed: 1
horizon: 10h
warmup: 1h
replications: 1
transport:
  conveyors:
    - {from: A, to: B, length: 3m, speed: 0.1m/s, capacity: 3}
stations:
  - id: A
    input_buffer: 0
    process_time: 10s
  - id: B
    input_buffer: 0
    process_time: 20s
"""


def test_a_full_conveyor_blocks_the_station_before_it(
    scenario: Callable[[str], Scenario],
) -> None:
    """A makes a part in 10 s, B in 20 s, a conveyor of 3 places between them: B sets the
    pace (180 parts/h, exactly), the conveyor fills, and A is blocked half its time."""
    result = simulate(scenario(FULL))
    assert result["line"]["throughput_per_hour"]["mean"] == pytest.approx(180.0, rel=1e-3)
    a = result["stations"]["A"]["states"]
    assert a["busy"]["mean"] == pytest.approx(0.5, rel=1e-3)
    assert a["blocked"]["mean"] == pytest.approx(0.5, rel=1e-3)
    kpis = run_replication(scenario(FULL), 0)
    parts = kpis["line"]["parts"]
    assert parts["created"] == parts["finished"] + parts["scrapped"] + parts["in_system"]
    assert parts["in_system"] == 3 + 1 + 1  # the full conveyor, a part on B, one on A


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("agv: true, distance: 30m", "agv: true"), r"moves\[0\].*needs its 'distance'"),
        (("agv: true, distance: 30m", "distance: 30m"), r"add 'agv: true'"),
        (("distance: 30m", "distance: 30 meters"), r"invalid distance '30 meters'.*e\.g\. '40m'"),
        (("speed: 1m/s", "speed: 1m/h/s"), r"transport\.agv\.speed: .*invalid speed"),
        (("speed: 1m/s", "speed: 0"), r"speed must be finite and above 0"),
        (("  agv: {fleet: FLEET, speed: 1m/s, load: 30s, unload: 30s}\n", ""), r"needs the fleet"),
        (("{from: A, to: B, agv", "{from: B, to: A, agv"), r"no route moves from 'B' to 'A'"),
    ],
)
def test_a_bad_vehicle_move_is_refused_naming_the_field(
    scenario: Callable[[str], Scenario], change: tuple[str, str], message: str
) -> None:
    with pytest.raises(ScenarioError, match=message):
        scenario(AGV.replace(*change).replace("FLEET", "1"))


def test_a_pair_moved_two_ways_is_refused(scenario: Callable[[str], Scenario]) -> None:
    """A pair of stations is linked one way: a move or a conveyor, not both."""
    text = TANDEM.replace(
        "  conveyors:\n", "  moves:\n    - {from: M1, to: M2, time: 1min}\n  conveyors:\n"
    )
    with pytest.raises(ScenarioError, match=r"conveyors\[0\].*M1 -> M2 is given twice"):
        scenario(text)


WAITING = """\
name: vehicles that wait
seed: 1
horizon: 10h
warmup: 1h
replications: 1
transport:
  agv: {fleet: 2, speed: 1m/s, load: 1s, unload: 1s}
  moves:
    - {from: A, to: B, agv: true, distance: 2m}
stations:
  - id: A
    input_buffer: 0
    process_time: 10s
  - id: B
    input_buffer: 0
    process_time: 60s
"""


def test_a_full_station_blocks_back_through_the_vehicles(
    scenario: Callable[[str], Scenario],
) -> None:
    """B takes a part a minute and has no buffer: both vehicles end up waiting loaded at its
    door (their whole time at work), A is blocked for want of a vehicle, and B sets the
    pace: a part every 60 s plus the 1 s it takes to unload the next into it, 3600 / 61
    parts/h; one part on A, two on the vehicles, one on B."""
    result = simulate(scenario(WAITING))
    assert result["line"]["throughput_per_hour"]["mean"] == pytest.approx(3600 / 61, rel=2e-3)
    assert result["line"]["agv_utilisation"]["mean"] == pytest.approx(1.0, rel=1e-3)
    assert result["stations"]["A"]["states"]["blocked"]["mean"] > 0.8
    kpis = run_replication(scenario(WAITING), 0)
    assert kpis["line"]["parts"]["in_system"] == 4
