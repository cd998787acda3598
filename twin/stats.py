"""Statistics that accumulate as the simulation runs, so memory stays flat.

``StateClock`` splits an entity's time between states, ``TimeAverage`` integrates a level
(such as WIP) over time, ``Tally`` keeps count, mean and quantiles of observations.
All three ignore what happens before the warm-up ends.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import TypedDict

import numpy as np
from ddsketch import DDSketch


@functools.cache
def _t975(dof: int) -> float:
    """Student's t quantile 0.975 (imported on first use: scipy takes a while to load)."""
    from scipy.special import stdtrit

    return float(stdtrit(dof, 0.975))


class StateClock:
    """Time spent in each of a fixed set of states, counted after ``start``."""

    __slots__ = ("since", "start", "state", "totals")

    def __init__(self, n_states: int, initial: int, start: float) -> None:
        self.totals = [0.0] * n_states
        self.state = initial
        self.since = 0.0
        self.start = start

    def enter(self, state: int, now: float) -> None:
        t0 = self.since if self.since > self.start else self.start
        if now > t0:
            self.totals[self.state] += now - t0
        self.state = state
        self.since = now

    def close(self, now: float) -> list[float]:
        """Account the current state up to ``now`` and return the totals."""
        self.enter(self.state, now)
        return self.totals

    def totals_at(self, now: float) -> list[float]:
        """The totals as they would read at ``now``, changing nothing (a sample mid-run
        leaves the run's own sums, and so its results, exactly as they were)."""
        totals = list(self.totals)
        t0 = self.since if self.since > self.start else self.start
        if now > t0:
            totals[self.state] += now - t0
        return totals


class TimeAverage:
    """The time integral of a piecewise-constant level, counted after ``start``."""

    __slots__ = ("area", "level", "since", "start")

    def __init__(self, start: float, level: float = 0.0) -> None:
        self.level = level
        self.area = 0.0
        self.since = 0.0
        self.start = start

    def add(self, delta: float, now: float) -> None:
        t0 = self.since if self.since > self.start else self.start
        if now > t0:
            self.area += self.level * (now - t0)
        self.level += delta
        self.since = now

    def mean(self, now: float) -> float:
        self.add(0.0, now)
        span = now - self.start
        return self.area / span if span > 0 else math.nan

    def mean_at(self, now: float) -> float:
        """The mean as it would read at ``now``, changing nothing."""
        t0 = self.since if self.since > self.start else self.start
        area = self.area + (self.level * (now - t0) if now > t0 else 0.0)
        span = now - self.start
        return area / span if span > 0 else math.nan


HISTOGRAM_GROUP = 5
"""Sketch bins per histogram bin: 5 bins of 1% make one of about 5%."""


class Histogram(TypedDict):
    """Counts in logarithmic bins (see :meth:`Tally.histogram`)."""

    base: float
    keys: list[int]
    counts: list[int]
    zeros: int


class Tally:
    """Count, mean and approximate quantiles (1% relative accuracy) of observations."""

    __slots__ = ("count", "sketch", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.sketch = DDSketch(relative_accuracy=0.005)

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.sketch.add(value)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else math.nan

    def quantile(self, q: float) -> float:
        if not self.count:
            return math.nan
        value = self.sketch.get_quantile_value(q)
        return math.nan if value is None else float(value)

    def histogram(self, group: int = HISTOGRAM_GROUP) -> Histogram:
        """The observations in logarithmic bins: bin ``k`` holds the values in
        ``(base**k, base**(k+1)]``, zero has its own count. Read off the sketch, whose bins
        are 1% wide: each histogram bin is ``group`` of them (``base = gamma**group``), so
        its bounds are the sketch's and no value lands in the wrong bin. The same ``group``
        gives the same bins in every run, so histograms add up bin by bin."""
        mapping, store = self.sketch._mapping, self.sketch._store
        base = mapping.gamma**group
        log_base = math.log(base)
        counts: dict[int, int] = {}
        for index, count in enumerate(store.bins):
            if count > 0:
                # a point inside the sketch's bin, so inside exactly one histogram bin
                inside = mapping.value(store.offset + index)
                key = math.ceil(math.log(inside) / log_base) - 1
                counts[key] = counts.get(key, 0) + round(count)
        keys = sorted(counts)
        return {
            "base": base,
            "keys": keys,
            "counts": [counts[k] for k in keys],
            "zeros": round(self.sketch._zero_count),
        }


class Summary(TypedDict):
    """A figure over replications, as stored in results."""

    mean: float | None
    ci95_halfwidth: float | None
    values: list[float | None]


def _clean(x: float) -> float | None:
    return None if math.isnan(x) else x


def summarize(values: Sequence[float]) -> Summary:
    """Mean and 95% Student-t confidence half-width over replications (NaN -> null)."""
    arr = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    mean = float(arr.mean()) if arr.size else math.nan
    if arr.size >= 2:
        t = _t975(arr.size - 1)
        half = t * float(arr.std(ddof=1)) / math.sqrt(arr.size)
    else:
        half = math.nan
    return {
        "mean": _clean(mean),
        "ci95_halfwidth": _clean(half),
        "values": [_clean(float(v)) for v in values],
    }
