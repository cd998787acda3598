"""What a 3D view shows at one moment, kept from the change stream.

:class:`Playback` applies changes in time order (from a simulation, a Parquet trace or a
live server) and makes a :class:`Frame` at any later moment: each machine's state, each
rack's level, where each part is on the floor (moving from its last place to its new one
over ``transit`` simulated seconds), the AGVs on a trip, the alarms standing and the
technicians called (:mod:`viz.calls`), and the headline counts.

With the line's :class:`~viz.plant.Plant`, a part on a conveyor moves along the belt as it
crosses (``length / speed``) and queues at its end behind the parts ahead of it; a part on
an AGV move rides its vehicle (loading, driving, waiting for a place at the next station,
unloading), and once it enters the station the vehicle drives back empty. A part on any
other move stands halfway along its way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from scenarios.layout import Layout
from twin.changes import DEPARTURES, WHEREABOUTS, Change, Value, buffer_of
from viz.calls import Calls, Technician
from viz.plant import Belt, Plant, Point, Trip, way

MACHINE_TOP = 1.35  # metres: a part in process sits on its machine
RACK_SLOT = 0.38  # metres between parts waiting in a rack
RACK_ROWS, RACK_COLUMNS = 4, 3  # parts per layer of a rack; further parts stack upwards
RACK_LAYERS = 4
ENTRY_GAP = 4.0  # metres left of the line where new parts come from
FLOOR_PART = 0.25  # metres: the height of a part waiting on the floor or in a rack
BELT_TOP = 0.5  # metres: a conveyor's surface
VEHICLE_TOP = 0.4  # metres: an AGV's deck
LIFT = 0.15  # metres from a surface to the centre of a part resting on it
CALLS = frozenset({"alarm", "maintain", "repair", "state", "level"})  # kinds viz.calls reads
BUFFER = ".buffer"  # a station's input buffer: its level is counted from the parts there


def _no_vehicles() -> np.ndarray:
    return np.zeros((0, 3))


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
    vehicles: np.ndarray = field(default_factory=_no_vehicles)  # (n, 3) AGVs: x, y, heading
    alarms: tuple[str, ...] = ()  # machines whose alarm stands
    technicians: tuple[Technician, ...] = ()  # called by those alarms: on the way, or there

    @property
    def throughput(self) -> float:
        """Good parts per hour since the start of the run."""
        return self.good * 3600.0 / self.time if self.time > 0 else 0.0


@dataclass
class _Drive:
    """An AGV on a trip: set off at ``start`` with its part; left it at ``back`` (None:
    still carrying it)."""

    trip: Trip
    start: float
    part: int
    back: float | None = None


@dataclass
class _Whereabouts:
    scope: str
    since: float
    came_from: tuple[float, float, float]


class Playback:
    """The state of one line, advanced by :meth:`apply`, drawn by :meth:`frame`."""

    def __init__(self, layout: Layout, transit: float = 20.0, plant: Plant | None = None) -> None:
        self.layout = layout
        self.transit = transit
        self.plant = plant or Plant()
        self._belts = {belt.scope: belt for belt in self.plant.belts}
        self._trips = {trip.scope: trip for trip in self.plant.trips}
        self._driving: list[_Drive] = []  # AGVs on a trip
        self.time = 0.0
        self.states: dict[str, str] = {}
        self.levels: dict[str, int] = {}
        self.good = 0
        self.scrapped = 0
        self._parts: dict[int, _Whereabouts] = {}
        self._anchors = _anchors(layout)
        xmin, _, _, _ = layout.bounds()
        self._entry = (xmin - ENTRY_GAP, 0.0, 0.3)
        self._ways: dict[str, tuple[Point, Point] | None] = {}
        self.calls = Calls(dict(self.plant.callers))

    def sync(self, levels: Mapping[tuple[str, str], Value], parts: Mapping[int, object]) -> None:
        """Take a mirror's state: a late joiner's snapshot, or a resync after missed
        messages. A part still where it was keeps moving as it did; the counts stay."""
        for (scope, kind), value in levels.items():
            self._level(scope, kind, value)
        self.calls.sync(levels)
        known, self._parts = self._parts, {}
        for scope in [s for s in self.levels if s.endswith(BUFFER)]:
            del self.levels[scope]  # counted again below, from where the parts are
        for part, where in parts.items():
            scope = str(where[0]) if isinstance(where, tuple) else str(where)
            old = known.get(part)
            if old is None or old.scope != scope:
                old = _Whereabouts(scope, -1e300, self._anchor(scope))
                if scope in self._trips:  # its vehicle has arrived, as far as we know
                    self._drive(_Drive(self._trips[scope], old.since, part))
            self._parts[part] = old
            self._count(scope, 1)
        for drive in self._driving:  # a part that left its vehicle while we were away
            where = self._parts.get(drive.part)
            if drive.back is None and (where is None or where.scope != drive.trip.scope):
                drive.back = self.time

    def apply(self, changes: Iterable[Change]) -> None:
        for change in changes:
            self.change(change)

    def change(self, change: Change) -> None:
        """Apply one change (changes come in time order)."""
        time, scope, kind, part, value = change
        self.time = max(self.time, time)
        if kind in CALLS:
            self.calls.change(change)
        if kind in ("state", "level"):
            self._level(scope, kind, value)
        elif kind in WHEREABOUTS:
            old = self._parts.get(part)
            came_from = self._entry if old is None else self._anchor(old.scope)
            self._parts[part] = _Whereabouts(scope, time, came_from)
            if old is not None:
                self._count(old.scope, -1)
                if old.scope in self._trips:
                    self._unload(part, time)
            self._count(scope, 1)
            if scope in self._trips:
                self._drive(_Drive(self._trips[scope], time, part))
        elif kind in DEPARTURES:
            self._unload(part, time)
            old = self._parts.pop(part, None)
            if old is not None:
                self._count(old.scope, -1)
            if kind == "finish":
                self.good += 1
            else:
                self.scrapped += 1

    def _drive(self, drive: _Drive) -> None:
        """A vehicle sets off; those back from their trips are forgotten."""
        self._driving = [
            d for d in self._driving if d.back is None or self.time - d.back < d.trip.drive
        ]
        self._driving.append(drive)

    def _unload(self, part: int, time: float) -> None:
        """The vehicle carrying ``part`` left it at the next station: it drives back."""
        for drive in self._driving:
            if drive.part == part and drive.back is None:
                drive.back = time

    def _count(self, scope: str, step: int) -> None:
        """A part came to (1) or left (-1) ``scope``: a station's buffer level follows."""
        buffer = buffer_of(scope)
        if buffer is not None:  # as a mirror counts it: a buffer not there is empty
            level = self.levels.get(buffer, 0) + step
            if level:
                self.levels[buffer] = level
            else:
                del self.levels[buffer]

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
        points: list[tuple[float, float, float]] = []
        for scope, parts in waiting.items():
            parts.sort()
            if scope in self._belts:
                points += _on_belt(self._belts[scope], parts, now)
            elif scope in self._trips:
                points += self._on_trip(self._trips[scope], parts, now)
            else:
                slots = [self._slot(scope, rank, len(parts)) for rank in range(len(parts))]
                points += [
                    self._moving(slot, part, now)
                    for slot, (_, part) in zip(slots, parts, strict=True)
                ]
        return Frame(
            time=now,
            states=dict(self.states),
            levels=dict(self.levels),
            parts=np.asarray(points, dtype=float).reshape(-1, 3),
            good=self.good,
            scrapped=self.scrapped,
            wip=len(self._parts),
            vehicles=self._vehicles(now),
            alarms=tuple(self.calls.alarms),
            technicians=self.calls.technicians(),
        )

    def _moving(
        self, target: tuple[float, float, float], part: int, now: float
    ) -> tuple[float, float, float]:
        """A part at ``target``, on its way there for ``transit`` seconds."""
        where = self._parts[part]
        done = (now - where.since) / self.transit if self.transit > 0 else 1.0
        if done < 1.0:
            a = np.asarray(where.came_from)
            target = tuple(a + (np.asarray(target) - a) * max(done, 0.0))
        return target

    def _on_trip(
        self, trip: Trip, parts: list[tuple[float, int]], now: float
    ) -> list[tuple[float, float, float]]:
        """Parts on an AGV move: on their vehicle, loading, driving or at the next station."""
        return [(*trip.loaded(now - since), VEHICLE_TOP + LIFT) for since, _ in parts]

    def _vehicles(self, now: float) -> np.ndarray:
        """Each AGV on a trip: where it is and which way it faces."""
        rows = []
        for drive in self._driving:
            trip = drive.trip
            if drive.back is None or now < drive.back:
                where: Point | None = trip.loaded(now - drive.start)
            else:
                where = trip.back(now - drive.back)
            if where is not None:
                rows.append((*where, trip.heading))
        return np.asarray(rows, dtype=float).reshape(-1, 3)

    def _anchor(self, scope: str) -> tuple[float, float, float]:
        if scope in self._anchors:
            return self._anchors[scope]
        if scope in self._belts:  # a part leaves a conveyor from its end
            return (*self._belts[scope].end, BELT_TOP + LIFT)
        if scope in self._trips:  # ... and an AGV move from its vehicle at the next station
            return (*self._trips[scope].end, VEHICLE_TOP + LIFT)
        if ">" in scope:  # on the way between two stations: halfway
            ends = self._way(scope)
            if ends is not None:
                (ax, ay), (bx, by) = ends
                return (ax + bx) / 2, (ay + by) / 2, FLOOR_PART
            a, b = (self._anchors.get(s, self._entry) for s in scope.split(">", 1))
            return tuple((u + v) / 2 for u, v in zip(a, b, strict=True))  # type: ignore[return-value]
        return self._entry

    def _way(self, scope: str) -> tuple[Point, Point] | None:
        if scope not in self._ways:
            source, target = scope.split(">", 1)
            try:
                self._ways[scope] = way(self.layout, source, target)
            except KeyError:  # a station the floor plan does not know
                self._ways[scope] = None
        return self._ways[scope]

    def _slot(self, scope: str, rank: int, count: int) -> tuple[float, float, float]:
        """The place of the ``rank``-th of ``count`` parts at ``scope``: a part alone on a
        machine sits in the middle of its top; a batch, and parts waiting, stand in rows."""
        anchor = self._anchor(scope)
        if anchor[2] >= MACHINE_TOP and count == 1:
            return anchor
        return _grid(anchor, rank)


