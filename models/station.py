"""Stations: parallel identical machines behind a finite input buffer.

A part holds a *place* at its station (one of ``gate``'s, input buffer + servers) from the
moment it enters until it leaves. A finished part keeps its machine, blocked, until the
next station grants it a place (blocking after service). With an unlimited buffer the
station has no gate and always accepts.

A part costs its work's timeout and no other event while it finds a place free and a part
waits for its machine (see :mod:`models.buffer`); waiting costs one event.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

import simpy

from models.actions import (
    BAD_PARAMETER,
    NOT_ALLOWED_IN_STATE,
    Refused,
    positive_factor,
    seconds_of,
)
from models.buffer import Gate, Queue
from models.operators import Crew, Pool
from models.quality import DETECTED, FALSE_REJECT, REJECTED, Defects, Inspection
from models.transport import Conveyor, Trip, carry, drive, ride
from models.wear import Lives, Path
from twin.stats import StateClock

if TYPE_CHECKING:
    from models.line import Line
    from models.part import Part

STATES = ("busy", "starved", "blocked", "down", "setup", "held", "maintenance", "off", "operator")
BUSY, STARVED, BLOCKED, DOWN, SETUP, HELD, MAINTENANCE, OFF, OPERATOR = range(len(STATES))
# Active states of the active-period bottleneck method: the machine holds up the line.
# Held, maintenance and off (shift, break) are planned stops, not the machine holding up
# the line; waiting for an operator is the station's own shortfall, like a setup.
ACTIVE = (True, False, False, True, True, False, False, False, True)

Draw = Callable[[], float]


@dataclass(frozen=True)
class Failures:
    """How a machine breaks down: times between failures and to repair, and their clock."""

    mtbf: Callable[[str], Draw]
    mttr: Callable[[str], Draw]
    basis: Literal["operating", "calendar"] = "operating"


@dataclass(frozen=True)
class Preventive:
    """Age replacement: a planned maintenance of ``duration`` once a machine's age since it
    was last renewed (by a maintenance or a repair) reaches ``every``, in operating time
    (processing) or calendar time; the machine stops after its current part."""

    every: float
    duration: Draw
    basis: Literal["operating", "calendar"] = "operating"


@dataclass(frozen=True)
class Batch:
    """Each machine processes up to ``size`` parts at once, in one process time: it starts
    with ``size`` parts, or with at least ``least`` once the oldest has waited ``max_wait``."""

    size: int
    least: int
    max_wait: float


@dataclass(frozen=True)
class Rework:
    """A part found defective here (with its product's ``rate``) goes back to station
    ``to`` and repeats its route from there; after ``limit`` reworks it is scrapped."""

    rate: Mapping[str, float]
    to: str
    draw: Draw
    limit: int | None = None

    def back(self, part: Part) -> int:
        """The step of ``part``'s route it goes back to: the last visit of ``to`` so far."""
        return step_back(part, self.to)


def step_back(part: Part, to: str) -> int:
    """The step of ``part``'s route where a rework at ``to`` takes it: the last visit of
    station ``to`` so far."""
    for step in range(part.step, -1, -1):
        if part.route[step].id == to:
            return step
    raise ValueError(f"{to} is not on the route of {part!r} before {part.step}")


@dataclass(frozen=True)
class Setup:
    """A changeover before a part: on a product change, or before every part. Its time is
    one draw for any change, or a draw per (from, to) pair: a pair without one needs none."""

    time: Draw | None = None
    always: bool = False
    matrix: Mapping[tuple[str, str], Draw] | None = None
    operator: Pool | None = None  # a pool whose operator does the changeover

    def duration(self, last: str | None, product: str) -> float | None:
        """The setup before ``product`` after ``last`` (None: the first part), or None."""
        if self.matrix is None:
            return self.time() if self.time is not None else None
        draw = self.matrix.get((last, product)) if last is not None else None
        return draw() if draw is not None else None


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
        scrap_rate: Mapping[str, float] | None = None,
        scrap_draw: Draw | None = None,
        setup: Setup | None = None,
        failures: Failures | None = None,
        preventive: Preventive | None = None,
        rework: Rework | None = None,
        batch: Batch | None = None,
        operator: Crew | None = None,
        wear: Callable[[str], Lives] | None = None,
        defects: Defects | None = None,
        inspection: Inspection | None = None,
    ) -> None:
        env = line.env
        self.line = line
        self.id = sid
        self.servers = servers
        self.buffer = buffer
        # A batch machine holds up to a batch of parts: each needs a place.
        holds = servers * (batch.size if batch is not None else 1)
        self.gate = None if buffer is None else Gate(env, buffer + holds)
        self.batch = batch
        self.queue = Queue(env)
        self.process = process
        self.ideal_cycle = ideal_cycle
        self.scrap_rate = dict(scrap_rate or {})  # by product; a product not in it: none
        self.scrap_draw = scrap_draw
        self.defects = defects
        self.inspection = inspection
        # Every good part goes on: no scrap, rework, defect or inspection to decide (the
        # short path of a machine).
        self.plain = (
            scrap_draw is None and rework is None and defects is None and inspection is None
        )
        self.setup = setup
        self.produced = 0
        self.good = 0
        self.ideal_time = 0.0
        self.waited = 0.0
        self.started = 0
        self.held = False
        # Process times of parts started from now on are multiplied by this (``set_speed``).
        self.time_factor = 1.0
        self.buffer_scope = f"{sid}.buffer"
        # Random streams keep the machine names they always had (common random numbers);
        # change records name every machine by its index: TURN.0, TURN.1, ...
        names = [sid] if servers == 1 else [f"{sid}.{i}" for i in range(servers)]
        self.preventive = preventive
        self.rework = rework
        self.operator = operator
        self.reworked = 0  # parts sent back for rework after the warm-up
        self.first_pass = 0  # good parts after the warm-up that were never reworked
        # After the warm-up: parts made defective here; parts the inspection here rejected
        # rightly (detected) and wrongly (false rejects), and passed (good or not).
        self.defects_made = 0
        self.detected = 0
        self.false_rejects = 0
        self.passed = 0
        self.machines = [
            Machine(self, name, i, failures, None if wear is None else wear(name))
            for i, name in enumerate(names)
        ]

    def receive(self, part: Part) -> None:
        """Put ``part``, which already holds a place here, into the input buffer."""
        part.step += 1
        part.arrived = self.line.env.now
        part.where = self.id
        self.queue.put(part)
        changes = self.line.changes
        if changes.live:  # (the buffer's level is counted from arrivals and starts)
            changes.record((part.arrived, self.id, "arrive", part.id, part.product))
        history = self.line.history
        if history is not None:
            history.record(part.id, part.arrived, self.id, "arrive")

    def release(self) -> None:
        """Free the place a leaving part held here."""
        if self.gate is not None:
            self.gate.release()

    # -- actions ----------------------------------------------------------------------------

    def hold(self) -> None:
        """Stop taking parts: each machine finishes (and passes on) the part in hand, then
        stays ``held`` until :meth:`unhold`. Parts waiting in the buffer stay there."""
        if self.held:
            raise Refused(NOT_ALLOWED_IN_STATE, f"station {self.id} is already held")
        self.held = True
        self._acted("hold", "")
        for machine in self.machines:
            machine.nudge()

    def unhold(self) -> None:
        """Take parts again after :meth:`hold` (the command ``release``)."""
        if not self.held:
            raise Refused(NOT_ALLOWED_IN_STATE, f"station {self.id} is not held")
        self.held = False
        self._acted("unhold", "")
        for machine in self.machines:
            machine.nudge()

    def set_speed(self, factor: float) -> None:
        """Multiply the process times of parts started from now on by ``factor`` (relative
        to the scenario's); the ideal cycle, against which effectiveness is measured, stays."""
        self.time_factor = positive_factor(factor, "a speed factor")
        self._acted("speed", f"{self.time_factor:g}")

    def _acted(self, kind: str, value: str) -> None:
        changes = self.line.changes
        if changes.live:
            changes.event((self.line.env.now, self.id, kind, -1, value))

    @property
    def maintenances(self) -> int:
        """Planned maintenance stops that began after the warm-up, all machines."""
        return sum(m.maintenances for m in self.machines)

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

    def state_totals_at(self, now: float) -> list[float]:
        """:meth:`state_totals` as they would read at ``now``, changing nothing."""
        machines = iter(self.machines)  # added as state_totals adds, machine by machine
        totals = next(machines).clock.totals_at(now)  # (0.0 + a is a, for a >= 0)
        for machine in machines:
            totals = [a + b for a, b in zip(totals, machine.clock.totals_at(now), strict=True)]
        return totals


