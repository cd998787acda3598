"""The line: where parts are created and leave, and what is measured about them."""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import simpy

from models.actions import NOT_ALLOWED_IN_STATE, Refused, positive_factor, shares
from models.history import History
from models.operators import Pool
from models.part import Part
from models.station import STATES, Station
from models.transport import Conveyor, Trip
from twin.changes import Change, Changes, ChangeSink
from twin.stats import Tally, TimeAverage

if TYPE_CHECKING:
    from models.monitoring import ConditionPolicy, Sensor
    from models.network import Link


class Line:
    """Owns the clock, the warm-up, WIP, lead times and the counts of parts in and out."""

    def __init__(
        self, env: simpy.Environment, warmup: float, changes: ChangeSink | None = None
    ) -> None:
        self.env = env
        self.warmup = warmup
        self.changes = Changes() if changes is None else changes
        self.parts: dict[int, Part] = {}  # in the system, by id
        self.stations: dict[str, Station] = {}
        # What feeds the line: random arrivals, or (a saturated line) one feeder per entry.
        self.arrivals: Arrivals | None = None
        # Moving parts between stations, by (from, to): the draw of a timed move's time, an
        # AGV trip or a conveyor; a pair without one moves at once (or by ``default_move``).
        # ``moving``: parts on the way right now.
        self.moves: dict[tuple[str, str], Callable[[], float] | Trip | Conveyor] = {}
        self.fleet: Pool | None = None  # the AGVs
        self.conveyors: list[Conveyor] = []
        self.default_move: Callable[[], float] | None = None
        self.moving = 0
        self.feeders: list[Feeder] = []
        self.pools: dict[str, Pool] = {}  # operators, by pool id
        # Per-part history, kept when parts carry identifiers; None: not kept. Whoever adds
        # to it tests ``line.history is not None`` first (it costs nothing otherwise).
        self.history: History | None = None
        # The smart-workshop layer: the network's links (None: the line has no network),
        # the machines connected to it (by scope), sensors, condition-based maintenance
        # policies, and maintenance crews by id.
        self.links: dict[str, Link] | None = None
        self.connected: dict[str, str] = {}  # machine scope: its link's id
        self.sensors: list[Sensor] = []
        self.policies: list[ConditionPolicy] = []
        self.crews: dict[str, Pool] = {}
        self.wip = TimeAverage(warmup)
        self.lead_time = Tally()
        self.created = 0
        self.finished = 0
        self.scrapped = 0
        self.good_after_warmup = 0
        self.scrap_after_warmup = 0
        # Of the parts leaving the line at the end of their route after the warm-up: those
        # defective (escapes: no inspection found them), and the good ones reworked on the
        # way; the others were good at the first pass.
        self.escapes_after_warmup = 0
        self.reworked_after_warmup = 0

    def add(self, station: Station) -> Station:
        self.stations[station.id] = station
        return station

    def add_conveyor(self, pair: tuple[str, str], conveyor: Conveyor) -> Conveyor:
        """Move the parts from ``pair[0]`` to ``pair[1]`` on ``conveyor``."""
        self.moves[pair] = conveyor
        self.conveyors.append(conveyor)
        if self.changes.live:
            self.changes.record((self.env.now, conveyor.scope, "level", -1, conveyor.level))
        return conveyor

    def create(self, product: str, route: tuple[Station, ...]) -> Part:
        """A new part enters the system (it counts as WIP from now on)."""
        now = self.env.now
        part = Part(self.created, product, route, now)
        self.parts[part.id] = part
        self.created += 1
        self.wip.add(1.0, now)
        if self.changes.live:
            self.changes.record((now, "line", "create", part.id, product))
        if self.history is not None:
            self.history.record(part.id, now, "line", "create", product)
        return part

    def finish(self, part: Part) -> None:
        """A good part leaves the line at the end of its route."""
        now = self.env.now
        self.finished += 1
        del self.parts[part.id]
        self.wip.add(-1.0, now)
        if now >= self.warmup:
            self.good_after_warmup += 1
            if part.created >= self.warmup:
                self.lead_time.add(now - part.created)
        if part.defective or part.reworks:
            self._not_first_pass(part, now)
        if self.changes.live:
            self.changes.record((now, "line", "finish", part.id, part.product))
        if self.history is not None:
            self.history.record(part.id, now, "line", "finish")

    @property
    def first_pass_after_warmup(self) -> int:
        """Parts that left the line after the warm-up good and never reworked."""
        return self.good_after_warmup - self.escapes_after_warmup - self.reworked_after_warmup

    def _not_first_pass(self, part: Part, now: float) -> None:
        """A part leaving the line defective (an escape), or reworked on its way."""
        if now >= self.warmup:
            if part.defective:
                self.escapes_after_warmup += 1
            else:
                self.reworked_after_warmup += 1
        if part.defective and self.history is not None:
            self.history.record(part.id, now, "line", "defective", "escape")

    def scrap(self, part: Part, where: str) -> None:
        """A part is scrapped at ``where`` and leaves the line."""
        now = self.env.now
        self.scrapped += 1
        del self.parts[part.id]
        self.wip.add(-1.0, now)
        if now >= self.warmup:
            self.scrap_after_warmup += 1
        if self.changes.live:
            self.changes.record((now, where, "scrap", part.id, part.product))
        if self.history is not None:
            self.history.record(part.id, now, where, "scrap")

    @property
    def in_system(self) -> int:
        return self.created - self.finished - self.scrapped

    def snapshot(self) -> list[Change]:
        """The whole current state as change records, for a late joiner: each machine's
        state, each conveyor's level, how many operators, vehicles and technicians are at
        work, and where each part in the system is (which gives each input buffer's level).
        Applied to an empty :class:`~twin.changes.Mirror`, it gives what the changes so far
        give."""
        now = self.env.now
        out: list[Change] = []
        for station in self.stations.values():
            for machine in station.machines:
                out.append(Change(now, machine.scope, "state", -1, STATES[machine.clock.state]))
        out.extend(Change(now, c.scope, "level", -1, c.level) for c in self.conveyors)
        fleet = [self.fleet] if self.fleet is not None else []
        crews = [*self.pools.values(), *fleet, *self.crews.values()]
        out.extend(Change(now, p.scope, "level", -1, p.level) for p in crews)
        out.extend(Change(now, p.where, "part", p.id, p.product) for p in self.parts.values())
        return out


