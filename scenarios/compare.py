"""Comparing upgrade plans with the baseline: paired differences, money, attribution.

Every plan runs the same replications as the baseline with common random numbers, so the
difference of replication ``r`` is a paired observation and its confidence interval is
much tighter than an unpaired one. Gains become money with the scenario's ``economics``
(see ``scenarios.economics``); plans are ranked, each with its paired difference to the best
one; Shapley values split the gain of the best plan between its retrofits.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scenarios.batch import Batch, KPIs, evaluate, evaluate_models
from scenarios.economics import annuity, economics, gross_benefit, tornado
from scenarios.figures import Bottleneck, Extract, bottleneck, headline, levels
from scenarios.retrofits import BASELINE, Plan, apply, reduce_to_feasible
from scenarios.schema import Scenario
from scenarios.store import Store
from twin.errors import UsageError
from twin.stats import Summary, summarize

__all__ = [
    "Comparison",
    "annuity",
    "coalitions",
    "economics",
    "gross_benefit",
    "paired",
    "run_compare",
    "shapley",
]

# Shapley values need every coalition of a plan's retrofits, 2^n plans to simulate: at most
# 256, as many as the default plans may be.
MAX_SHAPLEY_PLAYERS = 8


def paired(plan: Mapping[int, KPIs], base: Mapping[int, KPIs], extract: Extract) -> Summary:
    """Plan minus baseline, replication by replication (common replications only)."""
    reps = sorted(set(plan) & set(base))
    return summarize([extract(plan[r]) - extract(base[r]) for r in reps])


def _bounded(plan: Plan) -> None:
    if len(plan.retrofits) > MAX_SHAPLEY_PLAYERS:
        raise UsageError(
            f"plan {plan.name}: attribution needs all 2^{len(plan.retrofits)} coalitions of its "
            f"retrofits simulated; it is done for plans of at most {MAX_SHAPLEY_PLAYERS}"
        )


def coalitions(scenario: Scenario, plan: Plan) -> list[Plan]:
    """Every plan whose value the Shapley split of ``plan`` needs (the baseline included).

    Refused (UsageError) for plans of more than ``MAX_SHAPLEY_PLAYERS`` retrofits.
    """
    _bounded(plan)
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
    _bounded(plan)
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

    def scores(self, plan: Plan) -> dict[int, float]:
        """What ranks plans, per paired replication: NPV if parts are priced, else Δ throughput."""
        runs, base = self.runs[plan.name], self.base
        reps = sorted(set(runs) & set(base))
        if self.priced:
            npv = economics(self.scenario, plan, runs, base)["npv"]["values"]
            return {r: v for r, v in zip(reps, npv, strict=True) if v is not None}
        tp = "throughput_per_hour"
        return {r: float(runs[r]["line"][tp]) - float(base[r]["line"][tp]) for r in reps}

    def ranking(self) -> list[Plan]:
        """Best first: by mean NPV when the scenario prices parts, else by throughput gain."""

        def score(plan: Plan) -> float:
            values = list(self.scores(plan).values())
            return sum(values) / len(values) if values else -math.inf

        return sorted(self.plans, key=score, reverse=True)

    def versus(self, plan: Plan, best: Plan) -> dict[str, Any]:
        """``plan`` minus ``best`` in the ranking score, replication by replication.

        Not distinguishable from the best when the 95% interval of the paired difference
        contains 0 (or cannot be computed, with a single replication).
        """
        mine, theirs = self.scores(plan), self.scores(best)
        diff = summarize([mine[r] - theirs[r] for r in sorted(set(mine) & set(theirs))])
        mean, half = diff["mean"], diff["ci95_halfwidth"]
        close = mean is None or half is None or abs(mean) <= half
        return {"difference": diff, "indistinguishable": plan == best or close}

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

    def _plan(self, plan: Plan, best: Plan) -> dict[str, Any]:
        runs = self.runs[plan.name]
        return {
            "retrofits": list(plan.retrofits),
            "replications": len(runs),
            "levels": self.levels(plan),
            "differences": self.differences(plan),
            "economics": economics(self.scenario, plan, runs, self.base),
            "versus_best": self.versus(plan, best),
            # margin and discount rate only: retrofit effects need the plan's attribution
            "tornado": tornado(self.scenario, plan, runs, self.base, {}),
        }

    def _attribution(self, best: Plan | None) -> dict[str, Any]:
        """Shapley shares of the best plan and its NPV tornado (or why there are none)."""
        if best is None:
            return {"contributions": {}, "tornado": [], "attribution_skipped": None}
        if len(best.retrofits) > MAX_SHAPLEY_PLAYERS:
            why = f"{best.name} has more than {MAX_SHAPLEY_PLAYERS} retrofits"
            shares: dict[str, dict[str, float]] = {}
        else:
            why, shares = None, self.contributions(best)
        cash = {rid: s["gross_benefit_per_year"] for rid, s in shares.items()}
        runs = self.runs[best.name]
        return {
            "contributions": shares,
            "tornado": tornado(self.scenario, best, runs, self.base, cash),
            "attribution_skipped": why,
        }

    def summary(self) -> dict[str, Any]:
        """The comparison document (JSON-ready)."""
        ranked = self.ranking()
        best = ranked[0] if ranked else None
        plans = {plan.name: self._plan(plan, best or plan) for plan in self.plans}
        return {
            "scenario": self.scenario.model_dump(mode="json"),
            "seed": self.scenario.seed,
            "bottleneck": neck.as_dict() if (neck := self.bottleneck) else None,
            "ranked_by": "npv" if self.priced else "throughput_per_hour",
            "baseline": {"replications": len(self.base), "levels": self.levels(BASELINE)},
            "plans": plans,
            "ranking": [p.name for p in ranked],
            "best": best.name if best else None,
            "indistinguishable_from_best": [
                p.name for p in ranked[1:] if plans[p.name]["versus_best"]["indistinguishable"]
            ],
            **self._attribution(best),
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
    if len(best.retrofits) > MAX_SHAPLEY_PLAYERS:
        return comparison, batch  # no attribution: the summary says why
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
