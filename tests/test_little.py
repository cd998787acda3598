"""Little's law on the results: time-average WIP = throughput x mean lead time.

It holds on every sample path, whatever the distributions, buffers, failures or product
mix, up to end effects (parts inside at the end of the warm-up or at the horizon), which
shrink as the horizon grows. So it is checked per replication, not only on average: a
mismatch means WIP, throughput and lead time are not measured on the same parts and the
same window.
"""

from __future__ import annotations

from typing import Any

import pytest

from scenarios.catalog import load_scenario
from scenarios.experiment import run
from scenarios.loader import loads
from scenarios.overrides import override
from scenarios.schema import Scenario

TOLERANCE = 0.01

SATURATED = """
name: saturated-finite-buffers
seed: 3
horizon: 20000
warmup: 500
replications: 4
stations:
  - id: Cut
    input_buffer: 0
    process_time: {dist: lognormal, mean: 1.0, sd: 0.5}
  - id: Mill
    servers: 2
    input_buffer: 2
    process_time: {dist: exponential, mean: 1.9}
  - id: Grind
    input_buffer: 1
    process_time: {dist: uniform, low: 0.6, high: 1.2}
"""

FAILURES = """
name: failures-and-setups
seed: 4
horizon: 5d
warmup: 2h
replications: 4
products:
  - {id: small, route: [Turn, Drill, Wash]}
  - {id: large, route: [Turn, Wash]}
arrivals:
  mix: {small: 0.6, large: 0.4}
  interarrival: {dist: exponential, mean: 75s}
stations:
  - id: Turn
    input_buffer: 3
    process_time: {small: {dist: normal, mean: 40s, sd: 8s}, large: 50s}
    setup: {time: {dist: uniform, low: 5s, high: 15s}}
    failures:
      mtbf: {dist: exponential, mean: 2h}
      mttr: {dist: exponential, mean: 10min}
  - id: Drill
    input_buffer: 2
    process_time: {dist: exponential, mean: 60s}
    failures:
      mtbf: {dist: exponential, mean: 1h}
      mttr: {dist: lognormal, mean: 5min, sd: 3min}
      basis: calendar
  - id: Wash
    servers: 2
    input_buffer: 0
    process_time: {dist: exponential, mean: 80s}
"""

GATED = """
name: gated-entry
seed: 9
horizon: 30000
warmup: 1000
replications: 4
arrivals:
  interarrival: {dist: exponential, mean: 1.5}
stations:
  - id: M1
    input_buffer: 1
    process_time: {dist: exponential, mean: 1.0}
  - id: M2
    input_buffer: 0
    process_time: {dist: constant, value: 0.9}
"""


def _text(text: str) -> Scenario:
    return loads(text, "little.yaml")


LINES = [
    pytest.param(
        lambda: override(load_scenario("mm1"), {"horizon": 3e4, "replications": 4}), id="mm1"
    ),
    pytest.param(
        lambda: override(load_scenario("tandem"), {"horizon": 3e4, "replications": 4}), id="tandem"
    ),
    pytest.param(
        lambda: override(load_scenario("two-station"), {"horizon": 2e4, "replications": 4}),
        id="two-station",
    ),
    pytest.param(lambda: _text(SATURATED), id="saturated-finite-buffers"),
    pytest.param(
        lambda: override(load_scenario("unreliable"), {"horizon": 5 * 86400.0}), id="unreliable"
    ),
    pytest.param(lambda: _text(FAILURES), id="failures-setups-mix"),
    pytest.param(lambda: _text(GATED), id="arrivals-wait-at-full-entry"),
]


def _little(rep: dict[str, Any]) -> tuple[float, float]:
    line = rep["line"]
    return line["wip"], line["throughput_per_hour"] / 3600.0 * line["lead_time_s"]["mean"]


@pytest.mark.parametrize("make", LINES)
def test_littles_law_holds_in_every_replication(make: Any) -> None:
    """WIP = throughput x lead time within 1%, in each replication and on average."""
    result = run(make())
    for i, rep in enumerate(result.replications):
        wip, product = _little(rep)
        assert abs(wip - product) <= TOLERANCE * wip, (
            f"replication {i}: WIP {wip:.5g} but throughput x lead time {product:.5g}"
        )
        parts = rep["line"]["parts"]
        assert parts["created"] == parts["finished"] + parts["in_system"]
        assert parts["scrapped"] == 0
    doc = result.summary()["line"]
    mean_product = doc["throughput_per_hour"]["mean"] / 3600.0 * doc["lead_time_s"]["mean"]["mean"]
    assert doc["wip"]["mean"] == pytest.approx(mean_product, rel=TOLERANCE)
