"""Rework loops against Jackson networks with Bernoulli feedback; Little's law and part
conservation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from test_theory import assert_agrees, simulate

from scenarios.experiment import run_replication
from scenarios.schema import Scenario
from twin.errors import ScenarioError

FEEDBACK = """\
name: feedback
seed: 9
horizon: 300000
warmup: 3000
replications: 8
arrivals: {interarrival: {dist: exponential, mean: 60s}}
stations:
  - id: M
    process_time: {dist: exponential, mean: 30s}
    rework: {rate: 0.3, to: M}
"""


def test_mm1_with_bernoulli_feedback_is_jackson(scenario: Callable[[str], Scenario]) -> None:
    """Arrivals 1/60 s, service 1/30 s, a share r = 0.3 of passes fed back: the station sees
    lambda / (1 - r), rho = 5/7, L = rho / (1 - rho) = 2.5 parts, W = L / lambda = 150 s;
    the rework ratio is r, the first-pass yield (1 - r)^2 of the passes."""
    result = simulate(scenario(FEEDBACK))
    line, m = result["line"], result["stations"]["M"]
    assert_agrees(line["throughput_per_hour"], 60.0, rel=0.02)
    assert_agrees(line["wip"], 2.5, rel=0.06)
    assert_agrees(line["lead_time_s"]["mean"], 150.0, rel=0.06)
    assert_agrees(m["rework_ratio"], 0.3, rel=0.03)
    assert_agrees(m["first_pass_yield"], 0.49, rel=0.03)
    assert_agrees(m["states"]["busy"], 5 / 7, rel=0.02)


def test_a_part_reworked_max_times_is_scrapped(scenario: Callable[[str], Scenario]) -> None:
    """With at most 2 reworks, a part is scrapped when its third pass is bad: r^3 of them."""
    model = scenario(FEEDBACK.replace("to: M}", "to: M, max: 2}"))
    result = simulate(model)
    assert_agrees(result["line"]["scrap_rate"], 0.3**3, rel=0.12)
    parts = run_replication(model, 0)["line"]["parts"]
    assert parts["created"] == parts["finished"] + parts["scrapped"] + parts["in_system"]


TANDEM = """\
name: loop
seed: 4
horizon: 300000
warmup: 3000
replications: 8
arrivals: {interarrival: {dist: exponential, mean: 60s}}
stations:
  - id: M1
    process_time: {dist: exponential, mean: 25s}
  - id: M2
    process_time: {dist: exponential, mean: 35s}
    rework: {rate: 0.2, to: M1}
"""


def test_rework_to_an_earlier_station_is_a_jackson_network(
    scenario: Callable[[str], Scenario],
) -> None:
    """M1 -> M2, a share 0.2 of M2's passes back to M1: both see lambda / 0.8 = 1/48 s,
    rho1 = 25/48, rho2 = 35/48; WIP = sum rho / (1 - rho); Little's law gives the lead time."""
    result = simulate(scenario(TANDEM))
    rho1, rho2 = 25 / 48, 35 / 48
    wip = rho1 / (1 - rho1) + rho2 / (1 - rho2)
    assert_agrees(result["line"]["wip"], wip, rel=0.06)
    assert_agrees(result["line"]["lead_time_s"]["mean"], wip * 60.0, rel=0.06)
    assert_agrees(result["stations"]["M1"]["states"]["busy"], rho1, rel=0.02)


def test_rework_must_go_back_along_the_route(scenario: Callable[[str], Scenario]) -> None:
    """A rework station that is not on the route before: refused, naming the field."""
    bad = TANDEM.replace("    rework: {rate: 0.2, to: M1}\n", "").replace(
        "mean: 25s}\n", "mean: 25s}\n    rework: {rate: 0.2, to: M2}\n"
    )
    with pytest.raises(ScenarioError, match=r"stations\[M1\]\.rework\.to.*does not visit before"):
        scenario(bad)
