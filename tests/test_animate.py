"""`twin animate`: movies of a run read back frame by frame, from a simulation, from a
Parquet trace, and a plan side by side with the baseline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
from pixels import count
from typer.testing import CliRunner

from scenarios.layout import layout
from scenarios.playback import Simulation
from scenarios.schema import Scenario
from twin.cli import app
from viz.movie import TraceSource, moments
from viz.play import Playback

pytestmark = pytest.mark.usefixtures("rendering")

LINE = """\
name: press shop
seed: 11
horizon: 1h
stations:
  - id: PRESS
    input_buffer: 3
    process_time: {dist: exponential, mean: 50s}
    failures: {mtbf: 10min, mttr: 3min}
  - id: TRIM
    servers: 2
    input_buffer: 4
    process_time: {dist: exponential, mean: 80s}
retrofits:
  - id: faster
    changes:
      stations.TRIM.servers: 3
"""


def animate(*args: str) -> str:
    result = CliRunner().invoke(app, ["animate", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_movie_has_the_frames_and_duration_asked(
    scenario_file: Callable[[str], Path], tmp_path: Path
) -> None:
    """10 simulated minutes at 120 s per movie second and 6 fps: 5 s, 30 frames."""
    out = tmp_path / "run.mp4"
    line = str(scenario_file(LINE))
    animate(
        line, "--from", "10min", "--to", "20min", "--speed", "120", "--fps", "6", "--out", str(out)
    )
    reader = imageio.get_reader(out)
    meta = reader.get_meta_data()
    assert reader.count_frames() == 30
    assert meta["fps"] == 6 and meta["duration"] == pytest.approx(5.0, abs=0.2)
    assert meta["size"] == (1024, 576)
    first, last = reader.get_data(0), reader.get_data(29)
    assert np.abs(first.astype(int) - last.astype(int)).max() > 50  # the line moved
    reader.close()


def test_a_gif_keeps_each_frame_for_one_frame_time(
    scenario_file: Callable[[str], Path], tmp_path: Path
) -> None:
    """A GIF of 8 frames at 4 fps shows each for 250 ms."""
    out = tmp_path / "run.gif"
    animate(
        str(scenario_file(LINE)), "--to", "8min", "--speed", "240", "--fps", "4", "--out", str(out)
    )
    frames = imageio.mimread(out)
    assert len(frames) == 8
    assert imageio.get_reader(out).get_meta_data()["duration"] == 250


def test_side_by_side_shows_both_lines(
    scenario_file: Callable[[str], Path], tmp_path: Path
) -> None:
    """--compare: each half of a frame is a line, with busy machines in both; the plan's
    side has three trimming machines."""
    out = tmp_path / "side.gif"
    animate(
        str(scenario_file(LINE)),
        "--compare",
        "faster",
        "--from",
        "20min",
        "--to",
        "22min",
        "--speed",
        "60",
        "--fps",
        "2",
        "--out",
        str(out),
    )
    frames = imageio.mimread(out)
    assert len(frames) == 4
    frame = np.asarray(frames[-1])[..., :3]
    assert frame.shape == (576, 1536, 3)
    left, right = frame[:, :768], frame[:, 768:]
    for half in (left, right):
        machines = sum(count(half, s, 20) for s in ("busy", "starved", "blocked", "down"))
        assert machines > 2000


def test_a_trace_replays_what_the_simulation_shows(
    scenario: Callable[[str], Scenario], scenario_file: Callable[[str], Path], tmp_path: Path
) -> None:
    """The frames of a `twin run --trace` file are those of the same replication simulated."""
    path = scenario_file(LINE)
    trace = tmp_path / "trace.parquet"
    result = CliRunner().invoke(app, ["run", str(path), "--reps", "1", "--trace", str(trace)])
    assert result.exit_code == 0, result.output
    model = scenario(LINE)
    floor = layout(model)
    sources = [Simulation(model), TraceSource(trace)]
    plays = [Playback(floor, transit=30.0), Playback(floor, transit=30.0)]
    for time in moments(0.0, 3000.0, 1.0, 137.0):
        shown = []
        for source, play in zip(sources, plays, strict=True):
            play.apply(source.advance(time))
            shown.append(play.frame(time))
        simulated, traced = shown
        assert simulated.states == traced.states and simulated.levels == traced.levels
        assert np.allclose(simulated.parts, traced.parts)
        assert (simulated.good, simulated.wip) == (traced.good, traced.wip)
    assert traced.good > 20
    out = tmp_path / "trace.gif"
    animate(
        str(path),
        "--trace",
        str(trace),
        "--to",
        "4min",
        "--speed",
        "120",
        "--fps",
        "1",
        "--out",
        str(out),
    )
    assert len(imageio.mimread(out)) == 2


def test_the_counts_go_up_with_the_clock(scenario: Callable[[str], Scenario]) -> None:
    """Good parts never fall, and at the horizon equal the parts the line finished."""
    model = scenario(LINE)
    sim = Simulation(model)
    play = Playback(layout(model))
    goods = []
    for time in [*moments(0.0, 3600.0, 1.0, 300.0), 3600.0]:
        play.apply(sim.advance(time))
        goods.append(play.frame(time).good)
    assert goods == sorted(goods) and goods[-1] == sim.line.finished > 0
    assert play.frame().wip == sim.line.in_system


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--out", "x.avi"], "option --out: x.avi: a movie is .mp4 or .gif"),
        (["--out", "x.mp4", "--from", "30min", "--to", "10min"], "--to: 10min is not after 30min"),
        (["--out", "x.mp4", "--to", "2h"], "option --to: 2h is after the end of the run"),
        (["--out", "x.mp4", "--fps", "0"], "option --fps"),
        (["--out", "x.mp4", "--speed", "-1"], "option --speed"),
        (["--out", "x.mp4", "--speed", "0.001"], "frames, more than"),
        (["--out", "x.mp4", "--trace", "none.parquet"], "option --trace: none.parquet: no such"),
        (["--out", "x.mp4", "--trace", "t.parquet", "--compare", "faster"], "give one or the"),
        (["--out", "x.mp4", "--compare", "slower"], "slower"),
        (["--out", "x.mp4", "--compare", "faster", "--plan", "faster"], "--plan and --compare"),
    ],
)
def test_twin_animate_refuses_bad_options(
    scenario_file: Callable[[str], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    words: str,
) -> None:
    """Exit 2, the option named, no movie written."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.parquet").write_bytes(b"")
    result = CliRunner().invoke(app, ["animate", str(scenario_file(LINE)), *args])
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert not list(tmp_path.glob("x.*"))


def test_a_file_that_is_no_trace_is_refused(
    scenario_file: Callable[[str], Path], tmp_path: Path
) -> None:
    """A results file given as --trace is named, not a traceback."""
    bogus = tmp_path / "results.parquet"
    bogus.write_text("not parquet", encoding="utf-8")
    result = CliRunner().invoke(
        app,
        [
            "animate",
            str(scenario_file(LINE)),
            "--trace",
            str(bogus),
            "--out",
            str(tmp_path / "x.mp4"),
        ],
    )
    assert result.exit_code == 2
    assert "option --trace:" in result.output and "is not a Parquet trace" in result.output
