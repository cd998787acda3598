"""The 3D scene, rendered offscreen and read back by its pixels: a machine shows its
state's colour where the camera projects it; `twin render` writes a real picture."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import imageio.v3 as imageio
import numpy as np
import pytest
from pixels import count, front_of, share_near
from typer.testing import CliRunner

from scenarios.commands import Door
from scenarios.layout import layout
from scenarios.playback import Simulation
from scenarios.schema import Scenario
from twin.cli import app
from twin.colours import LEGEND
from viz.play import Frame, Playback
from viz.scene import Scene

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
