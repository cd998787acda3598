"""Every scenario shipped with the package loads, validates and runs."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from scenarios.catalog import bundled, describe, load_scenario, resolve
from scenarios.experiment import run
from scenarios.overrides import override
from twin.cli import app

NAMES = sorted(bundled())
SHORT = 7200.0


def test_catalog_is_not_empty() -> None:
    """The package ships scenarios, the demo among them."""
    assert "demo" in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_bundled_scenario_runs(name: str) -> None:
    """A bundled scenario runs two short replications to completion with figures for each."""
    model = load_scenario(name)
    short = override(model, {"horizon": min(model.horizon, SHORT), "warmup": 0, "replications": 2})
    result = run(short, workers=1)
    assert result.complete, result.outcome.errors
    doc = json.loads(result.to_json())
    assert doc["replications"] == 2
    assert doc["line"]["throughput_per_hour"]["mean"] > 0
    assert set(doc["stations"]) == {s.id for s in model.stations}
    for figures in doc["stations"].values():
        for i in range(2):
            total = sum(v["values"][i] for v in figures["states"].values())
            assert math.isclose(total, 1.0, abs_tol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_bundled_scenario_is_described(name: str) -> None:
    """Each bundled scenario has a description line for `twin scenarios`."""
    assert describe(resolve(name))
    assert load_scenario(name).replications >= 2


@pytest.mark.parametrize("name", NAMES)
def test_bundled_scenario_validates_by_name(name: str) -> None:
    """`twin validate NAME` accepts every bundled scenario."""
    result = CliRunner().invoke(app, ["validate", name])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: ")
