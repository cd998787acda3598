"""The smart-workshop layer in the 3D view: an antenna on each connected machine, an alarm's
beacon from the alarm until the maintenance ends or a repair, the technician it calls (on
the way, then at work) and each crew's line under the headline figures; real offscreen
renders read back by their pixels, from a simulation and from a Parquet trace."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import imageio.v3 as imageio
import pytest
from pixels import count, share_near

from scenarios.layout import layout
from scenarios.loader import loads
from scenarios.playback import Simulation
from scenarios.schema import Scenario
from tests.lines import invoke
from twin.changes import Change, Value
from twin.colours import LEGEND
from viz import marks
from viz.calls import Calls, Technician
from viz.movie import TraceSource
from viz.plant import plant
from viz.play import Frame, Playback
from viz.scene import Scene, overlay

# Two grinders that wear 60 units an hour without noise, read every 2 min: both cross the
# alarm level (80) after 80 min of work, and the first reading above it calls the one
# technician; the second grinder waits for him and breaks at 100 (after 100 min of work),
# before he comes.
CELL = """\
name: smart cell
seed: 7
horizon: 4h
network:
  links: [{id: wired, latency: 5ms}]
crews: [{id: maint, count: 1, response: 10min}]
stations:
  - id: GRIND
    servers: 2
    process_time: 60s
    link: wired
    condition: {wear: {rate: 60}, fails_at: 100, repair: 40min}
    sensors: [{id: vib, every: 2min}]
    maintenance: {policy: condition, alarm: {sensor: vib, above: 80}, duration: 20min, crew: maint}
  - id: WASH
    process_time: 30s
"""
# The same stations without the layer.
PLAIN = """\
name: plain cell
seed: 7
horizon: 4h
stations:
  - id: GRIND
    servers: 2
    process_time: 60s
  - id: WASH
    process_time: 30s
"""
Pixels = dict[str, tuple[int, int]]  # where each mark of a machine is projected


@dataclass(frozen=True)
class Moments:
    """When the cell's calls happen, read from its change stream."""

    alarm: float  # both grinders' alarms
    order: float  # the technician reaches GRIND.0 and orders its maintenance
    start: float  # GRIND.0 stops for it
    fail: float  # GRIND.1 breaks, its alarm still waiting for the technician
    end: float  # GRIND.0's maintenance ends: the technician goes to GRIND.1
    back: float  # he finds GRIND.1 down and comes back
    repair: float  # GRIND.1 repaired


def _moments(changes: list[Change]) -> Moments:
    def first(scope: str, kind: str, value: object = None, after: float = -1.0) -> float:
        return next(
            c.time
            for c in changes
            if c.scope == scope and c.kind == kind and c.time > after
            if value is None or c.value == value
        )

    alarms = [c.time for c in changes if c.kind == "alarm"]
    start = first("GRIND.0", "state", "maintenance")
    end = next(
        c.time
        for c in changes
        if c.scope == "GRIND.0" and c.kind == "state" and c.time > start
        if c.value != "maintenance"
    )
    moments = Moments(
        alarm=alarms[0],
        order=first("GRIND.0", "maintain"),
        start=start,
        fail=first("GRIND.1", "fail"),
        end=end,
        back=first("crews.maint", "level", 0, after=end),
        repair=first("GRIND.1", "repair"),
    )
    # What the cell is made for: both alarms at once, each case of a call in turn, and the
    # next alarm only after the repair.
    assert alarms[:2] == [moments.alarm] * 2 and alarms[2] > moments.repair + 1
    times = list(vars(moments).values())
    assert times == sorted(times) and len(set(times)) == len(times), moments
    return moments


@pytest.fixture(scope="module")
def cell() -> tuple[Scenario, list[Change], Moments]:
    """The cell, every change of its replication 0, and the moments of its calls."""
    model = loads(CELL, "cell.yaml")
    changes = Simulation(model).advance(model.horizon)
    return model, changes, _moments(changes)


def _frame(model: Scenario, changes: list[Change], at: float) -> Frame:
    floor = layout(model)
    play = Playback(floor, plant=plant(model, floor))
    play.apply(c for c in changes if c.time <= at)
    return play.frame(at)


def _between(a: float, b: float) -> float:
    return (a + b) / 2


def _calls(frame: Frame) -> tuple[set[str], set[Technician]]:
    return set(frame.alarms), set(frame.technicians)


