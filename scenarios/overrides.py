"""Command-line overrides of scenario fields, validated like the file itself."""

from __future__ import annotations

from typing import Any

from scenarios.schema import Scenario
from scenarios.validation import validate

FLAGS = {"replications": "--reps", "seed": "--seed", "horizon": "--horizon", "warmup": "--warmup"}


def override(scenario: Scenario, changes: dict[str, Any]) -> Scenario:
    """``scenario`` with the given top-level fields replaced (``None`` leaves one as it is)."""
    given = {k: v for k, v in changes.items() if v is not None}
    if not given:
        return scenario
    data = scenario.model_dump(mode="json")
    data.update(given)
    flags = " ".join(FLAGS.get(k, k) for k in given)
    return validate(data, f"{scenario.name} with {flags}")
