"""What a kept run records besides its end-of-run KPIs: the headline KPIs sampled over
simulated time, and the lead-time histogram (what ``twin report`` draws).

Samples are taken between events (``twin.sampling``) with ``models.kpi.sample``, which
changes nothing in the run: a recorded replication's KPIs equal an unrecorded one's to
the bit. Memory stays flat: a few hundred samples, and a histogram of fixed logarithmic
bins read off the lead-time sketch the line keeps anyway.
"""

from __future__ import annotations

import math
from typing import Any, TypedDict

from models.kpi import sample
from models.line import Line
from twin.sampling import sample_every
from twin.stats import Histogram

MAX_SAMPLES = 240
"""Samples per replication, at most (the interval is the shortest round one that fits)."""

_ROUND = (
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    14400,
    21600,
    28800,
    43200,
)
_DAY = 86400

SERIES = ("in_system", "wip", "good", "scrapped", "throughput_per_hour")
"""The sampled figures (see ``models.kpi.sample``): parts in the line at ``t``, WIP time
average since the warm-up, good and scrapped parts so far, throughput since the warm-up."""


class History(TypedDict):
    """One replication's record over time (JSON-ready: NaN is ``None``)."""

    every_s: float
    warmup_s: float
    horizon_s: float
    t: list[float]
    series: dict[str, list[float | None]]
    lead_time: Histogram


def interval(horizon: float) -> float:
    """The shortest round sampling interval that takes at most ``MAX_SAMPLES`` samples."""
    for every in _ROUND:
        if horizon / every <= MAX_SAMPLES:
            return float(every)
    return float(_DAY * math.ceil(horizon / (_DAY * MAX_SAMPLES)))


def _clean(value: float) -> float | None:
    return None if math.isnan(value) else value


class Recorder:
    """Samples ``line`` every ``every`` seconds up to ``horizon``; :meth:`history` once the
    run has reached the horizon."""

    def __init__(self, line: Line, horizon: float, every: float | None = None) -> None:
        self.line = line
        self.horizon = horizon
        self.every = interval(horizon) if every is None else every
        self.t: list[float] = []
        self.series: dict[str, list[float | None]] = {name: [] for name in SERIES}
        self._last = sample_every(line.env, self.every, horizon, self._take)

    def _take(self, t: float) -> None:
        taken: dict[str, Any] = sample(self.line, t)
        self.t.append(t)
        for name in SERIES:
            self.series[name].append(_clean(float(taken[name])))

    def history(self) -> History:
        """The record, with the last sample (at the horizon) taken now."""
        self._last()
        return {
            "every_s": self.every,
            "warmup_s": self.line.warmup,
            "horizon_s": self.horizon,
            "t": self.t,
            "series": self.series,
            "lead_time": self.line.lead_time.histogram(),
        }