def test_an_alarm_stands_until_its_maintenance_ends_or_a_repair(
    cell: tuple[Scenario, list[Change], Moments],
) -> None:
    """Both alarms stand from their change; the technician is on the way to the first
    (GRIND.0), at work there from his order through the maintenance; its end clears that
    alarm and sends him to GRIND.1, down meanwhile, whose alarm stands until its repair:
    he finds it down and comes back."""
    model, changes, t = cell
    one, two = "GRIND.0", "GRIND.1"
    at = {
        t.alarm - 1: (set(), set()),
        _between(t.alarm, t.order): ({one, two}, {Technician(one, "maint", True)}),
        _between(t.order, t.start): ({one, two}, {Technician(one, "maint", False)}),
        _between(t.start, t.fail): ({one, two}, {Technician(one, "maint", False)}),
        _between(t.fail, t.end): ({one, two}, {Technician(one, "maint", False)}),
        _between(t.end, t.back): ({two}, {Technician(two, "maint", True)}),
        _between(t.back, t.repair): ({two}, set()),
        t.repair + 1: (set(), set()),
    }
    for moment, wanted in at.items():
        frame = _frame(model, changes, moment)
        assert _calls(frame) == wanted, moment
    assert _frame(model, changes, _between(t.fail, t.end)).states[two] == "down"


def test_the_overlay_counts_the_crew_at_work_and_on_the_way(
    cell: tuple[Scenario, list[Change], Moments],
) -> None:
    """Under the headline figures, the crew's technicians at work of its count, and how
    many of them are on the way to an alarm; without the scenario, those at work."""
    model, changes, t = cell
    means = plant(model, layout(model))
    lines = {
        t.alarm - 1: "crew maint 0/1 at work, 0 on the way",
        _between(t.alarm, t.order): "crew maint 1/1 at work, 1 on the way",
        _between(t.start, t.end): "crew maint 1/1 at work, 0 on the way",
        _between(t.back, t.repair): "crew maint 0/1 at work, 0 on the way",
    }
    for moment, line in lines.items():
        assert overlay(_frame(model, changes, moment), means).splitlines()[3:] == [line]
    # A view that does not know the scenario (twin view without it): the stream's count.
    frame = _frame(model, changes, _between(t.alarm, t.order))
    assert overlay(frame).splitlines()[3:] == ["crew maint 1 at work"]


def test_a_trace_replays_the_same_calls(
    cell: tuple[Scenario, list[Change], Moments], tmp_path: Path
) -> None:
    """Replayed from `twin run --trace` (values kept as text), the alarms and technicians
    at each moment are those of the simulation."""
    model, changes, t = cell
    (tmp_path / "cell.yaml").write_text(CELL, encoding="utf-8")
    trace = tmp_path / "cell.parquet"
    result = invoke("run", str(tmp_path / "cell.yaml"), "--reps", "1", "--trace", str(trace))
    assert result.exit_code == 0, result.output
    floor = layout(model)
    play = Playback(floor, plant=plant(model, floor))
    source = TraceSource(trace)
    moments = sorted(
        [_between(t.alarm, t.order), _between(t.start, t.fail), _between(t.end, t.back)]
    )
    for moment in moments:
        play.apply(source.advance(moment))
        assert _calls(play.frame(moment)) == _calls(_frame(model, changes, moment)), moment


def test_the_technician_who_comes_back_is_the_one_whose_call_is_over() -> None:
    """With two technicians out, the one whose maintenance ended, or who found his machine
    down, is the one who comes back, whichever went first; the other stays on his call."""
    calls = Calls({"A.0": "maint", "B.0": "maint"})
    stream: list[tuple[str, str, Value]] = [
        ("A.0", "alarm", 80.5),
        ("crews.maint", "level", 1),
        ("B.0", "alarm", 81.0),
        ("crews.maint", "level", 2),
        ("B.0", "maintain", "1200"),
        ("B.0", "state", "maintenance"),
    ]
    for k, (scope, kind, value) in enumerate(stream):
        calls.change(Change(float(k), scope, kind, -1, value))
    assert set(calls.technicians()) == {
        Technician("A.0", "maint", True),
        Technician("B.0", "maint", False),
    }
    calls.change(Change(10.0, "B.0", "state", -1, "busy"))
    calls.change(Change(10.0, "crews.maint", "level", -1, 1))
    assert calls.technicians() == (Technician("A.0", "maint", True),)
    # B calls again while A's technician is on his way; A is maintained, B breaks, and
    # B's technician turns back: A's stays.
    calls.change(Change(11.0, "B.0", "alarm", -1, 81.0))
    calls.change(Change(11.0, "crews.maint", "level", -1, 2))
    calls.change(Change(12.0, "A.0", "maintain", -1, "1200"))
    calls.change(Change(12.0, "A.0", "state", -1, "maintenance"))
    calls.change(Change(13.0, "B.0", "state", -1, "down"))
    calls.change(Change(14.0, "crews.maint", "level", -1, 1))
    assert calls.technicians() == (Technician("A.0", "maint", False),)
    assert set(calls.alarms) == {"A.0", "B.0"}


@pytest.fixture(scope="module")
def drawn(
    rendering: None, cell: tuple[Scenario, list[Change], Moments]
) -> Iterator[tuple[Scene, dict[str, Pixels]]]:
    """The cell's scene, and where each mark of each machine is projected."""
    model, _, _ = cell
    floor = layout(model)
    scene = Scene(floor, model.name, plant=plant(model, floor))
    pixels = {
        scope: {name: scene.project(point) for name, point in marks.centres(p, c).items()}
        for scope, p, c in marks.machines(floor)
    }
    yield scene, pixels
    scene.close()


