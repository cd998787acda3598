"""Money over one horizon: reinvestment, residual value, NPV by hand, payback flag, tornado."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lines import priced_pair
from typer.testing import CliRunner

from scenarios.compare import Comparison
from scenarios.economics import Costs, annuity, economics, tornado
from scenarios.loader import loads
from scenarios.retrofits import BASELINE, Plan
from scenarios.schema import Retrofit, Scenario
from twin.cli import app
from twin.errors import ScenarioError

LINE = """\
name: money line
stations:
  - id: M1
    process_time: 60s
"""

# Three retrofits of 8, 8 and 10 years; with a margin of 10 per part and 1000 h a year,
# one more good part an hour is worth 10000 a year.
CATALOG = """\
economics:
  margin_per_good_part: 10
  scrap_cost_per_part: 4
  operating_hours_per_year: 1000
  discount_rate: 0.08
retrofits:
  - id: a
    capex: 50000
    opex_per_year: 1000
    lifetime_years: 8
    subsidy_rate: 0.2
    changes: {stations.M1.input_buffer: 1}
  - id: b
    capex: 30000
    lifetime_years: 8
    changes: {stations.M1.input_buffer: 2}
  - id: c
    capex: 100000
    opex_per_year: 2000
    lifetime_years: 10
    changes: {stations.M1.input_buffer: 3}
"""


def kpis(throughput: float, scrap: float = 0.0) -> dict[str, Any]:
    return {"line": {"throughput_per_hour": throughput, "scrap_per_hour": scrap}}


def runs(*throughputs: float, scrap: float = 0.0) -> dict[int, Any]:
    """Replications with these throughputs (good parts/h), indexed from 0."""
    return {r: kpis(tp, scrap) for r, tp in enumerate(throughputs)}


@pytest.fixture
def money() -> Scenario:
    return loads(LINE + CATALOG, "money.yaml")


def test_eight_eight_and_ten_years_are_valued_over_ten(money: Scenario) -> None:
    """The 8-year retrofits are bought again at year 8; 6 of those 8 years are left at 10."""
    costs = Costs.of(money.retrofits)
    assert costs.horizon_years == 10
    a, b, c = costs.investments
    assert a.purchases == b.purchases == 2  # at years 0 and 8
    assert c.purchases == 1
    assert a.residual_share == b.residual_share == pytest.approx(6 / 8)
    assert c.residual_share == 0.0
    assert a.residual_value == pytest.approx(40000 * 6 / 8)
    assert costs.capex_net == 40000 + 30000 + 100000
    assert costs.opex_per_year == 3000


def test_npv_by_hand(money: Scenario) -> None:
    """NPV = −purchases (discounted) + residual value (discounted) + net benefit × annuity."""
    plan = Plan(("a", "b", "c"))
    base = runs(40, 40, 40, scrap=1)
    after = runs(45, 46, 47, scrap=0.5)  # +5..+7 good parts/h, 0.5 fewer scrapped
    econ = economics(money, plan, after, base)
    net = [(g * 10 + 0.5 * 4) * 1000 - 3000 for g in (5, 6, 7)]
    assert econ["annual_net_benefit"]["values"] == pytest.approx(net)
    invest = 170000 + 70000 * 1.08**-8 - 70000 * 0.75 * 1.08**-10
    assert econ["investment_present_value"] == pytest.approx(invest, rel=1e-12)
    factor = (1 - 1.08**-10) / 0.08
    assert econ["npv"]["values"] == pytest.approx([-invest + n * factor for n in net], rel=1e-12)
    assert econ["npv"]["mean"] == pytest.approx(-183501.16 + 59000 * 6.7100814, rel=1e-6)
    assert econ["horizon_years"] == 10
    assert econ["retrofits"]["a"]["purchases"] == 2
    assert econ["retrofits"]["a"]["last_purchase_at_years"] == 8
    assert econ["retrofits"]["b"]["residual_value"] == pytest.approx(22500)
    assert econ["payback_years"]["mean"] == pytest.approx(170000 / 59000)
    assert econ["payback_beyond_lifetime"] is False


def test_a_horizon_shorter_than_a_life_credits_the_rest(money: Scenario) -> None:
    """With horizon_years 5, c (10 years) is bought once and half of it is left at year 5."""
    fixed = money.model_copy(
        update={"economics": money.economics.model_copy(update={"horizon_years": 5})}
    )
    econ = economics(fixed, Plan(("c",)), runs(41), runs(40))
    assert econ["horizon_years"] == 5
    npv = -100000 + 50000 * 1.08**-5 + (10000 - 2000) * annuity(5, 0.08)
    assert econ["npv"]["mean"] == pytest.approx(npv, rel=1e-12)


SHORT_AND_LONG = """\
economics: {margin_per_good_part: 10, operating_hours_per_year: 1000, discount_rate: 0.08}
retrofits:
  - id: long
    capex: 100000
    lifetime_years: 10
    changes: {stations.M1.input_buffer: 1}
  - id: short
    capex: 10000
    lifetime_years: 2
    changes: {stations.M1.input_buffer: 2}
