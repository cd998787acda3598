"""The bundled demo's "1+N" catalog: it applies, and `twin compare demo` ranks and attributes."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from scenarios.catalog import load_scenario
from scenarios.retrofits import BASELINE, Plan, apply, check_catalog, default_plans, parse_plan
from twin.cli import app

DEMO = load_scenario("demo")


def test_demo_catalog_applies_cleanly() -> None:
    """Each retrofit of the demo, on top of what it requires, gives a valid, different line."""
    check_catalog(DEMO)
    for retrofit in DEMO.retrofits:
        before = apply(DEMO, Plan(tuple(retrofit.requires))) if retrofit.requires else DEMO
        after = apply(DEMO, parse_plan(DEMO, "+".join([*retrofit.requires, retrofit.id])))
        assert after.stations != before.stations, retrofit.id


def test_demo_is_a_priced_capacity_bound_line() -> None:
    """The demo prices parts, has one core, and is saturated, so capacity shows in money."""
    economics = DEMO.economics
    assert economics.margin_per_good_part > 0 and economics.scrap_cost_per_part > 0
    assert economics.discount_rate == 0.08
    assert [r.id for r in DEMO.retrofits if r.core] == ["platform"]
    assert DEMO.arrivals is None or DEMO.arrivals.interarrival is None
    assert all(r.capex > 0 for r in DEMO.retrofits)
    plans = default_plans(DEMO)
    assert BASELINE not in plans
    with_core = [p for p in plans if p.retrofits[0] == "platform"]
    assert len(with_core) == 2 ** (len(DEMO.retrofits) - 1)
    # smed and buffers need no platform: they are also compared without it
    assert sorted(p.name for p in plans if p not in with_core) == [
        "buffers",
        "smed",
        "smed+buffers",
    ]


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`twin compare demo` on short replications: 5 h of warm-up, then 5 h counted."""
    out: Path = tmp_path_factory.mktemp("demo-compare")
    args = ["--horizon", "10h", "--reps", "3", "--workers", "1", "--out", str(out)]
    result = CliRunner().invoke(app, ["compare", "demo", *args])
    assert result.exit_code == 0, result.output
    assert "Shapley" in result.stdout
    doc: dict[str, Any] = json.loads((out / "comparison.json").read_text())
    return doc


def test_demo_compare_ranks_every_plan_by_npv(comparison: dict[str, Any]) -> None:
    """All default plans are ranked, best NPV first."""
    assert comparison["ranked_by"] == "npv"
    assert sorted(comparison["ranking"]) == sorted(p.name for p in default_plans(DEMO))
    npv = [comparison["plans"][n]["economics"]["npv"]["mean"] for n in comparison["ranking"]]
    assert npv == sorted(npv, reverse=True)
    assert comparison["best"] == comparison["ranking"][0]


def test_demo_contributions_add_up_to_the_best_gain(comparison: dict[str, Any]) -> None:
    """The Shapley shares of the best plan sum to its throughput gain and gross benefit."""
    best = comparison["plans"][comparison["best"]]
    shares = comparison["contributions"]
    assert set(shares) == set(best["retrofits"])
    gain = best["differences"]["throughput_per_hour"]["mean"]
    assert math.isclose(sum(s["throughput_per_hour"] for s in shares.values()), gain, abs_tol=1e-9)
    money = best["economics"]
    gross = money["annual_net_benefit"]["mean"] + money["opex_per_year"]
    assert math.isclose(
        sum(s["gross_benefit_per_year"] for s in shares.values()), gross, rel_tol=1e-9
    )


def test_demo_values_every_plan_over_its_longest_life(comparison: dict[str, Any]) -> None:
    """The 6-year retrofits are bought again in the 8-year plans; smed alone pays back fast."""
    full = comparison["plans"]["platform+predictive+vision+smed+buffers"]["economics"]
    assert full["horizon_years"] == 10  # the buffers' racks
    assert full["retrofits"]["predictive"]["purchases"] == 2
    assert full["retrofits"]["predictive"]["last_purchase_at_years"] == 6
    assert full["retrofits"]["platform"]["residual_share"] == pytest.approx(6 / 8)
    smed = comparison["plans"]["smed"]["economics"]
    assert smed["horizon_years"] == 8 and smed["payback_beyond_lifetime"] is False
    assert smed["payback_years"]["mean"] < 1
    assert {row["factor"] for row in comparison["tornado"]} >= {
        "margin per good part",
        "discount rate",
        *(f"effect of {rid}" for rid in comparison["contributions"]),
    }


def test_demo_capacity_retrofit_raises_good_parts(comparison: dict[str, Any]) -> None:
    """Halving the changeovers adds good rings per hour, in every paired replication."""
    smed = comparison["plans"]["platform+smed"]["differences"]["throughput_per_hour"]
    alone = comparison["plans"]["platform"]["differences"]["throughput_per_hour"]
    assert all(v > 0 for v in smed["values"])
    assert smed["mean"] > alone["mean"]
