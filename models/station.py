"""Stations: parallel identical machines behind a finite input buffer.

A part holds a *place* at its station (a slot of ``gate``, sized input buffer + servers)
from the moment it enters until it leaves. A finished part keeps its machine, blocked,
until the next station grants it a place (blocking after service). With an unlimited
buffer the station has no gate and always accepts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import simpy

from twin.stats import StateClock

if TYPE_CHECKING:
    from models.line import Line
    from models.part import Part

STATES = ("busy", "starved", "blocked", "down", "setup")
BUSY, STARVED, BLOCKED, DOWN, SETUP = range(len(STATES))
# Active states of the active-period bottleneck method: the machine holds up the line.
ACTIVE = (True, False, False, True, True)

Draw = Callable[[], float]


@dataclass(frozen=True)
class Failures:
    """How a machine breaks down: times between failures and to repair, and their clock."""

    mtbf: Callable[[str], Draw]
    mttr: Callable[[str], Draw]
    basis: Literal["operating", "calendar"] = "operating"


@dataclass(frozen=True)
class Setup:
    """A changeover before a part: on a product change, or before every part."""

    time: Draw
    always: bool = False


class Station:
    """A work station of ``servers`` machines and an input buffer of ``buffer`` places."""

    def __init__(
        self,
        line: Line,
        sid: str,
        *,
        servers: int,
        buffer: int | None,
        process: Mapping[str, Draw],
        ideal_cycle: dict[str, float],
        scrap_rate: float = 0.0,
        scrap_draw: Draw | None = None,
        setup: Setup | None = None,
        failures: Failures | None = None,
    ) -> None:
        env = line.env
        self.line = line
        self.id = sid
        self.servers = servers
        self.buffer = buffer
        self.gate = None if buffer is None else simpy.Resource(env, capacity=buffer + servers)
        self.queue = simpy.Store(env)
        self.process = process
        self.ideal_cycle = ideal_cycle
        self.scrap_rate = scrap_rate
        self.scrap_draw = scrap_draw
        self.setup = setup
        self.produced = 0
        self.good = 0
        self.ideal_time = 0.0
        self.waited = 0.0
        self.started = 0
        self.buffer_scope = f"{sid}.buffer"
        # Random streams keep the machine names they always had (common random numbers);
        # change records name every machine by its index: TURN.0, TURN.1, ...
        names = [sid] if servers == 1 else [f"{sid}.{i}" for i in range(servers)]
        self.machines = [Machine(self, name, i, failures) for i, name in enumerate(names)]
        if line.changes.live:
            line.changes(env.now, self.buffer_scope, "level", -1, 0)

    def receive(self, part: Part) -> None:
        """Put ``part``, which already holds a place here, into the input buffer."""
        part.step += 1
        part.arrived = self.line.env.now
        part.where = self.id
        self.queue.put(part)
        changes = self.line.changes
        if changes.live:
            changes(part.arrived, self.id, "arrive", part.id, part.product)
            changes(part.arrived, self.buffer_scope, "level", -1, len(self.queue.items))

    def release(self, part: Part) -> None:
        """Free the place ``part`` held here."""
        if self.gate is not None:
            self.gate.release(part.token)
        part.token = None

    def blocked_by(self) -> set[str]:
        """The stations this one waits for when every one of its machines is blocked."""
        if any(m.waiting_for is None for m in self.machines):
            return set()
        return {m.waiting_for.id for m in self.machines if m.waiting_for is not None}

    @property
    def activations(self) -> int:
        """Active periods (busy, down or setup) that began after the warm-up, all machines."""
        return sum(m.activations for m in self.machines)

    def state_totals(self, now: float) -> list[float]:
        """Seconds per state, summed over machines, after the warm-up."""
        totals = [0.0] * len(STATES)
        for machine in self.machines:
            for i, t in enumerate(machine.clock.close(now)):
                totals[i] += t
        return totals


class Machine:
    """One server of a station: takes parts, sets up, works, fails, and passes parts on."""

    def __init__(self, station: Station, name: str, index: int, failures: Failures | None) -> None:
        line = station.line
        self.env = line.env
        self.station = station
        self.name = name
        self.scope = f"{station.id}.{index}"
        self.part: Part | None = None
        self.clock = StateClock(len(STATES), STARVED, line.warmup)
        self.base = STARVED
        self.down = False
        self.working = False
        self.failures = 0
        self.activations = 0
        self.idle_since = -math.inf
        self.last_product: str | None = None
        self.waiting_for: Station | None = None
        self.repaired = self.env.event()
        self._work: Callable[[float], Generator[Any, Any, None]] = self._plain
        self._setup_work = self._plain
        if failures is not None:
            self.mtbf = failures.mtbf(name)
            self.mttr = failures.mttr(name)
            if failures.basis == "operating":
                self.ttf = self.mtbf()
                self._work = self._operating
            else:
                self._work = self._setup_work = self._calendar
                self.env.process(self._breakdowns())
        self.proc = self.env.process(self._run())

    # -- states ---------------------------------------------------------------------------

    def _state(self, state: int) -> None:
        self.base = state
        if not self.down:
            self._enter(state)

    def _enter(self, state: int) -> None:
        now = self.env.now
        clock = self.clock
        if ACTIVE[state]:
            # An idle spell of zero length (a part handed over at once) splits no period.
            if not ACTIVE[clock.state] and now > self.idle_since and now >= clock.start:
                self.activations += 1
        elif ACTIVE[clock.state]:
            self.idle_since = now
        clock.enter(state, now)
        changes = self.station.line.changes
        if changes.live:
            changes(now, self.scope, "state", -1, STATES[state])

    def _fail(self) -> None:
        self.down = True
        if self.env.now >= self.clock.start:
            self.failures += 1
        self._event("fail")
        self._enter(DOWN)

    def _repair(self) -> None:
        self.down = False
        self._event("repair")
        self._enter(self.base)

    def _event(self, kind: str) -> None:
        changes = self.station.line.changes
        if changes.live:
            part = self.part
            changes(self.env.now, self.scope, kind, -1 if part is None else part.id, "")

    # -- the machine's life ---------------------------------------------------------------

    def _run(self) -> Generator[Any, Any, None]:
        env = self.env
        st = self.station
        line = st.line
        warmup = line.warmup
        changes = line.changes
        while True:
            self.part = None
            self._state(STARVED)
            part: Part = yield st.queue.get()
            self.part = part
            if changes.live:
                changes(env.now, st.buffer_scope, "level", -1, len(st.queue.items))
            if env.now >= warmup:
                st.waited += env.now - part.arrived
                st.started += 1
            setup = st.setup
            if setup is not None and (
                setup.always or (self.last_product not in (None, part.product))
            ):
                self._state(SETUP)
                yield from self._setup_work(setup.time())
            self.last_product = part.product
            self._state(BUSY)
            part.where = self.scope
            if changes.live:
                changes(env.now, self.scope, "start", part.id, part.product)
            yield from self._work(st.process[part.product]())
            if env.now >= warmup:
                st.produced += 1
                st.ideal_time += st.ideal_cycle[part.product]
            if st.scrap_draw is not None and st.scrap_draw() < st.scrap_rate:
                st.release(part)
                line.scrap(part, self.scope)
                continue
            if env.now >= warmup:
                st.good += 1
            nxt = part.next_station
            if nxt is None:
                st.release(part)
                line.finish(part)
                continue
            token = None
            if nxt.gate is not None:
                token = nxt.gate.request()
                if not token.triggered:
                    self._state(BLOCKED)
                    self.waiting_for = nxt
                    yield token
                    self.waiting_for = None
                else:
                    yield token
            st.release(part)
            part.token = token
            nxt.receive(part)

    def _plain(self, work: float) -> Generator[Any, Any, None]:
        yield self.env.timeout(work)

    def _operating(self, work: float) -> Generator[Any, Any, None]:
        """Work with failures counted in operating (processing) time: no interrupts needed."""
        env = self.env
        while work > self.ttf:
            yield env.timeout(self.ttf)
            work -= self.ttf
            self._fail()
            yield env.timeout(self.mttr())
            self._repair()
            self.ttf = self.mtbf()
        self.ttf -= work
        yield env.timeout(work)

    def _calendar(self, work: float) -> Generator[Any, Any, None]:
        """Work that a calendar-time failure interrupts; the rest resumes after repair."""
        env = self.env
        while work > 0:
            if self.down:
                yield self.repaired
            start = env.now
            self.working = True
            try:
                yield env.timeout(work)
                work = 0.0
            except simpy.Interrupt:
                work -= env.now - start
            finally:
                self.working = False

    def _breakdowns(self) -> Generator[Any, Any, None]:
        env = self.env
        while True:
            yield env.timeout(self.mtbf())
            self._fail()
            if self.working:
                self.proc.interrupt()
            yield env.timeout(self.mttr())
            self._repair()
            repaired, self.repaired = self.repaired, env.event()
            repaired.succeed()
