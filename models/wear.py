"""Wear of a machine: a gamma process in operating time, and when it reaches its limit.

The wear of one life is a gamma process W(t) of mean ``rate * t``: over ``dt`` seconds of
operation it grows by a Gamma(shape = a dt, scale = b) amount, with ``a = 1 / (cv^2 h)`` and
``b = rate cv^2 h`` (``h`` = 3600 s), so that one hour's growth has mean ``rate * h`` and
coefficient of variation ``cv``; ``cv = 0`` is the straight line ``rate * t``. The machine
breaks when W first reaches a limit drawn for each life.

One path is drawn per life, when the life begins: :meth:`Path.renew` walks forward on a
grid of ``STEPS`` steps per expected life, each rise a gamma draw, until the limit is
crossed, and narrows the crossing down by bisection on the gamma bridge (given W at two
times, W at a time between is the first value plus the rise times a Beta(a dt1, a dt2)
draw). :meth:`Path.at` gives W at any operating age from these points, linearly between
two of them (a step is 1/256 of the expected life: the bridge's own wiggle within a step is
below what it can matter). Reading the wear draws nothing, so whoever reads it, a sensor or
the chance of a defect, and in whatever order, every reader sees the same path and the
breakdown agrees with it.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable

import numpy as np

HOUR = 3600.0
RESOLUTION = 1e-3  # seconds: the crossing time is found to within this
STEPS = 256  # forward steps per expected life


class Path:
    """The wear of one machine over one life after another (:meth:`renew`)."""

    def __init__(
        self,
        rate: float,
        cv: float,
        limit: Callable[[], float],
        rng: np.random.Generator,
    ) -> None:
        self.rate = rate / HOUR  # units per second of operation
        # Gamma shape per second of operation, and scale: mean growth a second = shape x scale.
        self.shape = math.inf if cv == 0 else 1.0 / (cv * cv * HOUR)
        self.scale = 0.0 if cv == 0 else self.rate / self.shape
        self.draw_limit = limit
        self.rng = rng
        self.renew()

    def renew(self) -> None:
        """A new life: no wear, a new limit, a new path."""
        self.limit = max(self.draw_limit(), 0.0)
        self.times = [0.0]
        self.values = [0.0]
        self.end = self._crossing()

    def life(self) -> float:
        """Operating seconds from the start of this life until the wear reaches its limit."""
        return self.end

    def at(self, age: float) -> float:
        """The wear after ``age`` seconds of operation in this life (the limit from the
        breakdown on)."""
        if age <= 0.0:
            return 0.0
        if age >= self.end:
            return self.limit
        if self.shape == math.inf:
            return self.rate * age
        times, values = self.times, self.values
        i = bisect.bisect_left(times, age)
        t1 = times[i]
        if t1 == age:
            return values[i]
        t0, w0, w1 = times[i - 1], values[i - 1], values[i]
        return w0 + (w1 - w0) * (age - t0) / (t1 - t0)

    def _crossing(self) -> float:
        """Draw the path forward until it reaches the limit; the time it does."""
        if self.limit <= 0.0:
            return 0.0
        if self.shape == math.inf:
            return self.limit / self.rate
        step = self.limit / self.rate / STEPS
        times, values = self.times, self.values
        t, w = 0.0, 0.0
        while True:  # a block of steps at a time: about one life's worth
            rises = self.rng.gamma(self.shape * step, self.scale, STEPS)
            levels = w + np.cumsum(rises)
            over = int(np.searchsorted(levels, self.limit, side="left"))
            below = levels[:over].tolist()
            times.extend(t + step * (k + 1) for k in range(len(below)))
            values.extend(below)
            if over < STEPS:
                t0, w0 = t + step * over, (below[-1] if below else w)
                rise = float(levels[over]) - w0
                break
            t, w = times[-1], values[-1]
        # The limit is crossed within (t0, t0 + step]: bisect on the bridge.
        t1, w1 = t0 + step, w0 + rise
        while t1 - t0 > RESOLUTION:
            tm = 0.5 * (t0 + t1)
            share = float(self.rng.beta(self.shape * (tm - t0), self.shape * (t1 - tm)))
            wm = w0 + (w1 - w0) * share
            if wm >= self.limit:
                t1, w1 = tm, wm
            else:
                t0, w0 = tm, wm
                times.append(t0)  # the points stay in time order
                values.append(w0)
        times.append(t1)
        values.append(self.limit)
        return t1


class Lives:
    """The lives of a machine that wears, one after another: each ends when the wear of
    ``path`` reaches its limit or, with random failures besides (``failure``, a draw of the
    operating time to one), at such a failure if it comes first. :meth:`repair` draws the
    repair of the breakdown that ended the current life."""

    def __init__(
        self,
        path: Path,
        repair: Callable[[], float],
        failure: Callable[[], float] | None = None,
        failure_repair: Callable[[], float] | None = None,
    ) -> None:
        self.path = path
        self.wear_repair = repair
        self.failure = failure
        self.failure_repair = failure_repair
        self.worn = True  # the current life ends by wear, not by a random failure
        self._fresh = True

    def next(self) -> float:
        """A new life (the path renewed): the operating seconds until it ends."""
        if self._fresh:
            self._fresh = False  # the path starts with a life of its own
        else:
            self.path.renew()
        life = self.path.life()
        other = math.inf if self.failure is None else self.failure()
        self.worn = life <= other
        return min(life, other)

    def repair(self) -> float:
        if self.worn or self.failure_repair is None:
            return self.wear_repair()
        return self.failure_repair()
