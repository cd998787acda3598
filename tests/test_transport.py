"""Moving parts between stations: a tandem of M/M/1 queues with a move between them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from test_theory import assert_agrees, simulate

from scenarios.experiment import run_replication
from scenarios.schema import Scenario
from twin.errors import ScenarioError

TANDEM = """\
name: moved
seed: 12
horizon: 300000
warmup: 3000
replications: 8
arrivals: {interarrival: {dist: exponential, mean: 60s}}
transport:
  time: 2min
stations:
  - id: M1
    process_time: {dist: exponential, mean: 40s}
  - id: M2
    process_time: {dist: exponential, mean: 30s}
"""


def test_a_constant_move_adds_its_time_to_the_lead_time(
    scenario: Callable[[str], Scenario],
) -> None:
    """M/M/1, a move of d, M/M/1: mean lead time W1 + d + W2 = 1/(mu1 - lambda) + d +
    1/(mu2 - lambda) = 120 + 120 + 60 s; WIP by Little's law, the parts on the way included."""
    result = simulate(scenario(TANDEM))
    line = result["line"]
    assert_agrees(line["lead_time_s"]["mean"], 300.0, rel=0.05)
    assert_agrees(line["wip"], 5.0, rel=0.05)
    assert_agrees(line["throughput_per_hour"], 60.0, rel=0.02)


def test_a_move_of_its_own_overrides_the_default(scenario: Callable[[str], Scenario]) -> None:
    """A move M1 -> M2 of 5 min instead of 2: the lead time grows by 3 min."""
    text = TANDEM.replace(
        "  time: 2min\n", "  time: 2min\n  moves:\n    - {from: M1, to: M2, time: 5min}\n"
    )
    assert_agrees(simulate(scenario(text))["line"]["lead_time_s"]["mean"], 480.0, rel=0.05)
    kpis = run_replication(scenario(text), 0)
    parts = kpis["line"]["parts"]
    assert parts["created"] == parts["finished"] + parts["scrapped"] + parts["in_system"]


def test_a_move_between_stations_no_route_links_is_refused(
    scenario: Callable[[str], Scenario],
) -> None:
    text = TANDEM.replace(
        "  time: 2min\n", "  time: 2min\n  moves:\n    - {from: M2, to: M1, time: 5min}\n"
    )
    with pytest.raises(ScenarioError, match=r"transport\.moves\[0\].*no route moves from 'M2'"):
        scenario(text)