"""


def test_combining_retrofits_no_longer_looks_worse_than_either(scenario: Any) -> None:
    """Two retrofits that add their gains are worth more together than either alone.

    Valued over the shortest life (2 years), the pair was worth −110000 + 50000 × 1.78 < 0,
    below `long` alone; over one horizon with `short` bought five times it is the best.
    """
    s = scenario(LINE + SHORT_AND_LONG)
    base = runs(40, 40)
    value = {
        name: economics(s, Plan(tuple(name.split("+"))), runs(40 + g, 40 + g), base)["npv"]["mean"]
        for name, g in (("long", 3), ("short", 2), ("long+short", 5))
    }
    old_pair = -110000 + 50000 * annuity(2, 0.08)
    assert old_pair < value["long"]  # the pathology of valuing at the shortest life
    assert value["long+short"] > value["long"] > 0
    assert value["long+short"] > value["short"] > 0
    fixed = s.model_copy(update={"economics": s.economics.model_copy(update={"horizon_years": 10})})
    alone = [
        economics(fixed, Plan((rid,)), runs(40 + g, 40 + g), base)["npv"]["mean"]
        for rid, g in (("long", 3), ("short", 2))
    ]
    both = economics(fixed, Plan(("long", "short")), runs(45, 45), base)["npv"]["mean"]
    assert both == pytest.approx(sum(alone), rel=1e-12)  # one horizon: NPV is additive


def test_a_tiny_lifetime_is_valued_in_closed_form(money: Scenario) -> None:
    """A retrofit lasting a millionth of a year is bought 10 million times over 10 years,
    priced as a geometric series (undiscounted: exactly 10 million purchases)."""
    tiny = Retrofit(id="tiny", capex=1, lifetime_years=1e-6, changes={"horizon": 1})
    long = Retrofit(id="long", capex=0, lifetime_years=10, changes={"horizon": 1})
    costs = Costs.of([tiny, long])
    (investment, _) = costs.investments
    assert investment.purchases == 10_000_000 and investment.residual_share == 0.0
    assert costs.present_cost(0.0) == pytest.approx(1e7, rel=1e-9)
    # Σ v^(k/1e6), k < 1e7 ≈ 1e6 × ∫₀¹⁰ v^t dt = 1e6 × annuity(10, r) in continuous time
    continuous = 1e6 * (1 - 1.08**-10) / math.log(1.08)
    assert costs.present_cost(0.08) == pytest.approx(continuous, rel=1e-6)


def test_payback_longer_than_the_life_is_flagged(money: Scenario) -> None:
    """c pays back in 100000 / 8000 = 12.5 years, beyond its 10: flagged; never, too."""
    slow = economics(money, Plan(("c",)), runs(41), runs(40))
    assert slow["payback_years"]["mean"] == pytest.approx(12.5)
    assert slow["payback_beyond_lifetime"] is True
    never = economics(money, Plan(("c",)), runs(40), runs(40))
    assert never["payback_years"]["mean"] is None
    assert never["payback_beyond_lifetime"] is True
    fast = economics(money, Plan(("c",)), runs(50), runs(40))
    assert fast["payback_years"]["mean"] == pytest.approx(100000 / 98000)
    assert fast["payback_beyond_lifetime"] is False


def test_horizon_years_is_checked(scenario: Any) -> None:
    """A horizon of 0 years is refused at load time, naming the field."""
    with pytest.raises(ScenarioError, match=r"economics\.horizon_years"):
        scenario(LINE + CATALOG.replace("discount_rate: 0.08", "horizon_years: 0"))


def test_tornado_by_hand(money: Scenario) -> None:
    """Margin ±20%, rate ±2 points and each retrofit's share ±50%, widest swing first."""
    plan = Plan(("a", "b", "c"))
    base, after = runs(40, 40), runs(44, 46)  # +5 good parts/h on average
    costs = Costs.of(money.retrofits)
    rows = {
        row["factor"]: row
        for row in tornado(money, plan, after, base, {"a": 20000, "b": 0, "c": 30000})
    }
    margin = rows["margin per good part"]
    assert margin["input_low"] == pytest.approx(8)
    assert margin["npv_low"] == pytest.approx(costs.npv(5 * 8000 - 3000, 0.08))
    assert margin["npv_high"] == pytest.approx(costs.npv(5 * 12000 - 3000, 0.08))
    assert (rows["discount rate"]["input_low"], rows["discount rate"]["input_high"]) == (
        pytest.approx(0.06),
        pytest.approx(0.10),
    )
    assert rows["discount rate"]["npv_high"] == pytest.approx(costs.npv(47000, 0.10))
    factor = annuity(10, 0.08)
    assert rows["effect of c"]["npv_high"] - rows["effect of c"]["npv_low"] == pytest.approx(
        30000 * factor
    )
    assert rows["effect of c"]["npv_of_effect"] == pytest.approx(30000 * factor)
    assert rows["effect of b"]["npv_low"] == rows["effect of b"]["npv_high"]
    swings = [abs(r["npv_high"] - r["npv_low"]) for r in rows.values()]
    assert swings == sorted(swings, reverse=True)


