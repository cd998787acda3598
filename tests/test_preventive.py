"""Preventive maintenance by age (age replacement) against renewal theory."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from scipy import integrate
from test_theory import assert_agrees, simulate

from scenarios.experiment import run_replication
from scenarios.schema import Scenario

SHAPE, SCALE = 2.5, 6 * 3600.0  # Weibull failures: wear-out, mean about 5.3 h
REPAIR, SERVICE = 2 * 3600.0, 20 * 60.0  # a breakdown costs 2 h, a maintenance 20 min
PART = 60.0  # mean process time (exponential): the machine stops after its current part


def line(basis: str, every: str | None) -> str:
    maintenance = f"    maintenance: {{every: {every}, basis: {basis}, duration: 20min}}\n"
    return f"""\
name: age replacement
seed: 3
horizon: 1500h
warmup: 20h
replications: 5
stations:
  - id: M
    input_buffer: 1
    process_time: {{dist: exponential, mean: {PART:g}s}}
    failures: {{mtbf: {{dist: weibull, shape: {SHAPE}, scale: 6h}}, mttr: 2h, basis: {basis}}}
{maintenance if every else ""}"""


def survival(t: float) -> float:
    return math.exp(-((t / SCALE) ** SHAPE))


def renewal(age: float) -> tuple[float, float, float]:
    """Per renewal cycle of age replacement at ``age``: expected up time, down time, and the
    probability that a failure ends it. The machine stops for maintenance only when the
    part in hand is done, a residual Y ~ Exp(PART) after ``age`` (memoryless), so the
    cycle ends at min(X, age + Y) for a time to failure X."""
    inside, _ = integrate.quad(survival, 0.0, age)
    # E[integral of R from age to age + Y] = integral of R(t) P(Y > t - age) dt
    beyond, _ = integrate.quad(lambda t: survival(t) * math.exp(-(t - age) / PART), age, math.inf)
    # P(no failure before age + Y) = E[R(age + Y)]
    kept, _ = integrate.quad(
        lambda y: survival(age + y) * math.exp(-y / PART) / PART, 0.0, math.inf
    )
    failed = 1.0 - kept
    return inside + beyond, REPAIR * failed + SERVICE * kept, failed


@pytest.mark.parametrize("basis", ["operating", "calendar"])
def test_age_replacement_matches_renewal_theory(
    scenario: Callable[[str], Scenario], basis: str
) -> None:
    """A saturated machine replaced at age 3 h: it works a share U / (U + D) of the time,
    U = the integral of the survival function up to 3 h, D = R F(3h) + M (1 - F(3h)); its
    ISO availability counts only the repairs: U / (U + R F(3h))."""
    up, down, failed = renewal(3 * 3600.0)
    result = simulate(scenario(line(basis, "3h")))["stations"]["M"]
    assert_agrees(result["states"]["busy"], up / (up + down), rel=0.02)
    assert_agrees(result["availability"], up / (up + REPAIR * failed), rel=0.02)
    assert_agrees(result["states"]["maintenance"], SERVICE * (1 - failed) / (up + down), 0.06)


def test_age_replacement_pays_where_theory_says(scenario: Callable[[str], Scenario]) -> None:
    """Against repair only (busy share MTTF / (MTTF + R)), replacing at 3 h gains what the
    renewal formula says, in the simulation as in theory."""
    mttf = SCALE * math.gamma(1 + 1 / SHAPE)
    alone = simulate(scenario(line("operating", None)))["stations"]["M"]["states"]["busy"]
    assert_agrees(alone, mttf / (mttf + REPAIR), rel=0.02)
    up, down, _ = renewal(3 * 3600.0)
    assert up / (up + down) > mttf / (mttf + REPAIR) + 0.05  # worth it, by theory


def test_a_failure_renews_the_age_and_parts_are_conserved(
    scenario: Callable[[str], Scenario],
) -> None:
    """With replacement at 3 h there are maintenances and far fewer failures than without;
    parts are conserved."""
    with_pm = run_replication(scenario(line("operating", "3h")), 0)
    without = run_replication(scenario(line("operating", None)), 0)
    m = with_pm["stations"]["M"]
    assert m["maintenances"] > 0 and m["failures"] < 0.5 * without["stations"]["M"]["failures"]
    parts = with_pm["line"]["parts"]
    assert parts["created"] == parts["finished"] + parts["scrapped"] + parts["in_system"]
