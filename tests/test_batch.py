"""Batch machines: a saturated one against N / T, the start rule (size, min, max_wait) part
by part, failures as one machine; Little's law and conservation."""

from __future__ import annotations

from collections.abc import Callable

import simpy
from test_theory import assert_flows, simulate

from scenarios.builder import build
from scenarios.experiment import run_replication
from scenarios.schema import Scenario
from twin.changes import Change, Changes

FURNACE = """\
name: furnace
seed: 1
horizon: 30d
warmup: 1d
replications: 3
stations:
  - id: HT
    servers: 2
    input_buffer: 0
    batch: {size: 60}
    process_time: 3h
"""


def test_a_saturated_batch_machine_makes_n_over_t(scenario: Callable[[str], Scenario]) -> None:
    """Two furnaces of 60 parts, 3 h a load, never short of parts: 2 x 60 / 3 h = 40 parts/h,
    busy all the time, as effective as the ideal cycle says."""
    result = simulate(scenario(FURNACE))
    assert result["line"]["throughput_per_hour"]["mean"] == 40.0
    ht = result["stations"]["HT"]
    assert ht["states"]["busy"]["mean"] == 1.0
    assert abs(ht["effectiveness"]["mean"] - 1.0) < 1e-9


def batch_sizes(model: Scenario) -> list[int]:
    """How many parts each batch of station B started with, from the change stream: the
    parts the machine took (``start``) before it became busy."""
    env = simpy.Environment()
    changes = Changes()
    seen: list[Change] = []
    changes.subscribe(lambda c: seen.append(c) if c.scope == "B.0" else None)
    build(env, model, 0, changes)
    env.run(until=model.horizon)
    sizes, taken = [], 0
    for c in seen:
        if c.kind == "start":
            taken += 1
        elif c.kind == "state" and c.value == "busy":
            sizes.append(taken)
            taken = 0
    return sizes


TIMED = """\
name: timed batches
seed: 1
horizon: 20h
arrivals: {{interarrival: 10min}}
stations:
  - id: B
    batch: {{size: 8{rule}}}
    process_time: 4min
"""


def test_a_batch_starts_full_or_with_min_once_the_first_has_waited(
    scenario: Callable[[str], Scenario],
) -> None:
    """Parts every 10 min, up to 8 a batch: with min 1 and max_wait 25 min a batch starts
    25 min after its first part, with 3 parts; with min 4 it waits for the fourth (30 min);
    with no min it waits for 8."""
    loose = batch_sizes(scenario(TIMED.format(rule=", min: 1, max_wait: 25min")))
    assert loose and set(loose[:-1]) == {3}
    least = batch_sizes(scenario(TIMED.format(rule=", min: 4, max_wait: 25min")))
    assert least and set(least[:-1]) == {4}
    full = batch_sizes(scenario(TIMED.format(rule="")))
    assert full and set(full) == {8}


POISSON = """\
name: furnace with arrivals
seed: 6
horizon: 400h
warmup: 10h
replications: 6
arrivals: {interarrival: {dist: exponential, mean: 3min}}
stations:
  - id: PREP
    process_time: {dist: exponential, mean: 2min}
  - id: HT
    input_buffer: 100
    batch: {size: 20, min: 5, max_wait: 30min}
    process_time: {dist: exponential, mean: 40min}
    failures: {mtbf: {dist: exponential, mean: 20h}, mttr: 1h}
"""


PAIRS = """\
name: pairs
seed: 1
horizon: 20h
arrivals: {interarrival: 10min}
stations:
  - id: B
    batch: {size: 2}
    process_time: 15min
"""


def test_a_batch_machine_gathering_its_parts_is_starved(
    scenario: Callable[[str], Scenario],
) -> None:
    """Parts every 10 min, batches of 2 taking 15 min: a batch starts every 20 min, so the
    machine is busy 15 min in 20 and starved the rest, also while a part that came during
    the last batch waits for the next one (59 batches of 15 min in the 20 h)."""
    states = run_replication(scenario(PAIRS), 0)["stations"]["B"]["states"]
    assert abs(states["busy"] - 59 * 15 / 1200) < 1e-9
    assert abs(states["starved"] - (1 - 59 * 15 / 1200)) < 1e-9


def test_a_failing_batch_line_keeps_littles_law_and_its_parts(
    scenario: Callable[[str], Scenario],
) -> None:
    """A furnace that fails as one machine, partial batches after 30 min: every part
    accounted for; WIP = throughput x lead time (Little's law); all that enters leaves."""
    kpis = assert_flows(scenario(POISSON), 20.0, little=0.05)
    assert kpis["stations"]["HT"]["failures"] > 5
