"""Choosing the warm-up from the data: MSER-5 on the WIP of pilot replications.

MSER (White, 1997) truncates the first ``d`` observations of an output series where the
marginal standard error of the rest, ``S^2(d) / (n - d)^2``, is smallest; MSER-5 applies it
to batch means of 5 observations. The series here is the line's WIP sampled at even
intervals, averaged over a few pilot replications run without warm-up.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from scenarios.builder import build
from scenarios.overrides import override
from scenarios.schema import Scenario

SAMPLES = 2000
BATCH = 5


def mser(series: np.ndarray, batch: int = BATCH) -> int:
    """The number of leading observations to drop (a multiple of ``batch``)."""
    n = len(series) // batch
    if n < 4:
        return 0
    means = series[: n * batch].reshape(n, batch).mean(axis=1)
    best, best_d = np.inf, 0
    # Truncating more than half the series is not allowed (the statistic is unstable there).
    for d in range(n // 2 + 1):
        rest = means[d:]
        stat = float(((rest - rest.mean()) ** 2).sum()) / (len(rest) ** 2)
        if stat < best:
            best, best_d = stat, d
    return best_d * batch


def wip_series(scenario: Scenario, replication: int, samples: int = SAMPLES) -> np.ndarray:
    """The line's WIP at ``samples`` even times over the horizon, with no warm-up."""
    model = override(scenario, {"warmup": 0.0})
    env = simpy.Environment()
    line = build(env, model, replication)
    step = model.horizon / samples
    out = np.zeros(samples)

    def sample() -> Generator[Any, Any, None]:
        # Sample in the middle of each interval, so the last one falls before the horizon.
        yield env.timeout(step / 2)
        for i in range(samples):
            out[i] = line.wip.level
            yield env.timeout(step)

    env.process(sample())
    env.run(until=model.horizon)
    return out


def detect(scenario: Scenario, pilots: int = 5) -> float:
    """The warm-up (seconds) MSER-5 picks on the mean WIP series of ``pilots`` replications."""
    series = np.mean([wip_series(scenario, r) for r in range(pilots)], axis=0)
    step = scenario.horizon / len(series)
    warmup = mser(series) * step
    return float(min(warmup, scenario.horizon / 2))