def test_connected_machines_carry_an_antenna(
    drawn: tuple[Scene, dict[str, Pixels]],
    cell: tuple[Scenario, list[Change], Moments],
) -> None:
    """Both grinders (linked) show the antenna's indigo where its tip is projected; the
    washer (no link) does not, nor does any machine of the same line without a network."""
    scene, pixels = drawn
    model, changes, t = cell
    image = scene.image(_frame(model, changes, t.alarm - 1))
    for scope in ("GRIND.0", "GRIND.1"):
        assert share_near(image, pixels[scope]["antenna"], marks.LINK) > 0.5, scope
    assert share_near(image, pixels["WASH.0"]["antenna"], marks.LINK) == 0.0
    plain = loads(PLAIN, "plain.yaml")
    floor = layout(plain)
    other = Scene(floor, plain.name, plant=plant(plain, floor))
    play = Playback(floor)
    play.apply(Simulation(plain).advance(600.0))
    picture = other.image(play.frame(600.0))
    other.close()
    assert count(picture, marks.LINK) == 0
    assert count(image, marks.LINK) > 40


def test_the_beacon_and_the_technician_show_each_call(
    drawn: tuple[Scene, dict[str, Pixels]],
    cell: tuple[Scenario, list[Change], Moments],
) -> None:
    """A grinder's magenta beacon shows from its alarm until its maintenance ends (or, for
    the broken one, its repair), not before; the technician's light orange stands
    downstream of the grinder he is on his way to, his orange beside the one he
    maintains, and neither where he is not."""
    scene, pixels = drawn
    model, changes, t = cell
    one, two = pixels["GRIND.0"], pixels["GRIND.1"]
    states: dict[float, dict[str, tuple[Pixels, ...]]] = {
        t.alarm - 1: {"alarm": (), "on the way": (), "at work": ()},
        _between(t.alarm, t.order): {"alarm": (one, two), "on the way": (one,), "at work": ()},
        _between(t.start, t.fail): {"alarm": (one, two), "on the way": (), "at work": (one,)},
        _between(t.end, t.back): {"alarm": (two,), "on the way": (two,), "at work": ()},
        _between(t.back, t.repair): {"alarm": (two,), "on the way": (), "at work": ()},
        t.repair + 1: {"alarm": (), "on the way": (), "at work": ()},
    }
    colours = {"alarm": marks.ALARM, "on the way": marks.COMING, "at work": marks.TECHNICIAN}
    for moment, shown in states.items():
        image = scene.image(_frame(model, changes, moment))
        for mark, colour in colours.items():
            for machine in (one, two):
                share = share_near(image, machine[mark], colour)
                if machine in shown[mark]:
                    assert share > 0.8, (moment, mark)
                else:
                    assert share == 0.0, (moment, mark)


def test_the_legend_names_the_marks_a_line_has(
    drawn: tuple[Scene, dict[str, Pixels]],
) -> None:
    """The cell's legend adds the connected machines, the alarm and the technician on the
    way and at work to the states; a line without the layer has the states alone."""
    scene, _ = drawn
    names = [name for name, _ in LEGEND]
    assert _legend(scene) == [*names, *(name for name, _ in marks.MARKS)]
    plain = loads(PLAIN, "plain.yaml")
    floor = layout(plain)
    other = Scene(floor, plain.name, plant=plant(plain, floor))
    assert _legend(other) == names
    other.close()


def _legend(scene: Scene) -> list[str]:
    legend = scene.plotter.legend
    return [legend.GetEntryString(i) for i in range(legend.GetNumberOfEntries())]


@pytest.mark.usefixtures("rendering")
def test_twin_render_draws_the_antennas_of_the_smart_example(tmp_path: Path) -> None:
    """`twin render docs/examples/smart.yaml` draws an antenna on OD, ID and INSPECT (each
    with a link) and none on WASH."""
    path = Path(__file__).parents[1] / "docs" / "examples" / "smart.yaml"
    out = tmp_path / "smart.png"
    result = invoke("render", str(path), "--at", "1h", "--out", str(out))
    assert result.exit_code == 0, result.output
    image = imageio.imread(out)
    model = loads(path.read_text(encoding="utf-8"), "smart.yaml")
    floor = layout(model)
    tips = {s: marks.centres(p, c)["antenna"] for s, p, c in marks.machines(floor)}
    scene = Scene(floor, model.name, plant=plant(model, floor))
    pixels = {scope: scene.project(tip) for scope, tip in tips.items()}
    scene.close()
    for scope in ("OD.0", "ID.0", "INSPECT.0"):
        assert share_near(image, pixels[scope], marks.LINK) > 0.5, scope
    assert share_near(image, pixels["WASH.0"], marks.LINK) == 0.0
