"""Durations that would freeze the clock are refused before the run, not hung on."""

from __future__ import annotations

import pytest

from scenarios.loader import loads
from twin.errors import ScenarioError

CASES = {
    "process_time": ("stations:\n  - id: M\n    process_time: 0\n", "stations[M].process_time", 3),
    "per product": (
        "stations:\n  - id: M\n    process_time: {part: {dist: empirical, values: [0, 0]}}\n",
        "stations[M].process_time.part",
        3,
    ),
    "interarrival": (
        "arrivals: {interarrival: {dist: constant, value: 0s}}\n"
        "stations:\n  - id: M\n    process_time: 1\n",
        "arrivals.interarrival",
        1,
    ),
    "mtbf": (
        "stations:\n  - id: M\n    process_time: 1\n    failures: {mtbf: 0, mttr: 5}\n",
        "stations[M].failures.mtbf",
        4,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_zero_mean_durations_are_refused(case: str) -> None:
    """A zero-mean process time, interarrival or MTBF is an error naming field and line."""
    body, field, line = CASES[case]
    with pytest.raises(ScenarioError) as info:
        loads("name: frozen\n" + body, "frozen.yaml")
    text = str(info.value)
    assert f"frozen.yaml:{line + 1}: {field}: must have a positive mean" in text


def test_zero_repair_and_setup_are_allowed() -> None:
    """Zero repair or setup times stay valid: the clock still moves through processing."""
    scenario = loads(
        "name: instant\nstations:\n  - id: M\n    process_time: 1\n"
        "    failures: {mtbf: 100, mttr: 0}\n    setup: {time: 0}\n",
        "instant.yaml",
    )
    assert scenario.stations[0].failures is not None
