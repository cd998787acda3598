"""Distributions of durations: validation, short forms, and what they sample."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from twin.distributions import DIST_NAMES, Constant, Distribution

ADAPTER: TypeAdapter[Any] = TypeAdapter(Distribution)
N = 400_000


def parse(value: object) -> Any:
    return ADAPTER.validate_python(value)


def draw(value: object, n: int = N, seed: int = 12345) -> np.ndarray:
    return np.asarray(parse(value).draw(np.random.default_rng(seed), n))


# (spec as written in a file, the mean a user expects, the standard deviation of one draw)
KINDS: dict[str, tuple[dict[str, Any], float, float]] = {
    "constant": ({"dist": "constant", "value": "2min"}, 120.0, 0.0),
    "exponential": ({"dist": "exponential", "mean": "75s"}, 75.0, 75.0),
    "normal": ({"dist": "normal", "mean": 60, "sd": 5}, 60.0, 5.0),
    "lognormal": ({"dist": "lognormal", "mean": "1min", "sd": 30}, 60.0, 30.0),
    "uniform": ({"dist": "uniform", "low": 10, "high": 50}, 30.0, 40 / math.sqrt(12)),
    "triangular": (
        {"dist": "triangular", "low": "40s", "mode": "55s", "high": "80s"},
        (40 + 55 + 80) / 3,
        math.sqrt((40**2 + 55**2 + 80**2 - 40 * 55 - 40 * 80 - 55 * 80) / 18),
    ),
    "gamma": ({"dist": "gamma", "mean": 100, "cv": 0.5}, 100.0, 50.0),
    "erlang": ({"dist": "erlang", "k": 4, "mean": "2min"}, 120.0, 60.0),
    "weibull": (
        {"dist": "weibull", "shape": 2.0, "scale": "1h"},
        3600 * math.gamma(1.5),
        3600 * math.sqrt(math.gamma(2.0) - math.gamma(1.5) ** 2),
    ),
    "empirical": (
        {"dist": "empirical", "values": [10, "1min", 120], "weights": [1, 2, 1]},
        (10 + 2 * 60 + 120) / 4,
        math.sqrt((10**2 + 2 * 60**2 + 120**2) / 4 - ((10 + 2 * 60 + 120) / 4) ** 2),
    ),
}


def test_every_kind_is_covered() -> None:
    """Each distribution name the format accepts has a test case here."""
    assert set(KINDS) == set(DIST_NAMES)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_kind_validates_with_its_tag(kind: str) -> None:
    """A mapping with a ``dist`` tag becomes that kind of distribution."""
    spec, _, _ = KINDS[kind]
    assert parse(spec).dist == kind


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_expected_is_the_documented_mean(kind: str) -> None:
    """A distribution's expected value (the ideal cycle time) is its documented mean."""
    spec, mean, _ = KINDS[kind]
    assert parse(spec).expected == pytest.approx(mean, rel=1e-9)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_samples_are_non_negative_with_the_right_mean(kind: str) -> None:
    """Draws are never negative and average to the mean (within 5 standard errors)."""
    spec, mean, sd = KINDS[kind]
    values = draw(spec)
    assert values.shape == (N,)
    assert values.min() >= 0
    assert abs(values.mean() - mean) <= 5 * sd / math.sqrt(N) + 1e-9
    if sd > 0:
        assert values.std() == pytest.approx(sd, rel=0.02)


def test_normal_truncated_at_zero_keeps_its_mean_right() -> None:
    """A normal whose tail crosses zero redraws negatives; its mean is the truncated one."""
    dist = parse({"dist": "normal", "mean": 10, "sd": 10})
    values = draw({"dist": "normal", "mean": 10, "sd": 10})
    assert values.min() >= 0
    assert dist.expected > 10  # cutting off the negative tail raises the mean
    assert values.mean() == pytest.approx(dist.expected, abs=5 * 10 / math.sqrt(N))


def test_samples_are_reproducible() -> None:
    """The same generator seed gives the same draws."""
    spec = KINDS["triangular"][0]
    assert np.array_equal(draw(spec, 100, seed=3), draw(spec, 100, seed=3))
    assert not np.array_equal(draw(spec, 100, seed=3), draw(spec, 100, seed=4))


@pytest.mark.parametrize(
    ("short", "value"), [(5, 5.0), (2.5, 2.5), ("5min", 300.0), ("90s", 90.0), ("1h", 3600.0)]
)
def test_short_forms_mean_constant(short: object, value: float) -> None:
    """A bare number or duration string is a constant of that many seconds."""
    dist = parse(short)
    assert isinstance(dist, Constant)
    assert dist.value == value
    assert dist.expected == value
    assert set(draw(short, 10).tolist()) == {value}


def test_durations_with_units_inside_parameters() -> None:
    """Parameters of a distribution accept duration strings, converted to seconds."""
    dist = parse({"dist": "exponential", "mean": "2h"})
    assert dist.mean == 7200.0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"dist": "exponential", "mean": -5}, "negative"),
        ({"dist": "exponential", "mean": "-5min"}, "negative"),
        ({"dist": "exponential", "mean": 0}, "greater than 0"),
        ({"dist": "normal", "mean": -1, "sd": 1}, "negative"),
        ({"dist": "gamma", "mean": 10, "cv": -1}, "greater than or equal"),
        ({"dist": "erlang", "k": 0, "mean": 10}, "greater than or equal"),
        ({"dist": "weibull", "shape": 0, "scale": 10}, "greater than or equal"),
        ({"dist": "triangular", "low": 5, "mode": 3, "high": 8}, "low <= mode <= high"),
        ({"dist": "triangular", "low": 1, "mode": 9, "high": 8}, "low <= mode <= high"),
        ({"dist": "triangular", "low": 4, "mode": 4, "high": 4}, "low < high"),
        ({"dist": "uniform", "low": 9, "high": 3}, "low <= high"),
        ({"dist": "empirical", "values": [1, 2, 3], "weights": [1, 1]}, "3 values but 2 weights"),
        ({"dist": "empirical", "values": [1, 2], "weights": [0, 0]}, "all be zero"),
        ({"dist": "empirical", "values": [1, 2], "weights": [1, -1]}, "greater than or equal"),
        ({"dist": "empirical", "values": []}, "at least 1"),
        ({"dist": "exponential"}, "mean"),
        ({"dist": "exponential", "mean": 5, "sd": 1}, "sd"),
        ({"dist": "gaussian", "mean": 5}, "unknown distribution 'gaussian'"),
        ({"mean": 5}, "needs a 'dist' field"),
        ("fast", "invalid duration"),
        ("-3s", "negative"),
        (True, "expected a distribution"),
    ],
)
def test_invalid_parameters_are_rejected(spec: object, message: str) -> None:
    """Invalid parameters are refused with a message that says what is wrong."""
    with pytest.raises(ValidationError) as info:
        parse(spec)
    assert message in str(info.value)