class _Chooser:
    """Picks a product by its share of the mix, from a stream of uniforms."""

    def __init__(self, mix: Sequence[tuple[str, float]], uniform: Callable[[], float]) -> None:
        total = sum(w for _, w in mix)
        self.products = [p for p, _ in mix]
        acc, self.bounds = 0.0, []
        for _, w in mix:
            acc += w / total
            self.bounds.append(acc)
        self.uniform = uniform if len(mix) > 1 else None

    def __call__(self) -> str:
        if self.uniform is None:
            return self.products[0]
        u = self.uniform()
        for product, bound in zip(self.products, self.bounds, strict=True):
            if u < bound:
                return product
        return self.products[-1]


class Arrivals:
    """Parts arrive with random interarrival times; a full first station makes them wait."""

    def __init__(
        self,
        line: Line,
        routes: dict[str, tuple[Station, ...]],
        mix: Sequence[tuple[str, float]],
        interarrival: Callable[[], float],
        uniform: Callable[[], float],
        lots: Sequence[tuple[str, int]] | None = None,
    ) -> None:
        self.line = line
        self.routes = routes
        self.uniform = uniform
        self.choose = _Chooser(mix, uniform)
        # Orders: whole lots arrive, in this sequence, cyclically (``None``: single parts).
        self.lots = list(lots) if lots else None
        self._next_lot = 0
        self.interarrival = interarrival
        # The arrival rate relative to the scenario's (``set_rate``).
        self.rate = 1.0
        line.arrivals = self
        line.env.process(self._run())

    def set_rate(self, factor: float) -> None:
        """Arrive ``factor`` times as fast as the scenario says (interarrival times divided
        by it), from the next interarrival time drawn on."""
        self.rate = positive_factor(factor, "a release rate factor")
        _acted(self.line, "rate", f"{self.rate:g}")

    def set_mix(self, mix: Mapping[str, float]) -> None:
        """Choose the products of later arrivals by the shares of ``mix`` (normalised)."""
        if self.lots is not None:
            raise Refused(NOT_ALLOWED_IN_STATE, _IN_SEQUENCE)
        self.choose = _Chooser(shares(mix, self.routes, "the arrivals"), self.uniform)
        _acted(self.line, "mix", _shown(mix))

    def _run(self) -> Generator[Any, Any, None]:
        env = self.line.env
        while True:
            yield env.timeout(self.interarrival() / self.rate)
            if self.lots is None:
                self._enter(self.choose())
                continue
            product, size = self.lots[self._next_lot]
            self._next_lot = (self._next_lot + 1) % len(self.lots)
            for _ in range(size):
                self._enter(product)

    def _enter(self, product: str) -> None:
        """A part of ``product`` enters; a full first station makes it wait, in order."""
        route = self.routes[product]
        part = self.line.create(product, route)
        first = route[0]
        if first.gate is None or first.gate.take():
            first.receive(part)
        else:
            first.gate.wait().callbacks.append(_entering(first, part))


