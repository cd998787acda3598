"""What the 3D views draw, before any rendering: parts move between places, and a view
that joins late from a snapshot shows what one that saw every change shows."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import simpy

from scenarios.builder import build
from scenarios.layout import layout
from scenarios.playback import Simulation
from scenarios.schema import Scenario
from twin.changes import Change, Changes, Mirror
from viz.play import MACHINE_TOP, Playback

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
