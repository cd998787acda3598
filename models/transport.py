"""Moving parts between stations by vehicle or conveyor (a plain timed move is a draw).

An AGV move (:class:`Trip`) waits for a free vehicle of the fleet; the machine stays
blocked until one comes. The vehicle loads the part, drives the distance, waits there
(loaded) for a place at the next station, unloads the part into it and drives back
empty: load + drive + unload + drive, and any wait, all the vehicle's time. A
:class:`Conveyor` is an accumulating buffer of ``capacity`` parts, each taking ``cross``
seconds to reach its end, where it waits for room at the next station; a full conveyor
blocks the machine before it. So vehicles and conveyors hold a bounded number of parts,
and a full line blocks back through them; a timed move (a draw) holds any number, each
waiting at the next station's door.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from models.operators import Pool

if TYPE_CHECKING:
    from models.line import Line
    from models.part import Part
    from models.station import Station

Request = simpy.resources.resource.Request


@dataclass(frozen=True)
class Trip:
    """A move by one of the ``fleet``'s vehicles: ``load``, ``drive`` there, ``unload``,
    ``drive`` back (seconds)."""

    fleet: Pool
    load: float
    drive: float
    unload: float

    @property
    def cycle(self) -> float:
        """The vehicle's time for one move, back included."""
        return self.load + 2.0 * self.drive + self.unload


class Conveyor:
    """An accumulating conveyor from one station to the next, called ``scope`` (``A>B``)."""

    def __init__(self, env: simpy.Environment, scope: str, capacity: int, cross: float) -> None:
        self.scope = scope
        self.capacity = capacity
        self.cross = cross
        self.slots = simpy.Resource(env, capacity=capacity)

    @property
    def level(self) -> int:
        """Parts on the conveyor now."""
        return self.slots.count


def carry(
    line: Line, part: Part, src: str, nxt: Station, seconds: float
) -> Generator[Any, Any, None]:
    """A part on its way to ``nxt``: it takes ``seconds``, then waits at the door."""
    env = line.env
    _leave(line, part, src, nxt)
    yield env.timeout(seconds)
    line.moving -= 1
    yield from door(part, nxt)


def drive(
    line: Line, part: Part, src: str, nxt: Station, trip: Trip, vehicle: Request
) -> Generator[Any, Any, None]:
    """An AGV's move: load, drive, wait (loaded) for a place at ``nxt``, unload into it,
    drive back."""
    env = line.env
    _leave(line, part, src, nxt)
    yield env.timeout(trip.load + trip.drive)
    gate = nxt.gate
    if gate is not None and not gate.take():
        line.moving -= 1  # waiting for a place, as a part at the door does
        yield gate.wait()
        line.moving += 1
    yield env.timeout(trip.unload)  # the part holds its place there while it is unloaded
    line.moving -= 1
    nxt.receive(part)
    yield env.timeout(trip.drive)
    trip.fleet.release(vehicle)


def ride(
    line: Line, part: Part, src: str, nxt: Station, conveyor: Conveyor, slot: Request
) -> Generator[Any, Any, None]:
    """A part on a conveyor: it crosses, then waits at its end (on the conveyor, keeping its
    place there) for a place at ``nxt``."""
    env = line.env
    _leave(line, part, src, nxt)
    _level(line, conveyor)
    yield env.timeout(conveyor.cross)
    line.moving -= 1
    yield from door(part, nxt)
    conveyor.slots.release(slot)
    _level(line, conveyor)


def door(part: Part, nxt: Station) -> Generator[Any, Any, None]:
    """Wait for a place at ``nxt``, as an arriving part does, and enter."""
    gate = nxt.gate
    if gate is not None and not gate.take():
        yield gate.wait()
    nxt.receive(part)


def _leave(line: Line, part: Part, src: str, nxt: Station) -> None:
    line.moving += 1
    part.where = f"{src}>{nxt.id}"
    if line.changes.live:
        line.changes.record((line.env.now, part.where, "move", part.id, part.product))
    if line.history is not None:
        line.history.record(part.id, line.env.now, src, "leave", nxt.id)


def _level(line: Line, conveyor: Conveyor) -> None:
    if line.changes.live:
        line.changes.record((line.env.now, conveyor.scope, "level", -1, conveyor.level))
