"""What a 3D view shows at one moment, kept from the change stream.

:class:`Playback` applies changes in time order (from a simulation, a Parquet trace or a
live server) and makes a :class:`Frame` at any later moment: each machine's state, each
rack's level, where each part is on the floor (moving from its last place to its new one
over ``transit`` simulated seconds) and the headline counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from scenarios.layout import Layout
from twin.changes import DEPARTURES, WHEREABOUTS, Change, Value

MACHINE_TOP = 1.35  # metres: a part in process sits on its machine
RACK_SLOT = 0.38  # metres between parts waiting in a rack
RACK_ROWS, RACK_COLUMNS = 4, 3  # parts per layer of a rack; further parts stack upwards
RACK_LAYERS = 4
ENTRY_GAP = 4.0  # metres left of the line where new parts come from


@dataclass(frozen=True)
class Frame:
    """The line at one moment, ready to draw."""

    time: float
    states: dict[str, str]  # machine scope -> state
    levels: dict[str, int]  # rack scope -> parts waiting
    parts: np.ndarray  # (n, 3) positions on the floor, metres
    good: int  # good parts finished so far
    scrapped: int
    wip: int  # parts in the line now

    @property
    def throughput(self) -> float:
        """Good parts per hour since the start of the run."""
        return self.good * 3600.0 / self.time if self.time > 0 else 0.0


@dataclass
class _Whereabouts:
    scope: str
    since: float
    came_from: tuple[float, float, float]


class Playback:
    """The state of one line, advanced by :meth:`apply`, drawn by :meth:`frame`."""

    def __init__(self, layout: Layout, transit: float = 20.0) -> None:
        self.layout = layout
        self.transit = transit
        self.time = 0.0
        self.states: dict[str, str] = {}
        self.levels: dict[str, int] = {}
        self.good = 0
        self.scrapped = 0
        self._parts: dict[int, _Whereabouts] = {}
        self._anchors = _anchors(layout)
        xmin, _, _, _ = layout.bounds()
        self._entry = (xmin - ENTRY_GAP, 0.0, 0.3)

    def sync(self, levels: Mapping[tuple[str, str], Value], parts: Mapping[int, object]) -> None:
        """Take a mirror's state: a late joiner's snapshot, or a resync after missed
        messages. A part still where it was keeps moving as it did; the counts stay."""
        for (scope, kind), value in levels.items():
            self._level(scope, kind, value)
        known, self._parts = self._parts, {}
        for part, where in parts.items():
            scope = str(where[0]) if isinstance(where, tuple) else str(where)
            old = known.get(part)
            if old is None or old.scope != scope:
                old = _Whereabouts(scope, -1e300, self._anchor(scope))
            self._parts[part] = old

    def apply(self, changes: Iterable[Change]) -> None:
        for change in changes:
            self.change(change)

    def change(self, change: Change) -> None:
        """Apply one change (changes come in time order)."""
        time, scope, kind, part, value = change
        self.time = max(self.time, time)
        if kind in ("state", "level"):
            self._level(scope, kind, value)
        elif kind in WHEREABOUTS:
            old = self._parts.get(part)
            came_from = self._entry if old is None else self._anchor(old.scope)
            self._parts[part] = _Whereabouts(scope, time, came_from)
        elif kind in DEPARTURES:
            self._parts.pop(part, None)
            if kind == "finish":
                self.good += 1
            else:
                self.scrapped += 1

    def _level(self, scope: str, kind: str, value: Value) -> None:
        if kind == "state":
            self.states[scope] = str(value)
        elif kind == "level":
            self.levels[scope] = int(float(value))  # a trace keeps values as text

    def frame(self, time: float | None = None) -> Frame:
        """The line at ``time`` (default: the last change applied)."""
        now = self.time if time is None else max(time, self.time)
        waiting: dict[str, list[tuple[float, int]]] = {}
        for part, where in self._parts.items():
            waiting.setdefault(where.scope, []).append((where.since, part))
        points = []
        for scope, parts in waiting.items():
            parts.sort()
            for rank, (_, part) in enumerate(parts):
                target = self._slot(scope, rank)
                where = self._parts[part]
                done = (now - where.since) / self.transit if self.transit > 0 else 1.0
                if done < 1.0:
                    a = np.asarray(where.came_from)
                    target = tuple(a + (np.asarray(target) - a) * max(done, 0.0))
                points.append(target)
        return Frame(
            time=now,
            states=dict(self.states),
            levels=dict(self.levels),
            parts=np.asarray(points, dtype=float).reshape(-1, 3),
            good=self.good,
            scrapped=self.scrapped,
            wip=len(self._parts),
        )

    def _anchor(self, scope: str) -> tuple[float, float, float]:
        if scope in self._anchors:
            return self._anchors[scope]
        if ">" in scope:  # on the way between two stations: halfway
            a, b = (self._anchors.get(s, self._entry) for s in scope.split(">", 1))
            return tuple((u + v) / 2 for u, v in zip(a, b, strict=True))  # type: ignore[return-value]
        return self._entry

    def _slot(self, scope: str, rank: int) -> tuple[float, float, float]:
        x, y, z = self._anchor(scope)
        if z >= MACHINE_TOP:  # on a machine: one part, a second (rare) stacks on it
            return x, y, z + rank * RACK_SLOT
        layer, slot = divmod(rank, RACK_ROWS * RACK_COLUMNS)
        layer = min(layer, RACK_LAYERS - 1)  # a long queue piles up on the top layer
        row, col = divmod(slot, RACK_COLUMNS)
        return (
            x + (col - (RACK_COLUMNS - 1) / 2) * RACK_SLOT,
            y + (row - (RACK_ROWS - 1) / 2) * RACK_SLOT,
            z + layer * RACK_SLOT,
        )


def _anchors(layout: Layout) -> dict[str, tuple[float, float, float]]:
    """Where a part stands for each scope: a station's rack (or, without one, its first
    machine's front), a machine's top."""
    out: dict[str, tuple[float, float, float]] = {}
    for place in layout.places:
        for scope, (x, y) in zip(place.machine_scopes(), place.machines, strict=True):
            out[scope] = (x, y, MACHINE_TOP)
        if place.rack is not None:
            rx, ry = place.rack
        else:
            rx, ry = place.machines[0][0] - 1.2, place.machines[0][1]
        out[place.id] = (rx, ry, 0.25)
        out[place.rack_scope] = out[place.id]
    return out