class Feeder:
    """A saturated entry: raw parts are always there and enter as soon as there is room."""

    def __init__(
        self,
        line: Line,
        entry: Station,
        routes: dict[str, tuple[Station, ...]],
        mix: Sequence[tuple[str, float]],
        uniform: Callable[[], float],
        lots: Sequence[tuple[str, int]] | None = None,
    ) -> None:
        if entry.gate is None:
            raise ValueError(f"saturated entry station {entry.id!r} needs a finite input buffer")
        self.line = line
        self.entry = entry
        self.routes = routes
        self.uniform = uniform
        self.lots = list(lots) if lots else None
        self.choose: Callable[[], str] = (
            _LotSequence(self.lots) if self.lots else _Chooser(mix, uniform)
        )
        line.feeders.append(self)
        line.env.process(self._run())

    def set_mix(self, mix: Mapping[str, float]) -> None:
        """Choose the products of later entries by the shares of ``mix`` (normalised); it
        names only products whose route begins at this feeder's station."""
        if self.lots is not None:
            raise Refused(NOT_ALLOWED_IN_STATE, _IN_SEQUENCE)
        known = [p for p, route in self.routes.items() if route[0] is self.entry]
        self.choose = _Chooser(shares(mix, known, f"station {self.entry.id}"), self.uniform)
        _acted(self.line, "mix", _shown(mix), self.entry.id)

    def _run(self) -> Generator[Any, Any, None]:
        gate = self.entry.gate
        assert gate is not None
        while True:
            if not gate.take():
                yield gate.wait()
            product = self.choose()
            self.entry.receive(self.line.create(product, self.routes[product]))


_IN_SEQUENCE = "the line releases its orders in their sequence: a mix does not apply"


class _LotSequence:
    """Products lot after lot, in the order given, cyclically."""

    def __init__(self, lots: Sequence[tuple[str, int]]) -> None:
        self.lots = list(lots)
        self.lot = 0  # the lot being released
        self.done = 0  # its parts released so far

    def __call__(self) -> str:
        product, size = self.lots[self.lot]
        self.done += 1
        if self.done == size:
            self.lot, self.done = (self.lot + 1) % len(self.lots), 0
        return product


def _entering(station: Station, part: Part) -> Callable[[simpy.Event], None]:
    """What lets ``part`` into ``station`` once a place there is granted to it."""
    return lambda _: station.receive(part)


def _acted(line: Line, kind: str, value: str, scope: str = "line") -> None:
    """Tell the change stream that an action was applied to ``scope``."""
    if line.changes.live:
        line.changes.event((line.env.now, scope, kind, -1, value))


def _shown(mix: Mapping[str, float]) -> str:
    return ",".join(f"{p}={w:g}" for p, w in mix.items())
