"""Same seed, same results to the bit; however the replications are spread over processes."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from scenarios.experiment import run, run_replication
from scenarios.overrides import override
from scenarios.schema import Scenario

# Every source of randomness: arrivals, a product mix, process times, setups, failures of
# both bases, scrap.
LINE = """\
name: determinism
seed: 42
horizon: 3h
warmup: 10min
replications: 4
products:
  - id: A
    route: [M1, M2, M3]
  - id: B
    route: [M1, M3]
arrivals:
  mix: {A: 0.7, B: 0.3}
  interarrival: {dist: exponential, mean: 50s}
stations:
  - id: M1
    servers: 2
    process_time: {dist: triangular, low: 40s, mode: 70s, high: 110s}
    setup: {time: {dist: uniform, low: 20s, high: 60s}}
    failures:
      mtbf: {dist: exponential, mean: 40min}
      mttr: {dist: lognormal, mean: 5min, sd: 2min}
  - id: M2
    input_buffer: 2
    process_time: {dist: gamma, mean: 35s, cv: 0.8}
    scrap_rate: 0.05
    failures:
      mtbf: {dist: weibull, shape: 1.5, scale: 1h}
      mttr: 3min
      basis: calendar
  - id: M3
    input_buffer: 0
    process_time:
      A: {dist: erlang, k: 3, mean: 30s}
      B: {dist: empirical, values: [20s, 40s], weights: [3, 1]}
    scrap_rate: 0.02
"""


@pytest.fixture
def line(scenario: Callable[[str], Scenario]) -> Scenario:
    return scenario(LINE)


def test_same_seed_gives_identical_json(line: Scenario) -> None:
    """Two runs with the same seed write byte-identical results."""
    first = run(line).to_json()
    second = run(line).to_json()
    assert first == second
    doc = json.loads(first)
    assert doc["replications"] == 4
    assert doc["line"]["parts"]["created"]["mean"] > 0


def test_replications_differ_from_each_other(line: Scenario) -> None:
    """Replications of one run use different random numbers."""
    values = json.loads(run(line).to_json())["line"]["throughput_per_hour"]["values"]
    assert len(set(values)) == len(values)


def test_another_seed_gives_other_values(line: Scenario) -> None:
    """Changing the seed changes the results."""
    base = json.loads(run(line).to_json())
    other = json.loads(run(override(line, {"seed": 43})).to_json())
    assert other["seed"] == 43
    for path in (("throughput_per_hour",), ("wip",), ("lead_time_s", "mean")):
        a, b = base["line"], other["line"]
        for key in path:
            a, b = a[key], b[key]
        assert a["values"] != b["values"]


def test_serial_and_parallel_runs_are_identical(line: Scenario) -> None:
    """One process or two: the results JSON is the same, byte for byte."""
    assert run(line, workers=1).to_json() == run(line, workers=2).to_json()


def test_a_replication_does_not_depend_on_the_others(line: Scenario) -> None:
    """Replication 2 alone gives what it gives inside a full run (so runs can resume)."""
    alone = run_replication(line, 2)
    values = json.loads(run(line).to_json())["line"]["throughput_per_hour"]["values"]
    assert alone["line"]["throughput_per_hour"] == values[2]
