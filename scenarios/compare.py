"""Comparing upgrade plans with the baseline: paired differences, money, attribution.

Every plan runs the same replications as the baseline with common random numbers, so the
difference of replication ``r`` is a paired observation and its confidence interval is
much tighter than an unpaired one. Gains become money with the scenario's ``economics``;
Shapley values split the gain of a plan between its retrofits.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scenarios.batch import Batch, KPIs, evaluate, evaluate_models
from scenarios.figures import Bottleneck, Extract, bottleneck, headline, levels
from scenarios.retrofits import BASELINE, Plan, apply
from scenarios.schema import Retrofit, Scenario
from scenarios.store import Store
from twin.stats import Summary, summarize


def paired(plan: Mapping[int, KPIs], base: Mapping[int, KPIs], extract: Extract) -> Summary:
    """Plan minus baseline, replication by replication (common replications only)."""
    reps = sorted(set(plan) & set(base))
    return summarize([extract(plan[r]) - extract(base[r]) for r in reps])


def annuity(years: float, rate: float) -> float:
    """Present value of 1 a year for ``years`` years at ``rate``."""
    return years if rate == 0 else (1 - (1 + rate) ** -years) / rate


def gross_benefit(scenario: Scenario, plan: KPIs, base: KPIs) -> float:
    """Money a year from more good parts and fewer scrapped ones (before the plan's costs)."""
    e = scenario.economics
    good = plan["line"]["throughput_per_hour"] - base["line"]["throughput_per_hour"]
    scrap = plan["line"]["scrap_per_hour"] - base["line"]["scrap_per_hour"]
    return float(
        (good * e.margin_per_good_part - scrap * e.scrap_cost_per_part) * e.operating_hours_per_year
    )


@dataclass(frozen=True)
class Costs:
    """What a plan costs: investment after subsidy, running cost, and how long it lasts."""

    capex: float
    capex_net: float
    opex_per_year: float
    lifetime_years: float

    @classmethod
    def of(cls, retrofits: Sequence[Retrofit]) -> Costs:
        return cls(
            capex=sum(r.capex for r in retrofits),
            capex_net=sum(r.capex * (1 - r.subsidy_rate) for r in retrofits),
            opex_per_year=sum(r.opex_per_year for r in retrofits),
            # A plan lasts as long as its shortest-lived part (a conservative horizon).
            lifetime_years=min((r.lifetime_years for r in retrofits), default=0.0),
        )


def _payback(capex: float, annual: Summary) -> dict[str, float | None]:
    mean, half = annual["mean"], annual["ci95_halfwidth"] or 0.0
    if mean is None or mean <= 0:
        return {"mean": None, "low": None, "high": None}
    high = capex / (mean - half) if mean - half > 0 else None
    return {"mean": capex / mean, "low": capex / (mean + half), "high": high}


def economics(
    scenario: Scenario, plan: Plan, runs: Mapping[int, KPIs], base: Mapping[int, KPIs]
) -> dict[str, Any]:
    """Capex after subsidy, annual net benefit, payback years and NPV, with 95% intervals."""
    catalog = {r.id: r for r in scenario.retrofits}
    costs = Costs.of([catalog[rid] for rid in plan.retrofits])
    rate = scenario.economics.discount_rate
    reps = sorted(set(runs) & set(base))
    net = [gross_benefit(scenario, runs[r], base[r]) - costs.opex_per_year for r in reps]
    factor = annuity(costs.lifetime_years, rate)
    annual = summarize(net)
    return {
        "currency": scenario.economics.currency,
        "capex": costs.capex,
        "capex_after_subsidy": costs.capex_net,
        "opex_per_year": costs.opex_per_year,
        "lifetime_years": costs.lifetime_years,
        "annual_net_benefit": annual,
        "payback_years": _payback(costs.capex_net, annual),
        "npv": summarize([-costs.capex_net + n * factor for n in net]),
    }


def reduce_to_feasible(retrofits: Sequence[Retrofit], chosen: set[str]) -> tuple[str, ...]:
    """The largest part of ``chosen`` whose requirements it satisfies, in catalog order."""
    by_id = {r.id: r for r in retrofits}
    keep = set(chosen)
    changed = True
    while changed:
        changed = False
        for rid in sorted(keep):
            if not set(by_id[rid].requires) <= keep:
                keep.discard(rid)
                changed = True
    return tuple(r.id for r in retrofits if r.id in keep)


def coalitions(scenario: Scenario, plan: Plan) -> list[Plan]:
    """Every plan whose value the Shapley split of ``plan`` needs (the baseline included)."""
    needed = {
        reduce_to_feasible(scenario.retrofits, set(combo))
        for n in range(len(plan.retrofits) + 1)
        for combo in itertools.combinations(plan.retrofits, n)
    }
    return [Plan(c) for c in sorted(needed, key=lambda c: (len(c), c))]


def shapley(scenario: Scenario, plan: Plan, value: Callable[[Plan], float]) -> dict[str, float]:
    """Each retrofit's Shapley share of ``value(plan) - value(baseline)``.

    A coalition that lacks a requirement is worth what its feasible part is worth: a
    retrofit brings nothing without the ones it builds on.
    """
    players = list(plan.retrofits)
    n = len(players)
    memo: dict[tuple[str, ...], float] = {}

    def v(members: Sequence[str]) -> float:
        key = reduce_to_feasible(scenario.retrofits, set(members))
        if key not in memo:
            memo[key] = value(Plan(key)) if key else value(BASELINE)
        return memo[key]

    shares = {}
    for player in players:
        others = [p for p in players if p != player]
        total = 0.0
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for combo in itertools.combinations(others, size):
                total += weight * (v([*combo, player]) - v(combo))
        shares[player] = total
    return shares


@dataclass
class Comparison:
    """The baseline and each plan's replications, and everything derived from them."""

    scenario: Scenario
    plans: list[Plan]
    runs: dict[str, dict[int, KPIs]]

    @property
    def base(self) -> dict[int, KPIs]:
        return self.runs[BASELINE.name]

    @property
    def bottleneck(self) -> Bottleneck | None:
        """The baseline's simulated bottleneck: every plan's OEE is read at this station,
        so paired differences compare the same station."""
        return bottleneck(self.base)

    @property
    def neck(self) -> str | None:
        found = self.bottleneck
        return found.station if found else None

    def differences(self, plan: Plan) -> dict[str, Summary]:
        figures = headline(self.neck)
        return {name: paired(self.runs[plan.name], self.base, f) for name, f in figures.items()}

    def levels(self, plan: Plan) -> dict[str, Summary]:
        return levels(self.runs[plan.name], self.neck)

    @property
    def priced(self) -> bool:
        e = self.scenario.economics
        return e.margin_per_good_part > 0 or e.scrap_cost_per_part > 0

    def ranking(self) -> list[Plan]:
        """Best first: by NPV when the scenario prices parts, else by throughput gain."""

        def score(plan: Plan) -> float:
            if self.priced:
                mean = economics(self.scenario, plan, self.runs[plan.name], self.base)["npv"]
            else:
                mean = self.differences(plan)["throughput_per_hour"]
            return float(mean["mean"]) if mean["mean"] is not None else -math.inf

        return sorted(self.plans, key=score, reverse=True)

    def contributions(self, plan: Plan) -> dict[str, dict[str, float]]:
        """Shapley shares of the throughput gain and of the gross annual benefit."""
        base = self.base

        def gain(p: Plan) -> float:
            runs = self.runs[p.name]
            reps = sorted(set(runs) & set(base))
            tp = [
                float(runs[r]["line"]["throughput_per_hour"])
                - float(base[r]["line"]["throughput_per_hour"])
                for r in reps
            ]
            return sum(tp) / max(len(tp), 1)

        def money(p: Plan) -> float:
            runs = self.runs[p.name]
            reps = sorted(set(runs) & set(base))
            return sum(gross_benefit(self.scenario, runs[r], base[r]) for r in reps) / max(
                len(reps), 1
            )

        tp = shapley(self.scenario, plan, gain)
        cash = shapley(self.scenario, plan, money)
        return {
            rid: {"throughput_per_hour": tp[rid], "gross_benefit_per_year": cash[rid]}
            for rid in plan.retrofits
        }

    def summary(self) -> dict[str, Any]:
        """The comparison document (JSON-ready)."""
        ranked = self.ranking()
        plans = {}
        for plan in self.plans:
            plans[plan.name] = {
                "retrofits": list(plan.retrofits),
                "replications": len(self.runs[plan.name]),
                "levels": self.levels(plan),
                "differences": self.differences(plan),
                "economics": economics(self.scenario, plan, self.runs[plan.name], self.base),
            }
        best = ranked[0] if ranked else None
        return {
            "scenario": self.scenario.model_dump(mode="json"),
            "seed": self.scenario.seed,
            "bottleneck": neck.as_dict() if (neck := self.bottleneck) else None,
            "ranked_by": "npv" if self.priced else "throughput_per_hour",
            "baseline": {"replications": len(self.base), "levels": self.levels(BASELINE)},
            "plans": plans,
            "ranking": [p.name for p in ranked],
            "best": best.name if best else None,
            "contributions": self.contributions(best) if best else {},
        }


def run_compare(
    scenario: Scenario,
    plans: Sequence[Plan],
    store: Store,
    workers: int = 1,
    scheduler: str | None = None,
    on_done: Callable[[int, int], None] | None = None,
    precision: float | None = None,
    max_replications: int = 200,
) -> tuple[Comparison, Batch]:
    """Evaluate the baseline and ``plans`` (and what attribution needs), then compare."""
    models = {BASELINE.name: scenario} | {p.name: apply(scenario, p) for p in plans}
    batch = evaluate_models(
        models,
        scenario.replications,
        store,
        workers,
        scheduler,
        on_done,
        precision,
        max_replications,
    )
    comparison = Comparison(scenario, list(plans), batch.results)
    if batch.interrupted or batch.errors or not plans:
        return comparison, batch
    best = comparison.ranking()[0]
    extra = {c.name: apply(scenario, c) for c in coalitions(scenario, best) if c.name not in models}
    if extra:
        reps = min(len(r) for r in batch.results.values())
        more = evaluate(extra, reps, store, workers, scheduler, on_done)
        comparison.runs.update(more.results)
        batch.ran += more.ran
        batch.reused += more.reused
        batch.errors.update(more.errors)
        batch.interrupted = more.interrupted
    return comparison, batch
