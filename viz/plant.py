"""What a 3D view draws besides the stations: conveyors, AGV moves, operator pools and the
smart-workshop layer (connected machines, maintenance crews and the machines that call
them), taken once from the scenario and placed on its floor plan.

A move from station A to station B runs along a *way*: from A's exit (just downstream of
its machines) to B's entry (just upstream of its rack, or of its machines when it has no
rack). A conveyor is a belt along its way, an AGV drives its way there and back, and a part
on a plain timed move is drawn halfway along its way.

An AGV waits loaded at the next station until its part has a place there (the models'
rule): it is drawn there, with its part, until the part enters the station, then drives
back empty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from scenarios.layout import Layout, Place
from scenarios.schema import Scenario

CLEAR = 1.1  # metres from a machine's or a rack's centre to where a way starts or ends

Point = tuple[float, float]


@dataclass(frozen=True)
class Belt:
    """A conveyor at ``scope`` (``A>B``): a part crosses it in ``cross`` seconds and waits
    at its end; it holds ``capacity`` parts."""

    scope: str
    start: Point
    end: Point
    capacity: int
    cross: float


@dataclass(frozen=True)
class Trip:
    """The AGV move at ``scope`` (``A>B``): a vehicle loads its part at ``start`` for
    ``load`` seconds, drives to ``end`` in ``drive``, waits there loaded for a place at B,
    unloads the part into it (``unload``) and drives back empty in ``drive``."""

    scope: str
    start: Point
    end: Point
    load: float
    drive: float
    unload: float

    def loaded(self, elapsed: float) -> Point:
        """Where the vehicle is ``elapsed`` seconds after its part set off: at the start
        while loading, on its way, then at the end (waiting for a place, unloading)."""
        if elapsed < self.load:
            return self.start
        if elapsed < self.load + self.drive:
            return _along(self.start, self.end, (elapsed - self.load) / self.drive)
        return self.end

    def back(self, elapsed: float) -> Point | None:
        """Where the vehicle is ``elapsed`` seconds after it left its part at the end, on
        its way back; None once it is back."""
        if elapsed >= self.drive:
            return None
        return _along(self.end, self.start, elapsed / self.drive)

    @property
    def heading(self) -> float:
        """Degrees, counter-clockwise from +x: the way the vehicle faces (either end)."""
        return math.degrees(math.atan2(self.end[1] - self.start[1], self.end[0] - self.start[0]))


@dataclass(frozen=True)
class Plant:
    """The conveyors, AGV moves, fleet size and operator pools (id, count) of a line; its
    connected machines (scopes of the machines of stations with a ``link``), maintenance
    crews (id, count) and the machines with a condition policy (scope, the crew it calls:
    None when it calls none)."""

    belts: tuple[Belt, ...] = ()
    trips: tuple[Trip, ...] = ()
    fleet: int = 0
    pools: tuple[tuple[str, int], ...] = ()
    connected: frozenset[str] = frozenset()
    crews: tuple[tuple[str, int], ...] = ()
    callers: tuple[tuple[str, str | None], ...] = ()


def plant(scenario: Scenario, floor: Layout) -> Plant:
    """The plant of ``scenario`` on ``floor`` (its layout)."""
    pools = tuple((p.id, p.count) for p in scenario.operators)
    connected: set[str] = set()
    callers: list[tuple[str, str | None]] = []
    for st in scenario.stations:
        scopes = floor.place(st.id).machine_scopes()
        if st.link is not None:
            connected.update(scopes)
        care = st.maintenance
        if care is not None and care.kind == "condition":
            callers += [(scope, care.crew) for scope in scopes]
    smart = Plant(
        pools=pools,
        connected=frozenset(connected),
        crews=tuple((c.id, c.count) for c in scenario.crews),
        callers=tuple(callers),
    )
    transport = scenario.transport
    if transport is None:
        return smart
    belts = tuple(
        Belt(f"{c.from_}>{c.to}", *way(floor, c.from_, c.to), c.capacity, c.length / c.speed)
        for c in transport.conveyors
    )
    agv = transport.agv
    trips = tuple(
        Trip(
            f"{m.from_}>{m.to}",
            *way(floor, m.from_, m.to),
            agv.load,
            m.distance / agv.speed,
            agv.unload,
        )
        for m in transport.moves
        if agv is not None and m.agv and m.distance is not None
    )
    fleet = agv.fleet if agv is not None else 0
    return replace(smart, belts=belts, trips=trips, fleet=fleet)


def way(floor: Layout, source: str, target: str) -> tuple[Point, Point]:
    """Where a move from station ``source`` to station ``target`` starts and ends."""
    a, b = floor.place(source), floor.place(target)
    ax, ay = _heading(a)
    exit_ = max(a.machines, key=lambda m: m[0] * ax + m[1] * ay)
    bx, by = _heading(b)
    door = b.rack if b.rack is not None else min(b.machines, key=lambda m: m[0] * bx + m[1] * by)
    # A station of several machines across its flow: leave from the middle of its side.
    across = (-ay, ax)
    middle = sum(m[0] * across[0] + m[1] * across[1] for m in a.machines) / len(a.machines)
    offset = middle - (exit_[0] * across[0] + exit_[1] * across[1])
    start = (exit_[0] + ax * CLEAR + across[0] * offset, exit_[1] + ay * CLEAR + across[1] * offset)
    return start, (door[0] - bx * CLEAR, door[1] - by * CLEAR)


def _heading(place: Place) -> Point:
    turn = math.radians(place.rotation)
    return math.cos(turn), math.sin(turn)


def _along(a: Point, b: Point, share: float) -> Point:
    return a[0] + (b[0] - a[0]) * share, a[1] + (b[1] - a[1]) * share
