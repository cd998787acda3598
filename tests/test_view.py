"""`twin view`: a 3D view of a served line follows the state it receives (real sockets on
127.0.0.1, a server in a thread, every wait bounded)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import imageio.v2 as imageio
import pytest
from live import DEADLINE, LOOPBACK, Served
from pixels import front_of, share_near
from typer.testing import CliRunner

from bridges.client import TwinClient
from bridges.server import Settings
from scenarios.layout import layout
from scenarios.schema import Scenario
from twin.cli import app
from viz.live import follow, mirrored_layout
from viz.scene import Scene

pytestmark = pytest.mark.usefixtures("rendering")

LINE = """\
name: served cells
seed: 5
horizon: 30min
stations:
  - id: CUT
    servers: 2
    input_buffer: 4
    process_time: {dist: exponential, mean: 60s}
  - id: PACK
    input_buffer: 3
    process_time: 20s
"""
MACHINES = ("CUT.0", "CUT.1", "PACK.0")


def test_the_view_draws_each_state_it_receives(scenario: Callable[[str], Scenario]) -> None:
    """A machine failed by a command turns red in the pictures; in every picture each
    machine shows the colour of the state the view had received; the last picture is the
    final state."""
    model = scenario(LINE)
    served = Served(model, Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=1, speed=600.0))
    floor = layout(model)
    scene = Scene(floor, model.name)
    pixels = {}
    for scope in MACHINES:
        pixels[scope] = scene.project(front_of(floor, scope))
    with TwinClient(served.pub, served.ctl) as client:
        client.sync()
        reply = client.command("fail", "CUT.1", repair="10min")
        shots = list(follow(client, scene, until=DEADLINE, fps=5))
        final = {s: v for (s, kind), v in client.mirror.levels.items() if kind == "state"}
    scene.close()
    served.join()
    assert client.ended and reply.done() and reply.result()["ok"]
    assert len(shots) >= 3
    for frame, image in shots:
        for scope in MACHINES:
            assert share_near(image, pixels[scope], frame.states[scope]) > 0.8, (frame.time, scope)
    assert any(frame.states["CUT.1"] == "down" for frame, _ in shots)
    assert shots[-1][0].states == final


def test_a_view_that_joins_late_counts_the_parts_from_the_start(
    scenario: Callable[[str], Scenario],
) -> None:
    """Joining 10 simulated minutes in, the view's good and scrapped parts at the end are
    the run's, those that left before it joined included (from the kpi/ samples)."""
    model = scenario(LINE.replace("process_time: 20s", "process_time: 20s\n    scrap_rate: 0.2"))
    served = Served(model, Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=1, speed=600.0))
    scene = Scene(layout(model), model.name)
    with TwinClient(served.pub, served.ctl) as starter:
        starter.sync()  # the server's clock starts with its first subscriber
        end = time.monotonic() + DEADLINE
        # The mirror's time is that of the last change received; a snapshot taken later
        # stands at the server's last event, so at least there (a heartbeat's clock runs
        # ahead of the events in real time, and would not do).
        while starter.mirror.time < 600.0 and time.monotonic() < end:
            starter.poll(0.05)
        with TwinClient(served.pub, served.ctl) as late:
            late.sync()
            joined = late.mirror.time
            shots = list(follow(late, scene, until=DEADLINE, fps=4))
    scene.close()
    parts = served.join()["line"]["parts"]
    assert joined >= 600.0 and late.ended
    last = shots[-1][0]
    assert (last.good, last.scrapped) == (parts["finished"], parts["scrapped"])
    assert parts["finished"] > 20 and parts["scrapped"] > 2


def test_without_the_scenario_the_view_lays_out_what_it_receives() -> None:
    """The stations a mirror knows, in the server's order, each with its machines."""
    levels = {
        ("SAW.0", "state"): "busy",
        ("SAW.buffer", "level"): 0,
        ("MILL.0", "state"): "busy",
        ("MILL.1", "state"): "down",
        ("MILL.buffer", "level"): 2,
    }
    floor = mirrored_layout(levels)
    assert [(p.id, len(p.machines)) for p in floor.places] == [("SAW", 1), ("MILL", 2)]
    assert floor.places[0].x < floor.places[1].x


@pytest.mark.parametrize(("out", "named"), [("frames", True), ("live.gif", False)])
def test_twin_view_writes_pictures_until_the_run_ends(
    scenario: Callable[[str], Scenario],
    scenario_file: Callable[[str], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    out: str,
    named: bool,
) -> None:
    """With no display, `twin view --out` writes PNG frames (a folder) or a movie, with
    the scenario's floor plan or the one its stream implies, and stops at the server's
    death message."""
    monkeypatch.delenv("DISPLAY", raising=False)
    path = scenario_file(LINE)
    served = Served(scenario(LINE), Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=1, speed=300.0))
    target = tmp_path / out
    result = CliRunner().invoke(
        app,
        [
            "view",
            "--connect",
            served.pub,
            "--control",
            served.ctl,
            "--out",
            str(target),
            "--fps",
            "4",
            "--until",
            f"{DEADLINE:g}s",
            *(["--scenario", str(path)] if named else []),
        ],
    )
    served.join()
    assert result.exit_code == 0, result.output
    if target.suffix == ".gif":
        written = len(imageio.mimread(target))
    else:
        written = len(sorted(target.glob("frame-*.png")))
        assert imageio.imread(target / "frame-00000.png").shape[:2] == (576, 1024)
    assert written >= 2
    assert f"wrote {written} pictures to {target}" in result.output


def test_twin_view_without_a_server_says_so(tmp_path: Path) -> None:
    """Nobody at the address: exit 1 and a message, no traceback, within the timeout."""
    result = CliRunner().invoke(
        app,
        ["view", "--connect", "tcp://127.0.0.1:9", "--out", str(tmp_path / "f"), "--until", "2s"],
    )
    assert result.exit_code == 1, result.output
    assert "error: nothing streamed" in result.output
