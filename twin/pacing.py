"""The pacing driver: runs a simulation as fast as possible, in scaled real time, paused,
step by step, or in lock-step, handing the time between events to its owner's I/O.

A live run has one thread: the pacer advances the SimPy environment event by event and,
whenever it has to wait (real time not yet reached, clock paused, a lock-step barrier),
calls ``poll(timeout)``, where its owner (the bridge) serves its sockets and applies the
commands that arrived. Commands therefore land between events, at a well-defined simulated
time, and never race the simulation. ``poll`` is also called now and then in a fast run, so
a pause or a stop is heard. A fast run steps in bursts: a tight loop of events up to the next
poll, sample, barrier or the horizon, with no pacing decisions in between (a live run with
nothing to wait for then costs what a batch run costs).

Scaled real time: simulated second ``t`` is due at wall time ``start + (t - t0) / speed``,
re-anchored whenever the speed changes or the clock resumes. When an event is already late,
it runs at once and ``lag`` says by how much (seconds of wall time): the run cannot keep up.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import simpy
from simpy.events import NORMAL, URGENT, EventPriority

from twin.errors import UsageError

Poll = Callable[[float], None]
"""Serve I/O for at most this many seconds of wall time (may return earlier)."""


@dataclass
class Pacer:
    """Drives ``env`` up to ``horizon``. ``speed`` None runs as fast as possible; a number
    runs that many simulated seconds per wall second. ``lockstep`` (seconds) stops at each
    multiple of it and calls ``barrier(t)``, which returns once every agent is ready."""

    env: simpy.Environment
    horizon: float
    poll: Poll
    speed: float | None = None
    lockstep: float | None = None
    barrier: Callable[[float], None] | None = None
    sample_every: float | None = None  # simulated seconds between two calls of ``sample``
    sample: Callable[[float], None] | None = None
    wall: Callable[[], float] = time.monotonic
    slice: float = 0.05  # longest wait between two polls, wall seconds
    fast_poll_every: int = 2000  # events between two polls in a fast (or late) run
    paused: bool = False
    stopped: bool = False
    lag: float = 0.0
    events: int = 0  # events run so far
    _anchor: tuple[float, float] = (0.0, 0.0)  # (wall, sim) at the last re-anchoring
    _steps: list[float | None] = field(default_factory=list)
    _next_barrier: float = math.inf
    _next_sample: float = math.inf
    _since_poll: int = 0  # events since the last poll of a fast run

    def __post_init__(self) -> None:
        if self.speed is not None:
            _check_speed(self.speed)
        if self.lockstep is not None:
            if not (math.isfinite(self.lockstep) and self.lockstep > 0):
                raise UsageError(f"lock-step interval must be positive, got {self.lockstep}")
            self._next_barrier = self.env.now + self.lockstep
        if self.sample_every is not None:
            if not (math.isfinite(self.sample_every) and self.sample_every > 0):
                raise UsageError(f"sampling interval must be positive, got {self.sample_every}")
            self._next_sample = self.env.now + self.sample_every
        self._reanchor()

    # -- controls (the clock commands of the door) ----------------------------------------

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False
        self._steps.clear()
        self._reanchor()

    def step(self, duration: float | None) -> None:
        """While paused: advance to the next event (None) or by ``duration`` seconds."""
        self._steps.append(duration)

    def set_speed(self, factor: float) -> None:
        _check_speed(factor)
        self.speed = factor
        self._reanchor()

    def reset(self, seed: int | None) -> None:
        """A pacer cannot rebuild the line; its owner handles a reset and starts a new one."""
        raise NotImplementedError("reset is handled by the owner of the run")

    def stop(self) -> None:
        self.stopped = True

    def clock(self) -> float:
        """The simulated time it is now: in real time it moves on between events (the
        environment's clock only jumps from event to event)."""
        now = self.env.now
        if self.speed is None or self.paused:
            return now
        wall_start, sim_start = self._anchor
        current = sim_start + (self.wall() - wall_start) * self.speed
        return min(max(now, current), self.env.peek(), self.horizon)

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> None:
        """Advance until the horizon (or ``stop``); then ``env.now`` is the horizon.

        Events at exactly the horizon are not run, as in a batch run, so a paced run with
        no commands gives the batch run's results to the bit.
        """
        env = self.env
        # Real time starts now, not when the pacer was made: a server that held the clock
        # at 0 until its subscribers came must not then rush through the time it waited.
        self._reanchor()
        while not self.stopped and env.now < self.horizon:
            if self.paused:
                if self._steps:
                    self._step_once(self._steps.pop(0))
                else:
                    self.poll(self.slice)
                continue
            nxt = env.peek()
            if self.speed is None:
                # The events a fast run may run before anything else is due: those up to
                # the next sample (taken after every event at its time), before the next
                # barrier and the horizon.
                stop = min(self.horizon, self._next_barrier)
                if self._next_sample < stop:  # the sample's events all run first
                    if nxt <= self._next_sample:
                        self._burst(self._next_sample, after=True)
                        continue
                elif nxt < stop:
                    self._burst(stop, after=False)
                    continue
            due = min(nxt, self.horizon, self._next_barrier, self._next_sample)
            if self.speed is not None and not self._on_time(due):
                continue
            if self._next_sample < min(nxt, self._next_barrier, _after(self.horizon)):
                self._samples(min(nxt, self._next_barrier, _after(self.horizon)))
                continue  # the next event may not be due yet
            if nxt < min(self.horizon, self._next_barrier):
                self._step()
                self._since_poll += 1
                if self._since_poll >= self.fast_poll_every:  # late: no waiting, no polls
                    self._since_poll = 0
                    self.poll(0.0)
            elif self._next_barrier < self.horizon:
                self._advance(self._next_barrier)
                self._at_barrier()
            else:
                self._advance(self.horizon)
        if not self.stopped:
            self._samples(_after(self.horizon))  # the one at the horizon, if still due

    def _burst(self, limit: float, after: bool) -> None:
        """As fast as possible: run the events before ``limit`` (``after``: and those at
        it) in a tight loop, and poll after every ``fast_poll_every`` events (the same
        events as one by one).

        The loop only steps: a limit event in SimPy's queue ends it, as ``env.run(until=)``
        ends with its own. Its priority and id sort it after every event at ``limit``
        (``after``) or before all of them, and before any later one; it leaves the clock at
        ``limit``. The model's events keep their order and their ids, and a burst that ends
        at a poll takes its limit event out of the queue again (nothing else sees it: polls,
        samples and commands come between bursts)."""
        queue = self.env._queue  # SimPy's heap of (time, priority, id, event)
        end = simpy.Event(self.env)  # processed, it raises _Reached out of env.step
        end.callbacks.append(_reached)
        end._ok, end._value = True, None  # (as run(until=) marks its own)
        # (SimPy's ids count from 0: -1 is no event's, so two entries never compare events.)
        entry = (limit, _AFTER_ALL if after else _BEFORE_ALL, -1, end)
        heapq.heappush(queue, entry)
        step = self.env.step
        todo = done = self.fast_poll_every - self._since_poll
        i = 0
        try:
            # (the loop every event of a fast run goes through: kept bare; ``i`` counts)
            for i in range(todo):  # noqa: B007
                step()
        except _Reached:
            done = i  # the limit's own step is no model event
        else:
            queue.remove(entry)
            heapq.heapify(queue)
        self.events += done
        self._since_poll += done
        if self._since_poll >= self.fast_poll_every:
            self._since_poll = 0
            self.poll(0.0)

    def _step_once(self, duration: float | None) -> None:
        """One step of a paused clock: the next event, or ``duration`` seconds."""
        env = self.env
        if duration is None:
            if env.peek() < self.horizon:
                self._samples(env.peek())
                self._step()
            else:
                self._advance(self.horizon)
        else:
            self._advance(min(env.now + duration, self.horizon))

    def _step(self) -> None:
        """Run one event; ``events`` counts them (a replay applies commands at the same count)."""
        self.env.step()
        self.events += 1

    def _samples(self, before: float) -> None:
        """Take every sample due before ``before`` (and not after the horizon).

        Samples fall due between events: the one at ``t`` is taken once every event at
        ``t`` has run and before any later one runs (the state is constant in between), so
        sampling adds no event and changes nothing in the run."""
        while self._next_sample < before and self._next_sample <= self.horizon:
            t = self._next_sample
            self._next_sample = t + (self.sample_every or math.inf)
            if self.sample is not None:
                self.sample(t)

    def _on_time(self, due: float) -> bool:
        """Whether simulated time ``due`` has come; if not, poll for a while and say no."""
        wall_start, sim_start = self._anchor
        assert self.speed is not None
        wait = wall_start + (due - sim_start) / self.speed - self.wall()
        if wait > 0:
            self._since_poll = 0
            self.poll(min(wait, self.slice))
            return False
        self.lag = -wait
        return True

    def _advance(self, until: float) -> None:
        """Run every event before ``until`` and move the clock there."""
        env = self.env
        while env.peek() < until:
            self._samples(env.peek())
            self._step()
        if until > env.now and math.isfinite(until):
            self._samples(until)
            self.events += move_clock(env, until)

    def _at_barrier(self) -> None:
        t = self._next_barrier
        assert self.lockstep is not None
        self._next_barrier = t + self.lockstep
        if self.barrier is not None:
            self.barrier(t)
        self._reanchor()

    def _reanchor(self) -> None:
        self._anchor = (self.wall(), self.env.now)


def move_clock(env: simpy.Environment, t: float) -> int:
    """Move ``env``'s clock to ``t`` (no event due before it) and return the model events
    run on the way, all at ``t`` (urgent ones scheduled there earlier; normally none).

    ``env.run(until=t)`` would leave its stop event behind in the queue (SimPy reschedules
    it), and that stale event would be counted as one more event by whoever counts steps;
    a replay counting steps would then lose step with the live run. A marker without
    callbacks, stepped through, leaves nothing behind."""
    marker = simpy.Event(env)
    marker._ok = True  # triggered, as run(until=...) triggers its own
    marker._value = None
    env.schedule(marker, URGENT, t - env.now)
    steps = 0
    while marker.callbacks is not None:  # not processed yet
        env.step()
        steps += 1
    return steps - 1  # the marker's own step is no model event


class _Reached(Exception):
    """A fast burst has reached its limit (raised by the limit event's callback)."""


def _reached(_: simpy.Event) -> None:
    raise _Reached


# A limit event's priority: it sorts before every event at its time (SimPy's are URGENT 0
# and NORMAL 1; -1 only for an event it puts back after a StopSimulation), or after all.
_BEFORE_ALL, _AFTER_ALL = EventPriority(URGENT - 1), EventPriority(NORMAL + 1)


def _after(t: float) -> float:
    """The next float after ``t``: samples before it include one at ``t``."""
    return math.nextafter(t, math.inf)


def _check_speed(factor: float) -> None:
    if not (math.isfinite(factor) and factor > 0):
        raise UsageError(
            f"speed must be a positive number of simulated seconds per second, got {factor}"
        )
