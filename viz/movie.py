"""Movies of a line replayed from its changes: MP4 through ffmpeg, GIF through Pillow.

A movie shows the simulated time from ``start`` to ``end`` at ``speed`` simulated seconds per
movie second and ``fps`` frames per movie second. Changes come from a *source*: anything
with ``advance(until)`` returning the changes up to ``until`` in time order, such as a
:class:`~scenarios.playback.Simulation` or a :class:`TraceSource` (a Parquet trace of
``twin run --trace``). Two sources make a side-by-side movie of two lines on one clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from scenarios.layout import Layout
from twin.changes import Change
from twin.errors import UsageError
from twin.trace import SCHEMA
from viz.plant import Plant
from viz.play import Playback
from viz.scene import SIZE, Scene

FORMATS = (".mp4", ".gif")
DIVIDER = 90  # grey level of the line between two sides
MAX_FRAMES = 100_000  # an hour of movie at 25 frames per second, and more


class Source(Protocol):
    def advance(self, until: float) -> Sequence[Change]: ...


class TraceSource:
    """The changes of a Parquet trace (``twin run --trace``), read batch by batch."""

    def __init__(self, path: Path, option: str = "option --trace") -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            self._file = pq.ParquetFile(path)
        except FileNotFoundError:
            raise UsageError(f"{option}: {path}: no such file") from None
        except (OSError, pa.ArrowException) as exc:
            raise UsageError(f"{option}: {path} is not a Parquet trace: {exc}") from None
        names = set(self._file.schema_arrow.names)
        missing = [f.name for f in SCHEMA if f.name not in names]
        if missing:
            raise UsageError(
                f"{option}: {path} is not a trace of `twin run --trace`: it has no column "
                + ", ".join(missing)
            )
        self._batches = self._file.iter_batches(columns=[f.name for f in SCHEMA])
        self._rows: list[Change] = []

    def advance(self, until: float) -> list[Change]:
        """The changes up to ``until`` not handed over before."""
        out: list[Change] = []
        while True:
            while self._rows and self._rows[0].time <= until:
                cut = _first_after(self._rows, until)
                out.extend(self._rows[:cut])
                del self._rows[:cut]
            if self._rows:
                return out
            batch = next(self._batches, None)
            if batch is None:
                return out
            columns = batch.to_pydict()
            self._rows = [
                Change(t, e, k, p, v)
                for t, e, k, p, v in zip(
                    columns["time"],
                    columns["entity"],
                    columns["kind"],
                    columns["part"],
                    columns["value"],
                    strict=True,
                )
            ]


def _first_after(rows: list[Change], until: float) -> int:
    lo, hi = 0, len(rows)
    while lo < hi:
        mid = (lo + hi) // 2
        if rows[mid].time <= until:
            lo = mid + 1
        else:
            hi = mid
    return lo


def moments(start: float, end: float, fps: float, speed: float) -> list[float]:
    """The simulated time of each frame: ``start``, then every ``speed / fps`` seconds up
    to ``end`` (one frame at least)."""
    count = max(1, math.floor((end - start) * fps / speed + 1e-9))
    if count > MAX_FRAMES:
        raise UsageError(
            f"options --from/--to/--speed/--fps: {count:,} frames, more than {MAX_FRAMES:,}: "
            "raise --speed or show a shorter stretch"
        )
    step = speed / fps
    return [start + k * step for k in range(count)]


def transit(fps: float, speed: float) -> float:
    """Simulated seconds a part takes to move between places: two frames, 10 s at least."""
    return max(10.0, 2.0 * speed / fps)


def frames(
    lines: Sequence[tuple[Source, Layout, str, Plant]],
    times: Sequence[float],
    moving: float,
) -> Iterator[np.ndarray]:
    """The pictures of ``lines`` (source, layout, title, plant) at ``times``, side by side."""
    size = SIZE if len(lines) == 1 else (SIZE[0] * 3 // 4, SIZE[1])
    scenes = [Scene(floor, title, size, plant=plant) for _, floor, title, plant in lines]
    plays = [Playback(floor, moving, plant) for _, floor, _, plant in lines]
    try:
        for time in times:
            images = []
            for (source, *_), play, scene in zip(lines, plays, scenes, strict=True):
                play.apply(source.advance(time))
                images.append(scene.image(play.frame(time)))
            for image in images[:-1]:
                image[:, -2:] = DIVIDER  # a line between the two sides
            yield np.hstack(images) if len(images) > 1 else images[0]
    finally:
        for scene in scenes:
            scene.close()


def check_movie_path(option: str, path: Path) -> None:
    """Refuse a movie name that is neither .mp4 nor .gif."""
    if path.suffix.lower() not in FORMATS:
        raise UsageError(
            f"option {option}: {path.name}: a movie is .mp4 or .gif, got {path.suffix or 'none'}"
        )


class MovieWriter:
    """Frames appended one at a time to an .mp4 or .gif file. The movie is written beside
    its name and takes it when closed whole, so a failed run leaves no half movie."""

    def __init__(self, path: Path, fps: float) -> None:
        import imageio.v2 as imageio

        self.path = path
        self.count = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._part = path.with_name(f".{path.stem}.part{path.suffix.lower()}")
        self._writer: Any
        if path.suffix.lower() == ".gif":
            # Pillow's GIF frame durations are in milliseconds.
            self._writer = imageio.get_writer(self._part, mode="I", duration=1000.0 / fps, loop=0)
        else:
            self._writer = imageio.get_writer(
                self._part, fps=fps, codec="libx264", quality=7, macro_block_size=16
            )

    def append(self, image: np.ndarray) -> None:
        self._writer.append_data(image)
        self.count += 1

    def close(self, keep: bool = True) -> None:
        self._writer.close()
        if keep and self.count:
            self._part.replace(self.path)
        else:
            self._part.unlink(missing_ok=True)

    def __enter__(self) -> MovieWriter:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        self.close(keep=kind is None)


def write_png(path: Path, image: np.ndarray) -> Path:
    """Write a picture as PNG; it takes its name only once whole."""
    import imageio.v3 as imageio

    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.part")
    try:
        imageio.imwrite(part, image, extension=".png")
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)
    return path