def test_ranking_marks_plans_not_distinguishable_from_the_best(money: Scenario) -> None:
    """Paired NPV differences: a plan whose interval holds 0 is marked, a clearly worse one not."""
    base = runs(40, 40, 40, 40)
    plans = [Plan(("c",)), Plan(("b",)), Plan(("a",))]
    comparison = Comparison(
        money,
        plans,
        {
            BASELINE.name: base,
            "c": runs(55, 57, 56, 58),
            "b": runs(52, 58, 55, 59),  # close to c, noisy: the difference straddles 0
            "a": runs(41, 41, 41, 41),  # far below
        },
    )
    ranked = comparison.ranking()
    assert [p.name for p in ranked] == ["c", "b", "a"]
    assert comparison.versus(ranked[0], ranked[0])["indistinguishable"] is True
    close = comparison.versus(Plan(("b",)), ranked[0])
    assert close["indistinguishable"] is True
    low, high = (
        close["difference"]["mean"] - close["difference"]["ci95_halfwidth"],
        close["difference"]["mean"] + close["difference"]["ci95_halfwidth"],
    )
    assert low < 0 < high
    far = comparison.versus(Plan(("a",)), ranked[0])
    assert far["indistinguishable"] is False
    assert far["difference"]["mean"] + far["difference"]["ci95_halfwidth"] < 0


# A small priced line for the command: `same` changes nothing, costs nothing and lives as
# long as `repairs`, so `repairs+same` is worth exactly what `repairs` is worth; `gold` costs
# far more than it brings.
PRICED = priced_pair(
    name="priced line",
    seed=3,
    horizon="3h",
    replications=3,
    margin=20,
    retrofits="""\
  - id: repairs
    capex: 10000
    lifetime_years: 5
    changes: {stations.*.failures.mttr: {scale: 0.5}}
  - id: same
    lifetime_years: 5
    changes: {stations.M2.input_buffer: 0}
  - id: gold
    capex: 20000000
    lifetime_years: 3
    changes: {stations.M2.input_buffer: 1}
""",
)


@pytest.fixture
def priced_run(scenario_file: Callable[..., Path], tmp_path: Path) -> tuple[dict[str, Any], str]:
    path = scenario_file(PRICED, "priced.yaml")
    out = tmp_path / "run"
    args = ["compare", str(path), "--out", str(out), "--workers", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads((out / "comparison.json").read_text()), result.stdout


def test_compare_marks_ties_long_paybacks_and_prints_a_tornado(
    priced_run: tuple[dict[str, Any], str],
) -> None:
    """The twin of the best plan is marked ≈, gold's payback is beyond its life, tornado shown."""
    doc, stdout = priced_run
    assert doc["ranking"][:2] in (["repairs", "repairs+same"], ["repairs+same", "repairs"])
    twin = doc["ranking"][1]
    assert twin in doc["indistinguishable_from_best"]
    assert not {"gold", "same+gold"} & set(doc["indistinguishable_from_best"])
    assert doc["plans"][twin]["versus_best"]["difference"]["values"] == [0.0] * 3
    assert f"≈2 │ {twin}" in stdout.replace("  ", " ")
    gold = doc["plans"]["gold"]["economics"]
    assert gold["payback_years"]["mean"] > 3 and gold["payback_beyond_lifetime"] is True
    assert "(> life)" in stdout
    assert {row["factor"] for row in doc["tornado"]} >= {"margin per good part", "discount rate"}
    gold_margin = {r["factor"]: r for r in doc["plans"]["gold"]["tornado"]}["margin per good part"]
    gain = doc["plans"]["gold"]["differences"]["throughput_per_hour"]["mean"]
    swing = gold_margin["npv_high"] - gold_margin["npv_low"]
    assert swing == pytest.approx(0.4 * 20 * gain * 6000 * annuity(3, 0.08), rel=1e-9)
    assert "sensitivity of" in stdout and "effect of repairs" in stdout


def test_fewer_escapes_are_worth_their_cost_each(money: Scenario) -> None:
    """With a cost per defective part shipped, 30 fewer escapes per million at 50 good
    parts/h are worth 50 x 30 / 1e6 x cost an hour; a line without the figure has none."""
    from scenarios.economics import escapes_per_hour, gross_benefit

    priced = money.model_copy(
        update={"economics": money.economics.model_copy(update={"escape_cost_per_part": 500.0})}
    )
    base, after = kpis(50, 0), kpis(50, 0)
    base["line"]["escapes_ppm"], after["line"]["escapes_ppm"] = 40.0, 10.0
    assert escapes_per_hour(base) == pytest.approx(50 * 40 / 1e6)
    hours = priced.economics.operating_hours_per_year
    expected = 50 * 30 / 1e6 * 500.0 * hours
    assert gross_benefit(priced, after, base) == pytest.approx(expected)
    assert gross_benefit(money, after, base) == 0.0  # no cost given: escapes are free
    assert escapes_per_hour(kpis(50, 0)) == 0.0
