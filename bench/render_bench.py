"""Offscreen 3D rendering: frame time of a 30-station scene with 200 moving parts, time to
the first frame in a fresh process, and movie encoding rates (MP4 and GIF).

Run: ``.venv/bin/python bench/render_bench.py`` (``--quick`` for fewer frames).
Target: at least 20 frames per second after the first, at the default 1024x576 pixels.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from scenarios.layout import layout
from scenarios.loader import loads
from scenarios.playback import Simulation
from viz.movie import MovieWriter
from viz.play import Frame, Playback
from viz.scene import SIZE, Scene

STATES = ("busy", "starved", "blocked", "down", "setup", "held")
TARGET_FPS = 20.0


def scenario_yaml(stations: int = 30) -> str:
    """A saturated line of ``stations`` stations, every third with two machines."""
    lines = ["name: render bench", "seed: 7", "horizon: 8h", "stations:"]
    for i in range(stations):
        servers = 2 if i % 3 == 1 else 1
        lines += [
            f"  - id: S{i:02d}",
            f"    servers: {servers}",
            "    input_buffer: 8",
            f"    process_time: {{dist: exponential, mean: {50 * servers}s}}",
            "    failures: {mtbf: 2h, mttr: 5min}",
        ]
    return "\n".join(lines) + "\n"


def synthetic_frames(scene: Scene, count: int, parts: int, seed: int = 1) -> list[Frame]:
    """Frames in which every machine may change colour, every rack its fill and each of
    ``parts`` parts moves a little along the line."""
    rng = np.random.default_rng(seed)
    floor = scene.layout
    xmin, xmax, ymin, ymax = floor.bounds()
    machines = [s for p in floor.places for s in p.machine_scopes()]
    racks = [p.rack_scope for p in floor.places]
    start = np.column_stack(
        [rng.uniform(xmin, xmax, parts), rng.uniform(ymin, ymax, parts), np.full(parts, 0.3)]
    )
    frames = []
    for k in range(count):
        moved = start + np.array([0.15 * k, 0.0, 0.0])
        frames.append(
            Frame(
                time=60.0 * k,
                states={m: STATES[int(rng.integers(len(STATES)))] for m in machines},
                levels={r: int(rng.integers(0, 9)) for r in racks},
                parts=moved,
                good=k,
                scrapped=0,
                wip=parts,
            )
        )
    return frames


def time_frames(scene: Scene, frames: list[Frame]) -> list[float]:
    times = []
    for frame in frames:
        start = time.perf_counter()
        scene.image(frame)
        times.append(time.perf_counter() - start)
    return times


def first_frame_cold() -> dict[str, float]:
    """A fresh process: imports, the rendering probe, the scene and its first picture."""
    script = f"""
import time
t0 = time.perf_counter()
import pyvista
from viz.offscreen import check
from viz.scene import Scene
from scenarios.layout import layout
from scenarios.loader import loads
t1 = time.perf_counter()
check()
t2 = time.perf_counter()
scene = Scene(layout(loads({scenario_yaml()!r})))
t3 = time.perf_counter()
scene.image()
t4 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    imports, probe, build, first = (float(x) for x in done.stdout.split())
    return {"imports": imports, "probe": probe, "scene": build, "first picture": first}


def encode(images: list[np.ndarray], suffix: str, fps: float) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"bench{suffix}"
        start = time.perf_counter()
        with MovieWriter(path, fps) as movie:
            for image in images:
                movie.append(image)
        seconds = time.perf_counter() - start
        return seconds, path.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames")
    parser.add_argument("--parts", type=int, default=200, help="moving parts (default 200)")
    args = parser.parse_args()
    count = 40 if args.quick else 200

    cold = first_frame_cold()
    print(f"first frame in a fresh process ({SIZE[0]}x{SIZE[1]}, 30 stations):")
    for name, seconds in cold.items():
        print(f"  {name:<14} {seconds:6.2f} s")
    print(f"  {'total':<14} {sum(cold.values()):6.2f} s")

    model = loads(scenario_yaml())
    floor = layout(model)
    scene = Scene(floor, model.name)
    machines = sum(len(p.machines) for p in floor.places)
    frames = synthetic_frames(scene, count, args.parts)
    times = time_frames(scene, frames)
    after = times[1:]
    fps = 1.0 / statistics.mean(after)
    print(
        f"\nscene of {len(floor.places)} stations, {machines} machines, {args.parts} moving "
        f"parts, every machine re-coloured each frame ({count} frames):"
    )
    print(f"  first frame      {times[0] * 1000:7.1f} ms")
    print(
        f"  after the first  {statistics.mean(after) * 1000:7.1f} ms mean, "
        f"{statistics.median(after) * 1000:.1f} ms median, {max(after) * 1000:.1f} ms max"
    )
    print(f"  frames/s         {fps:7.1f}   (target >= {TARGET_FPS:g})")

    sim = Simulation(model)
    play = Playback(floor, transit=120.0)
    start = time.perf_counter()
    images = []
    for k in range(count):
        moment = 3600.0 + 60.0 * k
        play.apply(sim.advance(moment))
        images.append(scene.image(play.frame(moment)))
    replayed = count / (time.perf_counter() - start)
    print(
        f"\nreplay of the simulated line (simulate + playback + render, 60 s a frame, "
        f"about {play.frame().wip} parts in the line): {replayed:.1f} frames/s"
    )
    scene.close()

    print("\nencoding the replayed frames:")
    for suffix in (".mp4", ".gif"):
        seconds, size = encode(images, suffix, 10.0)
        print(
            f"  {suffix[1:]:<4} {len(images) / seconds:7.1f} frames/s   "
            f"{size / 1024:8.0f} KiB for {len(images)} frames"
        )
    return 0 if fps >= TARGET_FPS else 1


if __name__ == "__main__":
    raise SystemExit(main())