class Machine:
    """One server of a station: takes parts, sets up, works, fails, and passes parts on.

    Besides breaking down on its own, it can be acted on: held with its station, maintained
    (:meth:`maintain`) and failed on purpose (:meth:`fail`).
    """

    def __init__(
        self,
        station: Station,
        name: str,
        index: int,
        failures: Failures | None,
        lives: Lives | None = None,
    ) -> None:
        line = station.line
        self.env = line.env
        self.station = station
        self.name = name
        self.scope = f"{station.id}.{index}"
        self.part: Part | None = None
        self.load: list[Part] = []  # a batch machine's parts in process or to pass on
        self.clock = StateClock(len(STATES), STARVED, line.warmup)
        self.base = STARVED
        if line.changes.live:  # every machine starts idle
            line.changes.record((line.env.now, self.scope, "state", -1, STATES[STARVED]))
        self.down = False
        self.off = False  # outside the working time of its calendar (shift, break)
        self.working = False
        self.cutting = False  # an interrupt of its work is on its way
        self.failures = 0
        self.maintenances = 0
        self.activations = 0
        self.idle_since = -math.inf
        self.last_product: str | None = None
        self.waiting_for: Station | None = None
        # Fired when the machine may go on after a stop: a repair, the start of a shift.
        self.resumed = self.env.event()
        # Set while the machine has orders to see to before its next part (held station,
        # maintenance); one test per part keeps the hot path fast.
        self.halt = False
        # A starved machine waits on ``taking`` (a part, or None when nudged), a held one
        # on ``wake``: see ``nudge``.
        self.taking: simpy.events.Event | None = None
        self.wake: simpy.events.Event | None = None
        # Seconds of planned maintenance ordered or under way, else None.
        self.maintenance: float | None = None
        self.basis: str | None = None
        self.generation = 0  # bumped by maintenance: a calendar failure clock restarts
        # The machine's age since it was last renewed (maintenance or repair), for age
        # replacement: work done and time of the last renewal.
        self.worked = 0.0
        self.renewed_work = 0.0
        self.renewed_at = 0.0
        self.renewals = 0
        self.life = 0.0  # on the operating basis: the time to failure drawn at renewal
        self.ttf = math.inf  # on the operating basis: the work left to the next failure
        self._work: Callable[[float], Generator[Any, Any, None]] = self._plain
        self._setup_work = self._plain
        # A machine that wears: its lives end when the wear reaches its limit (or at a
        # random failure before); ``since`` and ``done``: the work timed now, for its wear.
        self.wear: Path | None = None
        self.worn_out = 0  # breakdowns by wear after the warm-up
        self.since = 0.0
        self.done = 0.0
        # Called at a breakdown by wear, and (once, then forgotten) at the next renewal.
        self.on_breakdown: list[Callable[[], None]] = []
        self.on_renewal: list[Callable[[], None]] = []
        if lives is not None:
            self.lives = lives
            self.wear = lives.path
            self.basis = "operating"
            self.mtbf, self.mttr = lives.next, lives.repair
            self.ttf = self.life = self.mtbf()
            self._work = self._wearing
        elif failures is not None:
            self.basis = failures.basis
            self.mtbf = failures.mtbf(name)
            self.mttr = failures.mttr(name)
            if failures.basis == "operating":
                self.ttf = self.life = self.mtbf()
                self._work = self._operating
            else:
                self._work = self._setup_work = self._calendar
                self.env.process(self._breakdowns())
        self.proc = self.env.process(self._run())
        policy = station.preventive
        if policy is not None and policy.basis == "calendar":
            self.env.process(self._calendar_age(policy))

    def wear_now(self) -> float:
        """The machine's wear at this moment, also in the middle of a part (0 for a
        machine that does not wear)."""
        if self.wear is None:
            return 0.0
        age = self.life - self.ttf + self.done
        if self.working:
            age += self.env.now - self.since
        return self.wear.at(age)

    # -- age replacement ------------------------------------------------------------------

    def operating_age(self) -> float:
        """Processing time since the last renewal."""
        if self.basis == "operating":
            return self.life - self.ttf  # exact, also when a part was cut by a failure
        return self.worked - self.renewed_work

    def _renewed(self) -> None:
        self.renewed_work = self.worked
        self.renewed_at = self.env.now
        self.renewals += 1
        if self.on_renewal:
            callbacks, self.on_renewal = self.on_renewal, []
            for callback in callbacks:
                callback()

    def _due(self, policy: Preventive) -> None:
        """Order the policy's maintenance (it starts when the machine has no part)."""
        if self.maintenance is None and not self.down:
            self.maintenance = policy.duration()
            self._acted("maintain", f"{self.maintenance:g}")
            self.nudge()

    def _calendar_age(self, policy: Preventive) -> Generator[Any, Any, None]:
        """On the calendar basis: order maintenance when the age since renewal reaches it."""
        env = self.env
        while True:
            renewals = self.renewals
            yield env.timeout(max(0.0, self.renewed_at + policy.every - env.now))
            if self.renewals != renewals:
                continue  # renewed meanwhile: a new age
            while self.down:  # the repair renews it
                yield self.resumed
            if self.renewals == renewals:
                self._due(policy)
                while self.renewals == renewals:
                    yield env.timeout(policy.every)  # bounded: the maintenance renews it

    # -- actions ----------------------------------------------------------------------------

    def maintain(self, duration: float) -> None:
        """A planned stop of ``duration`` seconds once the machine has no part (at once if
        starved or held); afterwards the machine is as good as new: its failure clock starts
        afresh. It counts as a maintenance, not as a failure."""
        seconds = seconds_of(duration, "a maintenance duration", zero=False)
        if self.maintenance is not None:
            reason = f"{self.scope} is already in or due for maintenance"
            raise Refused(NOT_ALLOWED_IN_STATE, reason)
        if self.down:
            raise Refused(NOT_ALLOWED_IN_STATE, f"{self.scope} is down: repair comes first")
        self.maintenance = seconds
        self._acted("maintain", f"{seconds:g}")
        self.nudge()

    def fail(self, repair: float | None = None) -> None:
        """Break down now, in whatever state, for ``repair`` seconds (drawn from the
        machine's repair times when None). The part in process resumes after the repair; on
        the operating basis the time to the next natural failure runs on where it was."""
        if repair is None:
            if self.basis is None:
                raise Refused(
                    BAD_PARAMETER,
                    f"give a repair time: {self.scope} has no failure model to draw one from",
                )
        else:
            repair = seconds_of(repair, "a repair time", zero=True)
        if self.down:
            raise Refused(NOT_ALLOWED_IN_STATE, f"{self.scope} is already down")
        if self.base == MAINTENANCE:
            raise Refused(NOT_ALLOWED_IN_STATE, f"{self.scope} is in maintenance")
        seconds = self.mttr() if repair is None else repair
        self._fail()
        if self._in_work():
            self._cut()
        self.env.process(self._repair_after(seconds))

    def shift_off(self) -> None:
        """Its calendar's working time ends (end of shift, a break): a part in process
        pauses, and no new part is taken, until :meth:`shift_on`."""
        self.off = True
        if not self.down:  # a machine under repair stays down until repaired
            self._enter(OFF)
            if self._in_work():
                self._cut()
        self.nudge()

    def shift_on(self) -> None:
        """Its calendar's working time starts again: the paused part resumes."""
        self.off = False
        if not self.down:
            self._enter(self.base)
        self._resume()
        self.nudge()

    def _in_work(self) -> bool:
        """Whether the machine is timing a setup or a process step that a failure cuts."""
        if self.cutting:
            return False
        if self.working:
            return True
        return self.base in (BUSY, SETUP) and isinstance(self.proc.target, simpy.events.Timeout)

    def _cut(self) -> None:
        """Interrupt the work under way (once: a second cause at the same moment finds the
        work already cut)."""
        if not self.cutting:
            self.cutting = True
            self.proc.interrupt()

    def _halted(self) -> bool:
        """Whether the machine has orders to see to before its next part."""
        return self.station.held or self.maintenance is not None or self.off

    def nudge(self) -> None:
        """Make a machine that waits for a part, or for its station to be unheld, look at
        its orders again (hold, unhold, maintenance)."""
        self.halt = self._halted()
        taking = self.taking
        if taking is not None and self.station.queue.withdraw(taking):
            taking.succeed(None)
        elif self.wake is not None:
            wake, self.wake = self.wake, None
            wake.succeed()

    def _acted(self, kind: str, value: str) -> None:
        changes = self.station.line.changes
        if changes.live:
            changes.event((self.env.now, self.scope, kind, -1, value))

    # -- states ---------------------------------------------------------------------------

    def _state(self, state: int) -> None:
        self.base = state
        if not (self.down or self.off):  # a repair, then the shift, shows before the rest
            self._enter(state)

    def _enter(self, state: int) -> None:
        now = self.env.now
        clock = self.clock
        before = clock.state
        if ACTIVE[state]:
            # An idle spell of zero length (a part handed over at once) splits no period.
            if not ACTIVE[before] and now > self.idle_since and now >= clock.start:
                self.activations += 1
        elif ACTIVE[before]:
            self.idle_since = now
        clock.enter(state, now)
        if state != before:  # the change stream tells changes only (busy, part after part)
            changes = self.station.line.changes
            if changes.live:
                changes.record((now, self.scope, "state", -1, STATES[state]))

    def _fail(self) -> None:
        self.down = True
        if self.env.now >= self.clock.start:
            self.failures += 1
        self._event("fail")
        self._enter(DOWN)

    def _repair(self) -> None:
        self.down = False
        if self.maintenance is not None and self.base != MAINTENANCE:
            # A maintenance ordered but not begun lapses: the repair renews the machine.
            self.maintenance = None
            self.halt = self._halted()
        self._renewed()
        self._event("repair")
        self._enter(OFF if self.off else self.base)
        self._resume()

    def _resume(self) -> None:
        resumed = self.resumed
        if resumed.callbacks:
            self.resumed = self.env.event()
            resumed.succeed()

    def _repair_after(self, seconds: float) -> Generator[Any, Any, None]:
        yield self.env.timeout(seconds)
        self._repair()

    def _event(self, kind: str) -> None:
        changes = self.station.line.changes
        if changes.live:
            part = self.part
            changes.event((self.env.now, self.scope, kind, -1 if part is None else part.id, ""))

    # -- the machine's life ---------------------------------------------------------------

    def _run(self) -> Generator[Any, Any, None]:
        env = self.env
        st = self.station
        line = st.line
        warmup = line.warmup
        changes = line.changes
        history = line.history  # set by the builder before the run starts
        items = st.queue.items
        # Work that a failure in operating time or a calendar's stop can cut, timed here.
        inline = self.basis != "calendar" and st.operator is None and self.wear is None
        # Parts go straight to the next station's door (no transport between stations).
        direct = not line.moves and line.default_move is None
        while True:
            self.part = None
            if self.halt:
                yield from self._stopped()
            if items:  # a part is there: taken at once
                part = items.popleft()
                if st.batch is not None:  # starved while it gathers a batch
                    self._state(STARVED)
            else:
                self._state(STARVED)
                self.taking = st.queue.wait()
                part = yield self.taking
                self.taking = None
                if part is None:
                    continue  # nudged: held, off, or maintenance ordered; see to it first
            self.part = part
            # Taken: on the machine from now on, for its setup or operator, if any, and work.
            part.where = self.scope
            now = env.now
            if changes.live:
                changes.record((now, self.scope, "start", part.id, part.product))
            if st.batch is not None:
                yield from self._batch(part, st.batch)
                continue
            if now >= warmup:
                st.waited += now - part.arrived
                st.started += 1
            product = part.product
            if st.setup is not None:
                yield from self._changeover(st.setup, product)
            self.last_product = product
            crew = st.operator
            if crew is not None:
                staff = yield from self._staffed(crew.pool)
            self._state(BUSY)
            if history is not None:
                history.record(part.id, env.now, self.scope, "start")
            work = st.process[product]() * st.time_factor
            if inline and work <= self.ttf and not (self.down or self.off):
                self.ttf -= work  # ``_operating`` written out: the hot path
                start = env.now
                try:
                    yield env.timeout(work)
                except simpy.Interrupt:
                    self.cutting = False
                    yield from self._calendar(work - (env.now - start))
            elif crew is None:
                yield from self._work(work)
            else:
                yield from self._attended(work, crew, staff)
            if history is not None:
                history.record(part.id, env.now, self.scope, "done")
            self.worked += work
            if st.preventive is not None:
                self._aged(st.preventive)
            ideal = st.ideal_cycle[product]
            if not (st.plain and direct):
                yield from self._done(part, ideal)
                continue
            # ``_done`` written out for a good part moving on at once: the hot path
            if env.now >= warmup:
                st.produced += 1
                st.ideal_time += ideal
                st.good += 1
                st.first_pass += part.reworks == 0
            step = part.step + 1
            if step == len(part.route):
                st.release()
                line.finish(part)
                continue
            nxt = part.route[step]
            gate = nxt.gate
            if gate is not None:
                if gate.free:
                    gate.free -= 1
                else:
                    self._state(BLOCKED)
                    self.waiting_for = nxt
                    yield gate.wait()
                    self.waiting_for = None
            st.release()
            if history is not None:
                history.record(part.id, env.now, st.id, "leave", nxt.id)
            nxt.receive(part)

    def _aged(self, policy: Preventive) -> None:
        """After processing (``worked`` counts it): on the operating basis, order the
        policy's maintenance once the machine's age reaches it."""
        if policy.basis == "operating" and self.operating_age() >= policy.every:
            self._due(policy)

    def _changeover(self, setup: Setup, product: str) -> Generator[Any, Any, None]:
        """The setup before a part of ``product``, if one is due."""
        if setup.always or self.last_product not in (None, product):
            duration = setup.duration(self.last_product, product)
            if duration is not None:
                pool = setup.operator
                if pool is not None:
                    staff = yield from self._staffed(pool)
                self._state(SETUP)
                yield from self._setup_work(duration)
                if pool is not None:
                    pool.release(staff)

    def _staffed(self, pool: Pool) -> Generator[Any, Any, simpy.resources.resource.Request]:
        """An operator of ``pool`` for this machine (waiting for one, if none is free)."""
        staff = pool.request()
        if not staff.triggered:
            self._state(OPERATOR)
        yield staff
        pool.seized()
        return staff

    def _attended(
        self, work: float, crew: Crew, staff: simpy.resources.resource.Request
    ) -> Generator[Any, Any, None]:
        """``work`` seconds of processing with the operator for all of it, or for the
        first ``crew.load`` seconds."""
        if crew.load is None or crew.load >= work:
            yield from self._work(work)
            crew.pool.release(staff)
        else:
            yield from self._work(crew.load)
            crew.pool.release(staff)
            yield from self._work(work - crew.load)

    def _batch(self, first: Part, batch: Batch) -> Generator[Any, Any, None]:
        """A batch machine's cycle from its first part: gather the batch, set up for the
        first part's product, process all at once, then pass each part on."""
        env = self.env
        st = self.station
        line = st.line
        parts = yield from self._gather(first, batch)
        if env.now >= line.warmup:
            st.waited += math.fsum(env.now - p.arrived for p in parts)
            st.started += len(parts)
        product = first.product
        if st.setup is not None:
            yield from self._changeover(st.setup, product)
        self.last_product = product
        crew = st.operator
        if crew is not None:
            staff = yield from self._staffed(crew.pool)
        self._state(BUSY)
        history = line.history
        if history is not None:
            for part in parts:
                history.record(part.id, env.now, self.scope, "start")
        work = st.process[product]() * st.time_factor
        if crew is None:
            yield from self._work(work)
        else:
            yield from self._attended(work, crew, staff)
        if history is not None:
            for part in parts:
                history.record(part.id, env.now, self.scope, "done")
        self.worked += work
        if st.preventive is not None:
            self._aged(st.preventive)
        ideal = st.ideal_cycle[product] / batch.size  # a full batch in the ideal cycle
        while parts:  # each part passed on in turn; those not yet out stay on the machine
            self.part = parts[0]
            yield from self._done(parts[0], ideal)
            parts.pop(0)

    def _gather(self, first: Part, batch: Batch) -> Generator[Any, Any, list[Part]]:
        """Parts for one batch: ``size`` of them, or at least ``least`` once the first
        has waited ``max_wait`` (the machine counts as starved meanwhile)."""
        env = self.env
        st = self.station
        queue = st.queue
        self.load = parts = [first]
        while len(parts) < batch.size:
            if queue.items:  # a part is there
                self._took(queue.items.popleft())
                continue
            if len(parts) < batch.least:  # one must come (hold, maintenance: after the batch)
                self._took((yield queue.wait()))
                continue
            wait = first.arrived + batch.max_wait - env.now
            if wait <= 0:
                break
            get = queue.wait()
            yield get | env.timeout(wait)
            if queue.withdraw(get):
                break
            self._took(cast("Part", get.value))  # perhaps at the moment the wait ended
        return parts

    def _took(self, part: Part) -> None:
        """A batch machine took one more part from its buffer: on the machine from now on."""
        self.load.append(part)
        part.where = self.scope
        changes = self.station.line.changes
        if changes.live:
            changes.record((self.env.now, self.scope, "start", part.id, part.product))

    def _done(self, part: Part, ideal: float) -> Generator[Any, Any, None]:
        """A part whose processing ended: counted, scrapped, sent back for rework, or passed
        on to its next station (blocking this machine until there is room there)."""
        st = self.station
        line = st.line
        counted = self.env.now >= line.warmup
        if counted:
            st.produced += 1
            st.ideal_time += ideal
        if st.defects is not None and st.defects.makes(self.wear_now()):
            self._made_defective(part, counted)
        if st.scrap_draw is not None and st.scrap_draw() < st.scrap_rate.get(part.product, 0.0):
            st.release()
            line.scrap(part, self.scope)
            return
        rework = st.rework
        inspection = st.inspection
        if rework is not None and rework.draw() < rework.rate.get(part.product, 0.0):
            if rework.limit is not None and part.reworks >= rework.limit:
                st.release()  # reworked as often as allowed: scrapped
                line.scrap(part, self.scope)
                return
            if self._send_back(part, rework.to):
                return
        elif inspection is not None and self._rejected(part, inspection, counted):
            if inspection.rework is None:
                st.release()
                line.scrap(part, self.scope)
                return
            if self._send_back(part, inspection.rework):
                return
        elif counted:
            st.good += 1
            st.first_pass += part.reworks == 0
        nxt = part.next_station
        if nxt is None:
            st.release()
            line.finish(part)
            return
        move = line.moves.get((st.id, nxt.id), line.default_move)
        if move is not None:
            if isinstance(move, Trip | Conveyor):
                yield from self._hand_over(part, nxt, move)
            else:
                st.release()  # handed to transport: this machine goes on at once
                self.env.process(carry(line, part, st.id, nxt, move()))
            return
        gate = nxt.gate
        if gate is not None and not gate.take():
            self._state(BLOCKED)
            self.waiting_for = nxt
            yield gate.wait()
            self.waiting_for = None
        st.release()
        if line.history is not None:
            line.history.record(part.id, self.env.now, st.id, "leave", nxt.id)
        nxt.receive(part)

    def _hand_over(
        self, part: Part, nxt: Station, move: Trip | Conveyor
    ) -> Generator[Any, Any, None]:
        """Wait (blocked) for a vehicle or a place on the conveyor, then let the part go."""
        st = self.station
        resource = move.fleet.resource if isinstance(move, Trip) else move.slots
        request = resource.request()
        if not request.triggered:
            self._state(BLOCKED)
        yield request
        st.release()
        line = st.line
        if isinstance(move, Trip):
            move.fleet.seized()
            self.env.process(drive(line, part, st.id, nxt, move, request))
        else:
            self.env.process(ride(line, part, st.id, nxt, move, request))

    def _made_defective(self, part: Part, counted: bool) -> None:
        """``part`` leaves this machine defective (it may have been already)."""
        if part.defective:
            return
        part.defective = True
        st = self.station
        if counted:
            st.defects_made += 1
        history = st.line.history
        if history is not None:
            history.record(part.id, self.env.now, self.scope, "defective", "made")

    def _rejected(self, part: Part, inspection: Inspection, counted: bool) -> bool:
        """Inspect ``part`` after processing: whether it is rejected (rightly or not)."""
        verdict = inspection.verdict(part.defective)
        st = self.station
        line = st.line
        now = self.env.now
        if line.history is not None:
            line.history.record(part.id, now, self.scope, "inspected", verdict)
        if counted:
            if verdict == DETECTED:
                st.detected += 1
            elif verdict == FALSE_REJECT:
                st.false_rejects += 1
            else:
                st.passed += 1
        rejected = verdict in REJECTED
        if rejected and line.changes.live:
            line.changes.event((now, self.scope, "reject", part.id, verdict))
        return rejected

    def _send_back(self, part: Part, to: str) -> bool:
        """Send a defective part back along its route to station ``to``, which repairs it;
        True when it stays at this station (reworked here: back in the queue, on the place
        it holds)."""
        st = self.station
        env = self.env
        part.reworks += 1
        part.defective = False
        if env.now >= st.line.warmup:
            st.reworked += 1
        back = step_back(part, to)
        part.step = back - 1  # its next station is the one it goes back to
        changes = st.line.changes
        if changes.live:
            changes.event((env.now, self.scope, "rework", part.id, to))
        history = st.line.history
        if history is not None:
            history.record(part.id, env.now, self.scope, "rework", to)
        if part.route[back] is st:
            st.receive(part)
            return True
        return False

    def _stopped(self) -> Generator[Any, Any, None]:
        """With no part in hand: maintenance when ordered, then held while the station is."""
        while True:
            if self.maintenance is not None:
                yield from self._maintained(self.maintenance)
            elif self.station.held:
                self._state(HELD)
                self.wake = self.env.event()
                yield self.wake
            elif self.off:
                self._state(STARVED)  # idle behind the planned stop
                self.wake = self.env.event()
                yield self.wake
            else:
                return

    def _maintained(self, seconds: float) -> Generator[Any, Any, None]:
        """A planned stop that leaves the machine as good as new."""
        env = self.env
        while self.down:  # failed at the very moment it was to stop: repair comes first
            yield self.resumed
        if self.maintenance is None:
            return  # the repair renewed the machine: the order lapsed
        if env.now >= self.clock.start:
            self.maintenances += 1
        self.generation += 1  # a calendar failure due during maintenance does not happen
        self._state(MAINTENANCE)
        yield env.timeout(seconds)
        self.maintenance = None
        self.halt = self._halted()
        self._renewed()
        if self.basis == "operating":
            self.ttf = self.life = self.mtbf()
        elif self.basis == "calendar":
            env.process(self._breakdowns())

    def _plain(self, work: float) -> Generator[Any, Any, None]:
        """Work for ``work`` seconds; a failure put on it pauses the work until repaired."""
        env = self.env
        if self.down or self.off:
            yield from self._calendar(work)
            return
        start = env.now
        try:
            yield env.timeout(work)
        except simpy.Interrupt:
            self.cutting = False
            yield from self._calendar(work - (env.now - start))

    def _operating(self, work: float) -> Generator[Any, Any, None]:
        """Work with failures counted in operating (processing) time: no interrupts needed."""
        env = self.env
        while work > self.ttf:
            yield from self._plain(self.ttf)
            work -= self.ttf
            while self.down:  # a failure put on it just as the time to failure ran out
                yield self.resumed
            self._fail()
            yield env.timeout(self.mttr())
            self.ttf = self.life = self.mtbf()  # drawn before the repair renews the age
            self._repair()
        self.ttf -= work
        # ``_plain`` written out: this is the hot path of an unreliable machine.
        if self.down or self.off:
            yield from self._calendar(work)
            return
        start = env.now
        try:
            yield env.timeout(work)
        except simpy.Interrupt:
            self.cutting = False
            yield from self._calendar(work - (env.now - start))

    def _wearing(self, work: float) -> Generator[Any, Any, None]:
        """Work on a machine that wears: it breaks down (part in hand) when the current
        life's operating time runs out, and the rest of the work follows the repair."""
        env = self.env
        while True:
            chunk = min(work, self.ttf)
            yield from self._timed(chunk)
            self.ttf -= chunk
            self.done = 0.0
            work -= chunk
            if self.ttf > 0.0:
                return
            while self.down:  # a failure put on it is under repair: this one follows
                yield self.resumed
            worn = self.lives.worn
            self._fail()
            if worn:
                if env.now >= self.clock.start:
                    self.worn_out += 1
                for callback in self.on_breakdown:
                    callback()
            yield env.timeout(self.mttr())
            self.ttf = self.life = self.mtbf()  # drawn before the repair renews the age
            self._repair()
            if work <= 0.0:
                return

    def _timed(self, work: float) -> Generator[Any, Any, None]:
        """``work`` seconds of work, paused by failures and stops, with the work done so far
        in ``done`` and the start of the running stretch in ``since``."""
        env = self.env
        while work > 0.0:
            while self.down or self.off:
                yield self.resumed
            self.since = env.now
            self.working = True
            try:
                yield env.timeout(work)
                self.done += work
                work = 0.0
            except simpy.Interrupt:
                self.cutting = False
                spent = env.now - self.since
                self.done += spent
                work -= spent
            finally:
                self.working = False

    def _calendar(self, work: float) -> Generator[Any, Any, None]:
        """Work that a failure interrupts; the rest resumes after repair."""
        env = self.env
        while work > 0:
            while self.down or self.off:
                yield self.resumed
            start = env.now
            self.working = True
            try:
                yield env.timeout(work)
                work = 0.0
            except simpy.Interrupt:
                self.cutting = False
                work -= env.now - start
            finally:
                self.working = False

    def _breakdowns(self) -> Generator[Any, Any, None]:
        """Failures in calendar time, until a maintenance starts a fresh failure clock."""
        env = self.env
        generation = self.generation
        while True:
            yield env.timeout(self.mtbf())
            while self.down:  # a failure put on it is under repair: this one follows
                yield self.resumed
            if generation != self.generation:
                return
            self._fail()
            if self.working:
                self._cut()
            yield env.timeout(self.mttr())
            self._repair()
