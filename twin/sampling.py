"""Samples of a batch run at regular simulated times, taken between events.

:func:`sample_every` schedules one event per sample at a priority below SimPy's normal
one, so the sample at ``t`` is taken once every event at ``t`` has run (those scheduled
at ``t`` meanwhile included) and before any later one: the state it reads is the state
the run has from ``t`` to its next event. Its events are seen by nobody else and draw no
random numbers; SimPy orders events by (time, priority, insertion count), so the model's
events keep their order among themselves and the run's results stay the same to the bit.
The live driver (``twin.pacing``) takes its samples between events the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import simpy
from simpy.events import NORMAL, EventPriority

LATE = EventPriority(NORMAL + 1)
"""After every normal event at the same time."""


class _Tick(simpy.Event):
    """An event that is already triggered, processed at ``delay`` after every normal one."""

    def __init__(self, env: simpy.Environment, delay: float) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, LATE, delay)


def sample_times(every: float, horizon: float) -> list[float]:
    """``every``, ``2 every``, ... up to ``horizon``, and ``horizon`` itself."""
    if not (math.isfinite(every) and every > 0):
        raise ValueError(f"sampling interval must be positive, got {every}")
    n = math.floor(horizon / every + 1e-9)
    times = [every * k for k in range(1, n + 1) if every * k < horizon]
    return [*times, horizon]


def sample_every(
    env: simpy.Environment, every: float, horizon: float, sample: Callable[[float], None]
) -> Callable[[], None]:
    """Call ``sample(t)`` at each time of :func:`sample_times` before ``horizon``, between
    events; the returned function takes the last one, at the horizon, once the run is
    there (``env.run(until=horizon)`` stops before any event at the horizon)."""
    times = sample_times(every, horizon)
    pending = iter(times[:-1])

    def next_tick(event: simpy.Event | None = None) -> None:
        t = next(pending, None)
        if event is not None:
            sample(env.now)
        if t is not None:
            _Tick(env, t - env.now).callbacks.append(next_tick)

    next_tick()
    return lambda: sample(horizon)