def _grid(centre: tuple[float, float, float], rank: int) -> tuple[float, float, float]:
    """The place of the ``rank``-th part waiting around ``centre``, rows of a rack's layers."""
    x, y, z = centre
    layer, slot = divmod(rank, RACK_ROWS * RACK_COLUMNS)
    layer = min(layer, RACK_LAYERS - 1)  # a long queue piles up on the top layer
    row, col = divmod(slot, RACK_COLUMNS)
    return (
        x + (col - (RACK_COLUMNS - 1) / 2) * RACK_SLOT,
        y + (row - (RACK_ROWS - 1) / 2) * RACK_SLOT,
        z + layer * RACK_SLOT,
    )


def _on_belt(
    belt: Belt, parts: list[tuple[float, int]], now: float
) -> list[tuple[float, float, float]]:
    """Parts on a conveyor, oldest first: each as far as it has crossed, but behind the
    parts ahead of it (a full belt holds ``capacity`` parts end to end)."""
    out = []
    (ax, ay), (bx, by) = belt.start, belt.end
    for rank, (since, _) in enumerate(parts):
        crossed = (now - since) / belt.cross if belt.cross > 0 else 1.0
        share = max(min(crossed, 1.0 - rank / belt.capacity), 0.0)
        out.append((ax + (bx - ax) * share, ay + (by - ay) * share, BELT_TOP + LIFT))
    return out


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
        out[place.id] = (rx, ry, FLOOR_PART)
        out[place.rack_scope] = out[place.id]
    return out
