"""Wear as a gamma process: its first passage to the limit, and readings along one path."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import integrate, special

from models.wear import HOUR, RESOLUTION, Path


def test_deterministic_wear_reaches_its_limit_at_limit_over_rate() -> None:
    """cv = 0: the wear is rate x t, so a limit of 100 at 1 unit an hour lasts 100 h."""
    path = Path(1.0, 0.0, lambda: 100.0, np.random.default_rng(0))
    assert path.life() == pytest.approx(100 * HOUR)
    assert path.at(50 * HOUR) == pytest.approx(50.0)
    assert path.at(200 * HOUR) == 100.0


def test_the_first_passage_time_has_the_gamma_process_law() -> None:
    """Over 3000 lives, the mean and the quartiles of the time to reach L = 100 at rate 1/h,
    cv 0.3 match P(T > t) = P(W(t) < L), W(t) ~ Gamma(t / cv^2, cv^2) (t in hours)."""
    rng = np.random.default_rng(7)
    path = Path(1.0, 0.3, lambda: 100.0, rng)
    lives = []
    for _ in range(3000):
        lives.append(path.life() / HOUR)
        path.renew()
    a, b, limit = 1 / 0.09, 0.09, 100.0

    def survival(t: float) -> float:
        return float(special.gammainc(a * t, limit / b)) if t > 0 else 1.0

    mean = integrate.quad(survival, 0, 400, limit=200)[0]
    sample = np.array(lives)
    half = 3 * sample.std(ddof=1) / np.sqrt(len(sample))
    assert abs(sample.mean() - mean) < half
    for q in (0.25, 0.5, 0.75):
        t = float(np.quantile(sample, q))
        assert abs((1 - survival(t)) - q) < 0.03, q


def test_readings_along_a_life_are_one_rising_path() -> None:
    """The wear read at any ages of one life never falls, stays below the limit before the
    breakdown, and reads the same when read twice."""
    path = Path(2.0, 0.5, lambda: 80.0, np.random.default_rng(3))
    end = path.life()
    ages = np.random.default_rng(4).uniform(0, end, 200)
    values = {float(t): path.at(float(t)) for t in ages}
    ordered = [values[t] for t in sorted(values)]
    assert all(b >= a for a, b in itertools.pairwise(ordered))
    assert max(ordered) <= 80.0
    assert all(path.at(t) == v for t, v in values.items())
    assert path.at(end + RESOLUTION) == 80.0


def test_each_life_draws_its_own_limit() -> None:
    """A limit drawn per life: lives end where their own limit is reached."""
    limits = iter([50.0, 150.0])
    path = Path(1.0, 0.0, lambda: next(limits), np.random.default_rng(0))
    assert path.life() == pytest.approx(50 * HOUR)
    path.renew()
    assert path.life() == pytest.approx(150 * HOUR)
