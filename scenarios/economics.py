"""Money: a plan's cash flows over one horizon, its NPV, payback, and how sensitive they are.

Every plan is valued over one horizon H (``economics.horizon_years``, else the longest
lifetime among its retrofits). A retrofit that wears out before H is bought again; one that
outlives H is credited with the straight-line value of its unused life. So combining
retrofits never shortens the life of any of them, and plans of different lifetimes compare
on equal terms. The formulas are in the upgrade-plans guide.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scenarios.batch import KPIs
from scenarios.retrofits import Plan
from scenarios.schema import Retrofit, Scenario
from twin.stats import Summary, summarize

# A purchase due this close to the horizon is not made (floating-point multiples of a life).
_EPS = 1e-9


def annuity(years: float, rate: float) -> float:
    """Present value of 1 a year for ``years`` years at ``rate``."""
    return years if rate == 0 else (1 - (1 + rate) ** -years) / rate


def gross_benefit(scenario: Scenario, plan: KPIs, base: KPIs, margin: float | None = None) -> float:
    """Money a year from more good parts and fewer scrapped ones, and fewer defective parts
    shipped (before the plan's costs).

    ``margin`` replaces the scenario's margin per good part (for sensitivities).
    """
    e = scenario.economics
    good = plan["line"]["throughput_per_hour"] - base["line"]["throughput_per_hour"]
    scrap = plan["line"]["scrap_per_hour"] - base["line"]["scrap_per_hour"]
    escapes = escapes_per_hour(plan) - escapes_per_hour(base)
    per_part = e.margin_per_good_part if margin is None else margin
    money = good * per_part - scrap * e.scrap_cost_per_part - escapes * e.escape_cost_per_part
    return float(money * e.operating_hours_per_year)


def escapes_per_hour(kpis: KPIs) -> float:
    """Defective parts shipped per hour (0 on a line without defects or inspection)."""
    line = kpis["line"]
    ppm = line.get("escapes_ppm", 0.0)
    if ppm != ppm:  # NaN: nothing shipped
        return 0.0
    return float(ppm) * float(line["throughput_per_hour"]) / 1e6


@dataclass(frozen=True)
class Investment:
    """One retrofit over the horizon: how often it is bought, and what is left at the end.

    Bought at 0, L, 2L, ... while before the horizon; the sums are closed forms, so a tiny
    lifetime costs no more to value than a long one.
    """

    retrofit: str
    capex_net: float
    lifetime_years: float
    purchases: int
    residual_share: float

    @classmethod
    def over(cls, retrofit: Retrofit, horizon: float) -> Investment:
        life = retrofit.lifetime_years
        count = max(1, int(horizon / life - _EPS) + 1)
        left = count * life - horizon
        return cls(
            retrofit=retrofit.id,
            capex_net=retrofit.capex * (1 - retrofit.subsidy_rate),
            lifetime_years=life,
            purchases=count,
            residual_share=max(0.0, left) / life,
        )

    def present_cost(self, rate: float, horizon: float) -> float:
        """Discounted purchases less the discounted residual value at the horizon."""
        step = (1 + rate) ** -self.lifetime_years  # one lifetime's discount
        bought = self.purchases if step == 1 else (1 - step**self.purchases) / (1 - step)
        return float(self.capex_net * bought - self.residual_value * (1 + rate) ** -horizon)

    @property
    def residual_value(self) -> float:
        return self.capex_net * self.residual_share

    def document(self) -> dict[str, Any]:
        return {
            "capex_after_subsidy": self.capex_net,
            "lifetime_years": self.lifetime_years,
            "purchases": self.purchases,
            "last_purchase_at_years": (self.purchases - 1) * self.lifetime_years,
            "residual_share": self.residual_share,
            "residual_value": self.residual_value,
        }


@dataclass(frozen=True)
class Costs:
    """What a plan costs over its horizon: investments (and reinvestments) and running cost."""

    capex: float
    capex_net: float
    opex_per_year: float
    horizon_years: float
    investments: tuple[Investment, ...]

    @classmethod
    def of(cls, retrofits: Sequence[Retrofit], horizon_years: float | None = None) -> Costs:
        """``horizon_years`` defaults to the longest lifetime among ``retrofits``."""
        horizon = horizon_years or max((r.lifetime_years for r in retrofits), default=0.0)
        return cls(
            capex=sum(r.capex for r in retrofits),
            capex_net=sum(r.capex * (1 - r.subsidy_rate) for r in retrofits),
            opex_per_year=sum(r.opex_per_year for r in retrofits),
            horizon_years=horizon,
            investments=tuple(Investment.over(r, horizon) for r in retrofits) if horizon else (),
        )

    def present_cost(self, rate: float) -> float:
        """Present value of every purchase over the horizon, net of residual values."""
        return sum(i.present_cost(rate, self.horizon_years) for i in self.investments)

    def npv(self, net_per_year: float, rate: float) -> float:
        """NPV of a constant annual net benefit (gain less opex) over the horizon."""
        return -self.present_cost(rate) + net_per_year * annuity(self.horizon_years, rate)


def plan_costs(scenario: Scenario, plan: Plan) -> Costs:
    catalog = {r.id: r for r in scenario.retrofits}
    return Costs.of([catalog[rid] for rid in plan.retrofits], scenario.economics.horizon_years)


def _payback(capex: float, annual: Summary) -> dict[str, float | None]:
    mean, half = annual["mean"], annual["ci95_halfwidth"] or 0.0
    if mean is None or mean <= 0:
        return {"mean": None, "low": None, "high": None}
    high = capex / (mean - half) if mean - half > 0 else None
    return {"mean": capex / mean, "low": capex / (mean + half), "high": high}


def net_benefits(
    scenario: Scenario,
    costs: Costs,
    runs: Mapping[int, KPIs],
    base: Mapping[int, KPIs],
    margin: float | None = None,
) -> dict[int, float]:
    """Annual net benefit (gross benefit less opex) of each paired replication."""
    reps = sorted(set(runs) & set(base))
    return {
        r: gross_benefit(scenario, runs[r], base[r], margin) - costs.opex_per_year for r in reps
    }


def economics(
    scenario: Scenario, plan: Plan, runs: Mapping[int, KPIs], base: Mapping[int, KPIs]
) -> dict[str, Any]:
    """Capex after subsidy, annual net benefit, payback years and NPV over the plan's horizon."""
    costs = plan_costs(scenario, plan)
    rate = scenario.economics.discount_rate
    net = list(net_benefits(scenario, costs, runs, base).values())
    annual = summarize(net)
    payback = _payback(costs.capex_net, annual)
    return {
        "currency": scenario.economics.currency,
        "capex": costs.capex,
        "capex_after_subsidy": costs.capex_net,
        "opex_per_year": costs.opex_per_year,
        "horizon_years": costs.horizon_years,
        "investment_present_value": costs.present_cost(rate),
        "retrofits": {i.retrofit: i.document() for i in costs.investments},
        "annual_net_benefit": annual,
        "payback_years": payback,
        "payback_beyond_lifetime": payback["mean"] is None or payback["mean"] > costs.horizon_years,
        "npv": summarize([costs.npv(n, rate) for n in net]),
    }


# Tornado swings: margin per good part ± this share, discount rate ± these points,
# each retrofit's attributed gain ± this share.
MARGIN_SWING = 0.2
RATE_SWING = 0.02
EFFECT_SWING = 0.5


def _mean(values: Mapping[int, float]) -> float:
    return sum(values.values()) / max(len(values), 1)


def tornado(
    scenario: Scenario,
    plan: Plan,
    runs: Mapping[int, KPIs],
    base: Mapping[int, KPIs],
    shares: Mapping[str, float],
) -> list[dict[str, Any]]:
    """How the plan's mean NPV moves with each input, widest swing first.

    From the same replications, no new runs: the margin per good part ±20%, the discount rate
    ±2 points (not below 0), and each retrofit's Shapley share of the gross benefit ±50%
    (``shares``, money a year).
    """
    e = scenario.economics
    costs = plan_costs(scenario, plan)
    rate = e.discount_rate
    net = _mean(net_benefits(scenario, costs, runs, base))
    factor = annuity(costs.horizon_years, rate)
    rows = []
    margins = [e.margin_per_good_part * (1 + s) for s in (-MARGIN_SWING, MARGIN_SWING)]
    at = [costs.npv(_mean(net_benefits(scenario, costs, runs, base, m)), rate) for m in margins]
    rows.append(_row("margin per good part", margins, at))
    rates = [max(0.0, rate - RATE_SWING), rate + RATE_SWING]
    rows.append(_row("discount rate", rates, [costs.npv(net, r) for r in rates]))
    for rid, share in shares.items():
        scale = [1 - EFFECT_SWING, 1 + EFFECT_SWING]
        at = [costs.npv(net + (k - 1) * share, rate) for k in scale]
        rows.append(_row(f"effect of {rid}", scale, at, share * factor))
    return sorted(rows, key=lambda row: -abs(row["npv_high"] - row["npv_low"]))


def _row(
    factor: str, inputs: list[float], npv: list[float], contribution: float | None = None
) -> dict[str, Any]:
    row = {
        "factor": factor,
        "input_low": inputs[0],
        "input_high": inputs[1],
        "npv_low": npv[0],
        "npv_high": npv[1],
    }
    if contribution is not None:
        row["npv_of_effect"] = contribution
    return row
