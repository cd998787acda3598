"""Operators: pools that machines wait for, to run a part, to load it or to set up. Held to
a shared operator's rate, exact deterministic cycles, Little's law and conservation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from test_theory import assert_agrees, assert_flows, simulate

from scenarios.schema import Scenario
from twin.errors import ScenarioError

SHARED = """\
name: one operator, two machines
seed: 8
horizon: 200h
warmup: 2h
replications: 8
operators:
  - {id: crew, count: 1}
stations:
  - id: M
    servers: 2
    input_buffer: 0
    process_time: {dist: exponential, mean: 60s}
    operator: crew
"""


def test_two_machines_sharing_one_operator_run_at_one_machines_rate(
    scenario: Callable[[str], Scenario],
) -> None:
    """An operator for the whole process time, one for two machines: 60 parts/h, not 120;
    the operator always at work, each machine half its time waiting for the operator."""
    result = simulate(scenario(SHARED))
    assert_agrees(result["line"]["throughput_per_hour"], 60.0, rel=0.02)
    assert result["line"]["operators"]["crew"]["mean"] == pytest.approx(1.0, abs=1e-9)
    m = result["stations"]["M"]
    assert_agrees(m["states"]["operator"], 0.5, rel=0.01)
    # Waiting for an operator is a delay: it lowers availability (APT / PBT), to one half.
    assert_agrees(m["availability"], 0.5, rel=0.01)


def test_two_operators_for_two_machines_leave_them_at_full_rate(
    scenario: Callable[[str], Scenario],
) -> None:
    """With as many operators as machines nobody waits: 120 parts/h."""
    result = simulate(scenario(SHARED.replace("count: 1", "count: 2")))
    assert_agrees(result["line"]["throughput_per_hour"], 120.0, rel=0.02)
    assert result["stations"]["M"]["states"]["operator"]["mean"] == 0.0


LOADING = """\
name: loading
seed: 1
horizon: 10h
warmup: 1h
replications: 1
operators:
  - {id: loader, count: 1}
stations:
  - id: M
    servers: 2
    input_buffer: 0
    process_time: 60s
    operator: {pool: loader, load: LOAD}
"""


@pytest.mark.parametrize(("load", "rate", "busy"), [("20s", 120.0, 2 / 3), ("40s", 90.0, 1.0)])
def test_an_operator_who_only_loads_limits_the_rate_to_one_part_per_load(
    scenario: Callable[[str], Scenario], load: str, rate: float, busy: float
) -> None:
    """Two machines of 60 s, one loader for the first L seconds of each part: the line makes
    min(2 / 60 s, 1 / L) parts, exactly (constant times): 120/h with L = 20 s (the loader at
    work 2/3 of the time), 90/h with L = 40 s (the loader always at work)."""
    result = simulate(scenario(LOADING.replace("LOAD", load)))
    assert result["line"]["throughput_per_hour"]["mean"] == pytest.approx(rate, rel=1e-3)
    assert result["line"]["operators"]["loader"]["mean"] == pytest.approx(busy, rel=1e-3)


SETTER = """\
name: set up before every part
seed: 1
horizon: 10h
warmup: 1h
replications: 1
operators:
  - {id: setter, count: 1}
stations:
  - id: M
    servers: 2
    input_buffer: 0
    process_time: 30s
    setup: {time: 40s, when: always, operator: setter}
"""


def test_a_setup_waits_for_the_setter(scenario: Callable[[str], Scenario]) -> None:
    """A setup of 40 s before each part of 30 s, two machines, one setter: the setter is the
    constraint at 90 parts/h (the machines alone could make 2 / 70 s = 103/h); the time
    machines wait for the setter shows as waiting for an operator, not as setup."""
    result = simulate(scenario(SETTER))
    assert result["line"]["throughput_per_hour"]["mean"] == pytest.approx(90.0, rel=1e-3)
    assert result["line"]["operators"]["setter"]["mean"] == pytest.approx(1.0, rel=1e-6)
    states = result["stations"]["M"]["states"]
    # Per machine and part: 40 s setup, 30 s busy, 10 s waiting (a cycle of 80 s).
    assert states["setup"]["mean"] == pytest.approx(0.5, rel=1e-3)
    assert states["busy"]["mean"] == pytest.approx(0.375, rel=1e-3)
    assert states["operator"]["mean"] == pytest.approx(0.125, rel=1e-3)


LITTLE = """\
name: operators and arrivals
seed: 3
horizon: 400h
warmup: 10h
replications: 5
arrivals: {interarrival: {dist: exponential, mean: 50s}}
operators:
  - {id: crew, count: 2}
stations:
  - id: A
    servers: 2
    process_time: {dist: exponential, mean: 70s}
    operator: {pool: crew, load: 15s}
    failures: {mtbf: 5h, mttr: 10min}
  - id: B
    process_time: {dist: exponential, mean: 40s}
    operator: crew
    setup: {time: 2min, operator: crew}
"""


def test_a_line_with_operators_keeps_littles_law_and_its_parts(
    scenario: Callable[[str], Scenario],
) -> None:
    """All that enters leaves (72 parts/h); WIP = throughput x lead time; every part is
    accounted for; state shares add up to 1."""
    kpis = assert_flows(scenario(LITTLE), 72.0)
    assert 0.0 < kpis["line"]["operators"]["crew"] < 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("operator: crew", "operator: crews"), r"stations\[M\]\.operator: .*unknown pool 'crews'"),
        (
            ("operator: crew", "operator: {pool: nobody, load: 5s}"),
            r"stations\[M\]\.operator\.pool.*pools are: crew",
        ),
        (("{id: crew, count: 1}", "{id: crew, count: 0}"), r"operators\[(0|crew)\]\.count"),
    ],
)
def test_an_unknown_pool_is_refused_naming_the_field(
    scenario: Callable[[str], Scenario], change: tuple[str, str], message: str
) -> None:
    with pytest.raises(ScenarioError, match=message):
        scenario(SHARED.replace(*change))
