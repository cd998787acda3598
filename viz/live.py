"""A live 3D view of a served line, fed by a client of the live bridge.

:func:`follow` takes a synced client (``bridges.client.TwinClient``, or anything with its
``mirror``, ``listeners``, ``poll``, ``clock``, ``ended``, ``resyncs`` and ``kpis``), starts a
playback from the client's mirror, listens to every later change and makes a picture
``fps`` times per wall second, until the server's death message or ``until`` wall seconds.
The parts that left before the view joined come from the server's ``kpi/`` samples. The
caller shows the pictures in a window or writes them to files.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np

from scenarios.layout import Layout, chain
from twin.changes import DEPARTURES, Change
from viz.play import Frame, Playback
from viz.scene import Scene

_MACHINE = re.compile(r"^(?P<station>.+)\.(?P<index>\d+)$")


class Client(Protocol):
    mirror: Any
    listeners: list[Callable[[Change], None]]
    clock: float
    ended: bool
    resyncs: int
    kpis: dict[str, Any] | None

    def poll(self, timeout: float = 0.0) -> int: ...


class _Before:
    """The parts that left the line before the view joined, from the server's first kpi/
    sample taken after the snapshot (its counts run from time 0): the sample's count less
    the departures the view itself saw up to the sample's time."""

    def __init__(self, since: float) -> None:
        self.since = since
        self.seen: list[tuple[float, str]] = []
        self.known = False

    def __call__(self, change: Change) -> None:
        if not self.known and change.kind in DEPARTURES:
            self.seen.append((change.time, change.kind))

    def learn(self, sample: dict[str, Any] | None, play: Playback) -> None:
        if self.known or not sample:
            return
        t, good, scrapped = sample.get("t"), sample.get("good"), sample.get("scrapped")
        if not (
            isinstance(t, int | float)
            and isinstance(good, int | float)
            and isinstance(scrapped, int | float)
        ):
            return
        if t < self.since:
            return  # sent before the snapshot: it misses what left in between
        saw = [kind for time, kind in self.seen if time <= t]
        play.good += int(good) - saw.count("finish")
        play.scrapped += int(scrapped) - saw.count("scrap")
        self.known = True
        self.seen.clear()


def mirrored_layout(levels: dict[tuple[str, str], Any]) -> Layout:
    """A one-row layout of the stations a mirror knows, in the order the server sent them
    (its scenario's order), each with as many machines as it has states."""
    machines: dict[str, int] = {}
    for scope, kind in levels:
        if kind == "state" and (found := _MACHINE.match(scope)):
            station = found["station"]
            machines[station] = max(machines.get(station, 0), int(found["index"]) + 1)
    return chain(list(machines.items()))


def follow(
    client: Client,
    scene: Scene,
    *,
    until: float,
    fps: float = 2.0,
) -> Iterator[tuple[Frame, np.ndarray]]:
    """Each picture of the live line with the frame it shows, ``fps`` per wall second,
    until the run ends (one last picture then) or ``until`` wall seconds have passed."""
    play = Playback(scene.layout, transit=0.0, plant=scene.plant)
    mirror = client.mirror
    play.sync(mirror.levels, mirror.parts)
    play.time = mirror.time
    before = _Before(mirror.time)
    resyncs = client.resyncs
    listeners: list[Callable[[Change], None]] = [play.change, before]
    client.listeners.extend(listeners)
    interval = 1.0 / fps
    start = time.monotonic()
    deadline = start + until
    due = start
    last_clock, last_wall = client.clock, start
    try:
        while True:
            client.poll(max(0.0, min(due, deadline) - time.monotonic()))
            if client.resyncs != resyncs:  # messages were missed: the mirror is whole again
                resyncs = client.resyncs
                play.sync(client.mirror.levels, client.mirror.parts)
            before.learn(client.kpis, play)
            now = time.monotonic()
            if now >= due or client.ended or now >= deadline:
                # Parts move over two frames' worth of the simulated time that passes.
                rate = (client.clock - last_clock) / max(now - last_wall, 1e-6)
                play.transit = 2.0 * rate * interval
                last_clock, last_wall = client.clock, now
                frame = play.frame(max(client.clock, play.time))
                yield frame, scene.image(frame)
                due = now + interval
            if client.ended or now >= deadline:
                return
    finally:
        for listener in listeners:
            client.listeners.remove(listener)
