"""What the 3D views draw, before any rendering: parts move between places, cross
conveyors and ride AGVs, and a view that joins late from a snapshot shows what one that saw
every change shows."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import simpy

from scenarios.builder import build
from scenarios.layout import Layout, layout
from scenarios.loader import loads
from scenarios.playback import Simulation
from scenarios.schema import Scenario
from tests.test_gear_line import GEAR
from twin.changes import Change, Changes, Mirror
from viz.plant import Plant, plant
from viz.play import BELT_TOP, LIFT, MACHINE_TOP, VEHICLE_TOP, Playback

LINE = """\
name: two steps
seed: 9
horizon: 1h
arrivals:
  interarrival: {dist: exponential, mean: 50s}
stations:
  - id: CUT
    input_buffer: 5
    process_time: {dist: exponential, mean: 40s}
  - id: PACK
    servers: 2
    input_buffer: 5
    process_time: {dist: exponential, mean: 70s}
"""


def test_a_part_moves_from_the_rack_onto_its_machine(
    scenario: Callable[[str], Scenario],
) -> None:
    """Halfway through its move a part is halfway between the rack and the machine top;
    after the move it sits on the machine."""
    floor = layout(scenario(LINE))
    cut = floor.place("CUT")
    assert cut.rack is not None
    play = Playback(floor, transit=10.0)
    play.apply(
        [
            Change(0.0, "line", "create", 7, "part"),
            Change(0.0, "CUT", "arrive", 7, "part"),
            Change(100.0, "CUT.0", "start", 7, "part"),
        ]
    )
    rack = play.frame(99.0).parts[0]
    assert np.allclose(rack[:2], cut.rack, atol=0.6)
    top = np.array([*cut.machines[0], MACHINE_TOP])
    assert np.allclose(play.frame(105.0).parts[0], (rack + top) / 2)
    assert np.allclose(play.frame(110.0).parts[0], top)
    play.change(Change(150.0, "line", "finish", 7, "part"))
    assert play.frame().parts.shape == (0, 3) and play.frame().good == 1


def test_a_late_view_shows_what_a_view_from_the_start_shows(
    scenario: Callable[[str], Scenario],
) -> None:
    """A playback synced from the line's snapshot at 30 min, then fed the later changes,
    draws the same states, levels and parts at the horizon as one fed every change."""
    model = scenario(LINE)
    floor = layout(model)
    whole = Playback(floor, transit=0.0)
    sim = Simulation(model)
    whole.apply(sim.advance(1800.0))
    late = Playback(floor, transit=0.0)
    mirror = Mirror()
    for change in sim.line.snapshot():
        mirror.apply(change)
    late.sync(mirror.levels, mirror.parts)
    rest = sim.advance(3600.0)
    whole.apply(rest)
    late.apply(rest)
    a, b = whole.frame(3600.0), late.frame(3600.0)
    assert a.states == b.states and a.levels == b.levels and a.wip == b.wip > 0
    assert np.allclose(np.sort(a.parts, axis=0), np.sort(b.parts, axis=0))


def test_playback_matches_the_mirror_of_the_run(scenario: Callable[[str], Scenario]) -> None:
    """At the horizon the playback's states, levels and parts in the line are the run's."""
    model = scenario(LINE)
    mirror = Mirror()
    changes = Changes()
    changes.subscribe(mirror)
    env = simpy.Environment()
    build(env, model, 0, changes)
    env.run(until=model.horizon)
    play = Playback(layout(model))
    play.apply(Simulation(model).advance(model.horizon))
    frame = play.frame()
    levels = {scope: v for (scope, kind), v in mirror.levels.items() if kind == "level"}
    states = {scope: v for (scope, kind), v in mirror.levels.items() if kind == "state"}
    assert frame.states == states and frame.levels == levels and frame.wip == len(mirror.parts)


def _gear() -> tuple[Scenario, Layout, Plant]:
    model = loads(GEAR, "gear.yaml")
    floor = layout(model)
    return model, floor, plant(model, floor)


def test_parts_cross_a_conveyor_and_queue_at_its_end() -> None:
    """On the gear line's 12 m conveyor at 0.2 m/s (60 s to cross, 20 parts), parts that
    came on 10 s apart are as far along as they have crossed; later they queue at its end,
    one twentieth of the belt apart, the first on at the front."""
    _, floor, means = _gear()
    belt = means.belts[0]
    assert (belt.scope, belt.cross, belt.capacity) == ("HOB>SHAVE", 60.0, 20)
    play = Playback(floor, plant=means)
    for k, part in enumerate((5, 6, 7)):
        play.change(Change(10.0 * k, belt.scope, "move", part, "G1"))
    start, end = np.asarray(belt.start), np.asarray(belt.end)

    def shares(time: float) -> list[float]:
        parts = play.frame(time).parts
        assert np.allclose(parts[:, 2], BELT_TOP + LIFT)
        along = (parts[:, :2] - start) @ (end - start) / np.sum((end - start) ** 2)
        assert np.allclose(start + np.outer(along, end - start), parts[:, :2])
        return sorted(along.tolist(), reverse=True)

    assert shares(30.0) == pytest.approx([0.5, 20 / 60, 10 / 60])
    assert shares(500.0) == pytest.approx([1.0, 0.95, 0.9])


def test_a_part_rides_its_agv_which_drives_back_empty() -> None:
    """An AGV move of 40 m at 1 m/s with 30 s to load: the part sits on the vehicle at the
    start while loading, halfway at 50 s, at the next station from 70 s for as long as it
    waits for a place and is unloaded; once it enters the station the vehicle drives back
    empty, home 40 s later. A view that joins with the part on its way finds the vehicle
    at the next station."""
    _, floor, means = _gear()
    trip = means.trips[0]
    assert (trip.scope, trip.load, trip.drive) == ("SHAVE>HT", 30.0, 40.0)
    play = Playback(floor, transit=0.0, plant=means)
    play.change(Change(1000.0, trip.scope, "move", 9, "G1"))
    start, end = np.asarray(trip.start), np.asarray(trip.end)
    carried = {1010.0: start, 1050.0: (start + end) / 2, 1090.0: end, 1500.0: end}
    for time, where in carried.items():
        frame = play.frame(time)
        assert np.allclose(frame.parts, [[*where, VEHICLE_TOP + LIFT]])
        assert np.allclose(frame.vehicles[:, :2], [where])
    play.change(Change(1600.0, "HT", "arrive", 9, "G1"))
    back = play.frame(1620.0)
    assert np.allclose(back.parts[0, :2], floor.place("HT").rack, atol=0.6)
    assert np.allclose(back.vehicles[:, :2], [(start + end) / 2])
    assert play.frame(1640.0).vehicles.shape == (0, 3)
    late = Playback(floor, transit=0.0, plant=means)  # joins with the part on its way
    late.sync({}, {9: (trip.scope, "G1")})
    assert np.allclose(late.frame(1200.0).vehicles[:, :2], [end])
    late.change(Change(1600.0, "HT", "arrive", 9, "G1"))
    assert np.allclose(late.frame(1620.0).vehicles[:, :2], [(start + end) / 2])


def test_the_drawing_agrees_with_the_levels_of_the_gear_line() -> None:
    """Every minute of the gear line's first day, the vehicles drawn are the AGVs on a trip
    and the parts drawn on the belt are the parts on the conveyor."""
    model, floor, means = _gear()
    sim = Simulation(model)
    play = Playback(floor, plant=means)
    belt, trips = means.belts[0], 0
    for minute in range(24 * 60):
        play.apply(sim.advance(60.0 * minute + 0.5))
        frame = play.frame(60.0 * minute + 0.5)
        assert len(frame.vehicles) == frame.levels.get("agv", 0)
        on_belt = np.isclose(frame.parts[:, 2], BELT_TOP + LIFT).sum()
        assert on_belt == frame.levels.get(belt.scope, 0)
        trips += len(frame.vehicles)
    assert trips > 50


def test_a_batch_stands_in_rows_on_its_machine() -> None:
    """Sixty parts in the furnace stand in rows and a few layers on its top, not in one
    column; a part alone on a machine sits in the middle of its top."""
    _, floor, means = _gear()
    play = Playback(floor, transit=0.0, plant=means)
    play.change(Change(0.0, "SHAVE.0", "start", 1, "G1"))
    for part in range(100, 160):
        play.change(Change(0.0, "HT.0", "start", part, "G1"))
    parts = play.frame(1.0).parts
    alone = parts[parts[:, 0] < floor.place("HT").x - 3]
    assert np.allclose(alone, [[*floor.place("SHAVE").machines[0], MACHINE_TOP]])
    batch = parts[parts[:, 0] > floor.place("HT").x - 3]
    assert len(batch) == 60 and len({(x, y) for x, y, _ in batch.tolist()}) == 12
    assert batch[:, 2].min() == MACHINE_TOP and batch[:, 2].max() < MACHINE_TOP + 1.5
