"""The floor plan of a line: where each station, its machines and its rack stand (metres).

A scenario's ``layout:`` section places stations by hand; the others get an automatic place
from the routes: parts flow left to right (+x), a station stands one column to the right of
every station that feeds it, stations of one column stand side by side along y, the parallel
machines of a station stand side by side across the flow, and each station's rack (its input
buffer) stands just upstream of its machines. A station that several routes share is placed
once. Scopes are those of the change stream: ``TURN.0`` a machine, ``TURN.buffer`` a rack.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scenarios.schema import Scenario, Station

AISLE = 1.6  # metres of free floor between a column's machines and the next rack
MACHINE = 2.4  # metres between parallel machines, centre to centre
GAP = 1.5  # metres between the stations of one column
RACK = 2.6  # metres from a station's machines back to its rack
MACHINES_PER_ROW = 6  # a station of more machines stands in several rows


Point = tuple[float, float]


@dataclass(frozen=True)
class Place:
    """One station on the floor: its centre, its heading, its machines and its rack."""

    id: str
    x: float
    y: float
    rotation: float  # degrees, counter-clockwise from +x
    machines: tuple[Point, ...]  # machine 0, 1, ... (scopes ``id.0``, ``id.1``, ...)
    rack: Point | None  # None: no input buffer (capacity 0)
    capacity: int | None  # places in the rack; None: unlimited

    @property
    def rack_scope(self) -> str:
        return f"{self.id}.buffer"

    def machine_scopes(self) -> list[str]:
        return [f"{self.id}.{i}" for i in range(len(self.machines))]


@dataclass(frozen=True)
class Layout:
    """Every station of a line placed on the floor, in the scenario's order."""

    places: tuple[Place, ...]

    def place(self, sid: str) -> Place:
        for place in self.places:
            if place.id == sid:
                return place
        raise KeyError(sid)

    def bounds(self) -> tuple[float, float, float, float]:
        """The smallest (xmin, xmax, ymin, ymax) holding every machine and rack."""
        points = [p for place in self.places for p in _points(place)]
        xs = [x for x, _ in points]
        ys = [y for _, y in points]
        return min(xs), max(xs), min(ys), max(ys)


def columns(scenario: Scenario) -> dict[str, int]:
    """The column of each station in the automatic layout: one to the right of every
    station that feeds it along a route (a route that comes back to an earlier station does
    not push it right). Stations no route visits stand in a last column of their own."""
    order: dict[str, int] = {}
    for product in scenario.products:
        for sid in product.route:
            order.setdefault(sid, len(order))
    column = dict.fromkeys(order, 0)
    edges = sorted(
        {(a, b) for p in scenario.products for a, b in zip(p.route, p.route[1:], strict=False)},
        key=lambda e: order[e[1]],
    )
    for a, b in edges:  # sorted by the target's order: every forward edge after its source's
        if order[a] < order[b]:
            column[b] = max(column[b], column[a] + 1)
    last = max(column.values(), default=-1) + 1
    for station in scenario.stations:
        column.setdefault(station.id, last)
    return column


def layout(scenario: Scenario) -> Layout:
    """The floor plan of ``scenario``: its ``layout:`` section, the rest automatic."""
    given = scenario.layout or {}
    column = columns(scenario)
    by_column: dict[int, list[Station]] = {}
    for station in scenario.stations:
        by_column.setdefault(column[station.id], []).append(station)
    centres: dict[str, Point] = {}
    x = 0.0
    previous = 0.0  # how far the last column reaches downstream of its centre line
    for col in sorted(by_column):
        stations = by_column[col]
        reach = max(_half_depth(s.servers) for s in stations)
        x += previous + reach + RACK + AISLE if col != min(by_column) else 0.0
        previous = reach
        widths = [_width(s.servers) for s in stations]
        y = (sum(widths) + GAP * (len(stations) - 1)) / 2
        for station, width in zip(stations, widths, strict=True):
            centres[station.id] = (x, y - width / 2)
            y -= width + GAP
    entries = {p.route[0] for p in scenario.products} if scenario.saturated else set()
    places = []
    for station in scenario.stations:
        (x, y), rotation = centres[station.id], 0.0
        if station.id in given:
            chosen = given[station.id]
            x, y, rotation = chosen.x, chosen.y, chosen.rotation
        capacity = station.input_buffer
        if capacity is None and station.id in entries:
            capacity = 0  # the builder's rule: a saturated entry has no unlimited buffer
        places.append(_place(station.id, station.servers, capacity, x, y, rotation))
    return Layout(tuple(places))


def _rows(servers: int) -> int:
    return math.ceil(servers / MACHINES_PER_ROW)


def _width(servers: int) -> float:
    """How much room across the flow a station of ``servers`` machines takes."""
    return min(servers, MACHINES_PER_ROW) * MACHINE


def _half_depth(servers: int) -> float:
    """How far along the flow a station's machines reach from its centre."""
    return _rows(servers) * MACHINE / 2


def _place(
    sid: str, servers: int, capacity: int | None, x: float, y: float, rotation: float
) -> Place:
    rows = _rows(servers)
    local: list[Point] = []
    for i in range(servers):
        row, slot = divmod(i, MACHINES_PER_ROW)
        across = min(servers - row * MACHINES_PER_ROW, MACHINES_PER_ROW)
        local.append(((row - (rows - 1) / 2) * MACHINE, ((across - 1) / 2 - slot) * MACHINE))
    rack = None if capacity == 0 else (-(rows - 1) / 2 * MACHINE - RACK, 0.0)
    turn = math.radians(rotation)
    cos, sin = math.cos(turn), math.sin(turn)

    def world(p: Point) -> Point:
        return (x + p[0] * cos - p[1] * sin, y + p[0] * sin + p[1] * cos)

    return Place(
        id=sid,
        x=x,
        y=y,
        rotation=rotation,
        machines=tuple(world(p) for p in local),
        rack=None if rack is None else world(rack),
        capacity=capacity,
    )


def _points(place: Place) -> list[Point]:
    return [*place.machines, *([place.rack] if place.rack is not None else [])]


def chain(stations: list[tuple[str, int]]) -> Layout:
    """A plain floor plan of stations (id, machines) in one row, in the given order: for a
    view of a line whose scenario file is not at hand."""
    places = []
    x = 0.0
    for k, (sid, servers) in enumerate(stations):
        if k:
            x += _half_depth(stations[k - 1][1]) + _half_depth(servers) + RACK + AISLE
        places.append(_place(sid, servers, None, x, 0.0, 0.0))
    return Layout(tuple(places))
