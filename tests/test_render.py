"""The 3D scene, rendered offscreen and read back by its pixels: a machine shows its
state's colour where the camera projects it, off shift and waiting for an operator too;
parts ride the conveyor's belt and the AGVs; `twin render` writes a real picture."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import imageio.v3 as imageio
import numpy as np
import pytest
from pixels import count, front_of, share_near
from typer.testing import CliRunner

from scenarios.commands import Door
from scenarios.layout import layout
from scenarios.loader import loads
from scenarios.playback import Simulation
from scenarios.schema import Scenario
from tests.test_gear_line import GEAR
from twin.cli import app
from twin.colours import LEGEND
from viz.plant import plant
from viz.play import BELT_TOP, LIFT, Frame, Playback
from viz.scene import BELT, PART, VEHICLE, Scene

pytestmark = pytest.mark.usefixtures("rendering")

LINE = """\
name: two cells
seed: 3
horizon: 2h
stations:
  - id: CUT
    servers: 2
    input_buffer: 4
    process_time: {dist: exponential, mean: 60s}
  - id: PACK
    input_buffer: 3
    process_time: 20s
"""


def line_at(
    model: Scenario, seconds: float, fail: str | None = None
) -> tuple[Scene, np.ndarray, Frame]:
    """The scene of replication 0 at ``seconds``; ``fail`` breaks that machine for an hour
    through the command door at 10 minutes."""
    floor = layout(model)
    sim = Simulation(model)
    play = Playback(floor)
    play.apply(sim.advance(600.0))
    if fail is not None:
        reply = Door(sim.line).submit(
            {"cmd_id": "f1", "action": "fail", "target": fail, "params": {"repair": "1h"}},
            "trainer",
        )
        assert reply.ok, reply
    play.apply(sim.advance(seconds))
    frame = play.frame(seconds)
    scene = Scene(floor, model.name)
    return scene, scene.image(frame), frame


def test_a_failed_machine_is_drawn_in_the_down_colour(
    scenario: Callable[[str], Scenario],
) -> None:
    """CUT.1 failed through the command door shows red where it is projected; without the
    failure the same pixels are not red, and CUT.0 beside it is busy in both."""
    model = scenario(LINE)
    down_scene, down, down_frame = line_at(model, 900.0, fail="CUT.1")
    up_scene, up, up_frame = line_at(model, 900.0)
    assert down_frame.states["CUT.1"] == "down" and up_frame.states["CUT.1"] == "busy"
    pixel = down_scene.project(front_of(layout(model), "CUT.1"))
    assert pixel == up_scene.project(front_of(layout(model), "CUT.1"))
    assert share_near(down, pixel, "down") > 0.8
    assert share_near(up, pixel, "down") == 0.0
    assert share_near(up, pixel, "busy") > 0.8
    other = down_scene.project(front_of(layout(model), "CUT.0"))
    assert share_near(down, other, down_frame.states["CUT.0"]) > 0.8
    for scene in (down_scene, up_scene):
        scene.close()


def test_a_picture_is_neither_blank_nor_uniform(scenario: Callable[[str], Scenario]) -> None:
    """The picture has the floor, the machines and every colour of the legend."""
    scene, image, _ = line_at(scenario(LINE), 1200.0)
    scene.close()
    assert image.shape == (576, 1024, 3)
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50
    for name, _ in LEGEND:
        state = {"held / planned stop": "held", "waiting for operator": "operator"}.get(name, name)
        assert count(image, state) > 20, name


def test_twin_render_writes_the_line_at_a_moment(
    scenario_file: Callable[[str], Path], tmp_path: Path
) -> None:
    """`twin render --at 30min` writes a PNG with busy machines and the legend."""
    out = tmp_path / "pictures" / "line.png"
    result = CliRunner().invoke(
        app, ["render", str(scenario_file(LINE)), "--at", "30min", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    image = imageio.imread(out)
    assert image.shape[:2] == (576, 1024)
    assert count(image, "busy") > 500
    assert not list(out.parent.glob(".*"))  # no partial file left beside it


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--at", "3h", "--out", "x.png"], "option --at: 3h is after the end of the run (2h)"),
        (["--at", "soon", "--out", "x.png"], "option --at: invalid duration"),
        (["--at", "1h", "--out", "x.jpg"], "option --out: x.jpg: a picture is .png"),
        (["--at", "1h", "--out", "x.png", "--plan", "nope"], "nope"),
    ],
)
def test_twin_render_refuses_bad_options(
    scenario_file: Callable[[str], Path], tmp_path: Path, args: list[str], words: str
) -> None:
    """A bad moment, picture name or plan is exit 2 with the option named; nothing written."""
    result = CliRunner().invoke(app, ["render", str(scenario_file(LINE)), *args])
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert not (tmp_path / "x.png").exists()


@pytest.fixture(scope="module")
def gear(rendering: None) -> Iterator[tuple[Scene, list[Frame]]]:
    """The gear line's scene, and its frames every minute of its first 14 hours (a Monday:
    off shift until 06:00, then two shifts)."""
    model = loads(GEAR, "gear.yaml")
    floor = layout(model)
    means = plant(model, floor)
    sim = Simulation(model)
    play = Playback(floor, plant=means)
    frames = []
    for minute in range(0, 14 * 60 + 1):
        play.apply(sim.advance(60.0 * minute))
        frames.append(play.frame(60.0 * minute))
    scene = Scene(floor, model.name, plant=means)
    yield scene, frames
    scene.close()


def _first(frames: list[Frame], wanted: Callable[[Frame], bool]) -> Frame:
    found = next((f for f in frames if wanted(f)), None)
    assert found is not None, "no such moment in the first 14 hours"
    return found


def test_machines_off_shift_are_grey_and_the_furnace_is_not(
    gear: tuple[Scene, list[Frame]],
) -> None:
    """At 02:00 on Monday, before the first shift, the machines on the line's calendar show
    the grey of planned stops; the furnace (calendar: always) does not."""
    scene, frames = gear
    frame = frames[120]
    image = scene.image(frame)
    for scope in ("HOB.0", "HOB.1", "SHAVE.0", "GRIND.0", "GRIND.1", "INSPECT.0"):
        assert frame.states[scope] == "off", scope
        assert share_near(image, scene.project(front_of(scene.layout, scope)), "off") > 0.8
    furnace = scene.project(front_of(scene.layout, "HT.0"))
    assert frame.states["HT.0"] != "off"
    assert share_near(image, furnace, "off") == 0.0
    assert share_near(image, furnace, frame.states["HT.0"]) > 0.8


def test_a_machine_waiting_for_its_operator_is_brown(gear: tuple[Scene, list[Frame]]) -> None:
    """A HOB machine waiting for a loader or the setter shows the operator brown; a
    machine in another state beside it does not."""
    scene, frames = gear
    frame = _first(frames, lambda f: "operator" in (f.states["HOB.0"], f.states["HOB.1"]))
    image = scene.image(frame)
    for scope in ("HOB.0", "HOB.1"):
        pixel = scene.project(front_of(scene.layout, scope))
        brown = share_near(image, pixel, "operator")
        assert brown > 0.8 if frame.states[scope] == "operator" else brown == 0.0, scope


def _belt_box(scene: Scene, margin: int = 8) -> tuple[slice, slice]:
    """The rows and columns of the picture where the HOB>SHAVE belt is drawn."""
    belt = scene.plant.belts[0]
    ends = [scene.project((*p, BELT_TOP + LIFT)) for p in (belt.start, belt.end)]
    cols = sorted(c for c, _ in ends)
    rows = sorted(r for _, r in ends)
    return slice(rows[0] - margin, rows[1] + margin + 1), slice(cols[0], cols[1] + 1)


def test_parts_on_the_conveyor_are_drawn_along_its_belt(
    gear: tuple[Scene, list[Frame]],
) -> None:
    """With parts on the HOB>SHAVE conveyor, parts show along the belt between the two
    stations, each where its point projects and not all at one place; with the conveyor
    empty, no part shows there."""
    scene, frames = gear
    belt = scene.plant.belts[0]
    frame = _first(frames, lambda f: f.levels.get(belt.scope, 0) >= 2)
    on_belt = frame.parts[np.isclose(frame.parts[:, 2], BELT_TOP + LIFT)]
    assert len(on_belt) == frame.levels[belt.scope]
    image = scene.image(frame)
    pixels = {scene.project(tuple(p)) for p in on_belt}
    assert len(pixels) == len(on_belt)  # spread along the belt
    for pixel in pixels:
        assert share_near(image, pixel, PART, radius=2) > 0.3, pixel
    rows, cols = _belt_box(scene)
    assert count(image[rows, cols], PART) > 8 * len(on_belt)
    empty = scene.image(frames[120])
    assert frames[120].levels.get(belt.scope, 0) == 0
    assert count(empty[rows, cols], PART) == 0


def test_an_agv_on_a_trip_is_drawn_where_it_drives(gear: tuple[Scene, list[Frame]]) -> None:
    """As many vehicles as the fleet has on a trip are drawn, each where it is on its way;
    with none on a trip, no vehicle shows."""
    scene, frames = gear
    frame = _first(frames, lambda f: f.levels.get("agv", 0) >= 1)
    assert len(frame.vehicles) == frame.levels["agv"]
    image = scene.image(frame)
    for x, y, _ in frame.vehicles:
        assert share_near(image, scene.project((x, y, 0.2)), VEHICLE, radius=2) > 0.5
    assert count(image, VEHICLE) > 100 * len(frame.vehicles)
    idle = frames[120]
    assert len(idle.vehicles) == 0
    assert count(scene.image(idle), VEHICLE) == 0


def test_the_overlay_counts_operators_and_vehicles_at_work(
    gear: tuple[Scene, list[Frame]],
) -> None:
    """Under the headline figures the view prints each operator pool's and the fleet's
    number at work, of how many there are, as the change stream has them."""
    scene, frames = gear
    frame = _first(frames, lambda f: f.levels.get("operators.loader", 0) >= 1)
    scene.draw(frame)
    lines = str(scene.clock.input).splitlines()
    assert lines[3:] == [
        f"setter {frame.levels.get('operators.setter', 0)}/1 at work",
        f"loader {frame.levels['operators.loader']}/2 at work",
        f"AGVs {frame.levels.get('agv', 0)}/2 on a trip",
    ]


def test_twin_render_draws_the_gear_line_of_the_docs(tmp_path: Path) -> None:
    """docs/examples/gear.yaml is the gear line; `twin render` of it at 34 h (Tuesday's
    10:00 break) draws its conveyor's belt, its machines on the calendar grey and the
    furnace not."""
    path = Path(__file__).parents[1] / "docs" / "examples" / "gear.yaml"
    model = loads(path.read_text(encoding="utf-8"), "gear.yaml")
    assert model == loads(GEAR, "gear.yaml")
    out = tmp_path / "gear.png"
    result = CliRunner().invoke(app, ["render", str(path), "--at", "34h", "--out", str(out)])
    assert result.exit_code == 0, result.output
    image = imageio.imread(out)
    floor = layout(model)
    scene = Scene(floor, model.name, plant=plant(model, floor))
    pixels = {s: scene.project(front_of(floor, s)) for s in ("HOB.0", "SHAVE.0", "GRIND.1", "HT.0")}
    scene.close()
    assert count(image, BELT) > 300
    for scope in ("HOB.0", "SHAVE.0", "GRIND.1"):
        assert share_near(image, pixels[scope], "off") > 0.8, scope
    assert share_near(image, pixels["HT.0"], "off") == 0.0
