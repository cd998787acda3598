"""Comparing plans with the baseline: common random numbers, known gains, Shapley, money, CLI."""

from __future__ import annotations

import json
import math
import re
import sqlite3
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lines import invoke, priced_pair, two_station

from scenarios.compare import (
    Comparison,
    annuity,
    coalitions,
    economics,
    run_compare,
    shapley,
)
from scenarios.loader import loads
from scenarios.retrofits import BASELINE, Plan, default_plans, parse_plan
from scenarios.schema import Scenario
from scenarios.store import Store

HEADLINE = ("throughput_per_hour", "oee", "lead_time_s", "wip", "scrap_rate")

UNRELIABLE = """\
name: unreliable three-station line
seed: 11
horizon: 12h
warmup: 1h
replications: 10
stations:
  - id: M1
    input_buffer: 0
    process_time: {dist: exponential, mean: 60s}
    failures:
      mtbf: {dist: exponential, mean: 2h}
      mttr: {dist: exponential, mean: 15min}
  - id: M2
    input_buffer: 2
    process_time: {dist: gamma, mean: 55s, cv: 0.5}
    failures:
      mtbf: {dist: exponential, mean: 3h}
      mttr: {dist: lognormal, mean: 20min, sd: 10min}
    scrap_rate: 0.02
  - id: M3
    input_buffer: 2
    process_time: {dist: triangular, low: 40s, mode: 50s, high: 70s}
"""

CRN_CATALOG = """\
retrofits:
  - id: same                      # sets a field to the value it has
    changes: {stations.M2.input_buffer: 2}
  - id: renamed                   # a different model that simulates the same line
    changes: {stations.M2.name: Second machine}
  - id: dormant                   # failures that never happen in the horizon
    changes: {stations.M3.failures: {mtbf: 10000d, mttr: 1s}}
  - id: repairs
    changes: {stations.*.failures.mttr: {scale: 0.5}}
  - id: buffer
    changes: {stations.M2.input_buffer: 6}
"""

SHAPLEY_CATALOG = """\
economics:
  currency: CNY
  margin_per_good_part: 30
  scrap_cost_per_part: 12
  operating_hours_per_year: 5000
  discount_rate: 0.08
retrofits:
  - id: platform
    core: true
    capex: 100000
    opex_per_year: 5000
    lifetime_years: 8
    subsidy_rate: 0.2
    changes: {stations.*.failures.mttr: {scale: 0.5}}
  - id: predictive
    requires: [platform]
    capex: 50000
    opex_per_year: 1000
    changes: {stations.M1.failures.mtbf: {scale: 2}}
  - id: buffer
    capex: 20000
    subsidy_rate: 0.5
    changes: {stations.M2.input_buffer: 6}
  - id: vision
    capex: 30000
    lifetime_years: 6
    changes: {stations.M2.scrap_rate: 0.005}
  - id: nothing
    changes: {stations.M3.input_buffer: 2}
"""

# Saturated line of two exponential machines of mean 1 s, no buffer before M2: throughput
# 2/3 parts/s; with 5 places before M2 it is 7/8 parts/s (a birth-death chain), +750 parts/h.
KNOWN = two_station(
    name="known gain",
    seed=1,
    horizon=10000,
    warmup=200,
    replications=6,
    retrofits="  - id: buffer\n    changes: {stations.M2.input_buffer: 5}\n",
)


def compare(
    scenario: Scenario, plans: list[Plan], path: Path
) -> tuple[Comparison, dict[str, Any], int]:
    with Store(path) as store:
        comparison, batch = run_compare(scenario, plans, store)
        assert not batch.errors and not batch.interrupted
        return comparison, comparison.summary(), store.count()


@pytest.fixture(scope="module")
def crn(tmp_path_factory: pytest.TempPathFactory) -> tuple[Comparison, dict[str, Any], int]:
    """The unreliable line and five single-retrofit plans, 10 replications each."""
    s = loads(UNRELIABLE + CRN_CATALOG, "crn.yaml")
    plans = [Plan((r.id,)) for r in s.retrofits]
    return compare(s, plans, tmp_path_factory.mktemp("crn") / "store.sqlite")


@pytest.fixture(scope="module")
def priced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Comparison, dict[str, Any], int]:
    """The unreliable line with a priced "1+N" catalog; the full plan and `buffer` alone."""
    s = loads(UNRELIABLE.replace("replications: 10", "replications: 4") + SHAPLEY_CATALOG)
    plans = [Plan(tuple(r.id for r in s.retrofits)), Plan(("buffer",))]
    return compare(s, plans, tmp_path_factory.mktemp("priced") / "store.sqlite")


def column(runs: dict[int, Any], extract: Callable[[Any], float]) -> list[float]:
    return [extract(runs[r]) for r in sorted(runs)]


# -- common random numbers ------------------------------------------------------------------


@pytest.mark.parametrize("plan", ["same", "renamed", "dormant"])
def test_plan_that_changes_nothing_differs_by_exactly_zero(
    plan: str, crn: tuple[Comparison, dict[str, Any], int]
) -> None:
    """A retrofit that does not change what happens gives exactly zero on every figure."""
    _, doc, _ = crn
    differences = doc["plans"][plan]["differences"]
    assert set(differences) == set(HEADLINE)
    for name in HEADLINE:
        assert differences[name]["values"] == [0.0] * 10, name
        assert differences[name]["mean"] == 0.0
        assert differences[name]["ci95_halfwidth"] == 0.0
    assert doc["plans"][plan]["levels"] == doc["baseline"]["levels"]


def test_equivalent_models_still_ran_separately(
    crn: tuple[Comparison, dict[str, Any], int],
) -> None:
    """`renamed` and `dormant` are distinct models (their zero is not a shared row)."""
    _, _, rows = crn
    # baseline (= same), renamed, dormant, repairs, buffer
    assert rows == 5 * 10


@pytest.mark.parametrize("plan", ["repairs", "buffer"])
def test_paired_differences_vary_far_less_than_unpaired(
    plan: str, crn: tuple[Comparison, dict[str, Any], int]
) -> None:
    """With common random numbers var(plan - base) is well under var(plan) + var(base)."""
    comparison, doc, _ = crn

    def tp(k: Any) -> float:
        return float(k["line"]["throughput_per_hour"])

    a = column(comparison.runs[plan], tp)
    b = column(comparison.base, tp)
    paired = statistics.variance([x - y for x, y in zip(a, b, strict=True)])
    unpaired = statistics.variance(a) + statistics.variance(b)
    assert paired < 0.5 * unpaired, (paired, unpaired)
    assert doc["plans"][plan]["differences"]["throughput_per_hour"]["mean"] > 0


def test_known_gain_of_a_buffer(tmp_path: Path) -> None:
    """Buffer 0 -> 5 before M2 of a saturated exponential line gains 750 parts/h, in the CI."""
    s = loads(KNOWN)
    _, doc, _ = compare(s, [Plan(("buffer",))], tmp_path / "store.sqlite")
    gain = doc["plans"]["buffer"]["differences"]["throughput_per_hour"]
    assert abs(gain["mean"] - 750.0) <= gain["ci95_halfwidth"], gain
    assert gain["ci95_halfwidth"] < 0.05 * 750.0, gain
    base = doc["baseline"]["levels"]["throughput_per_hour"]["mean"]
    assert base == pytest.approx(2400.0, rel=0.02)


# -- ranking and the comparison document ------------------------------------------------------


def test_unpriced_plans_rank_by_throughput_gain(
    crn: tuple[Comparison, dict[str, Any], int],
) -> None:
    """Without prices, plans rank by mean throughput gain and the best is the first."""
    _, doc, _ = crn
    assert doc["ranked_by"] == "throughput_per_hour"
    gains = [doc["plans"][p]["differences"]["throughput_per_hour"]["mean"] for p in doc["ranking"]]
    assert gains == sorted(gains, reverse=True)
    assert sorted(doc["ranking"]) == sorted(doc["plans"])
    assert doc["best"] == doc["ranking"][0]
    neck = doc["bottleneck"]
    assert (neck["station"], neck["replications"]) == ("M1", 10)
    # M1 (67.5 s a part with its repairs) and M2 (61 s) are close: in 12 h each sees a few
    # failures, so each is the bottleneck in some replications; M1, first in line, in as
    # many as M2 at least.
    assert neck["share"] >= 0.5, neck
    assert neck["runner_up"] == "M2"
    assert neck["share"] + neck["runner_up_share"] == pytest.approx(1.0)


def test_priced_plans_rank_by_npv(priced: tuple[Comparison, dict[str, Any], int]) -> None:
    """With a margin per part, plans rank by NPV and the best is the first."""
    _, doc, _ = priced
    assert doc["ranked_by"] == "npv"
    npv = [doc["plans"][p]["economics"]["npv"]["mean"] for p in doc["ranking"]]
    assert npv == sorted(npv, reverse=True)
    assert doc["best"] == "platform+predictive+buffer+vision+nothing"


# -- attribution ----------------------------------------------------------------------------


def test_contributions_add_up_to_the_gain(priced: tuple[Comparison, dict[str, Any], int]) -> None:
    """Shapley shares of the best plan sum to its throughput gain and its gross benefit."""
    _, doc, _ = priced
    best = doc["best"]
    shares = doc["contributions"]
    assert set(shares) == set(doc["plans"][best]["retrofits"])
    tp = sum(c["throughput_per_hour"] for c in shares.values())
    gain = doc["plans"][best]["differences"]["throughput_per_hour"]["mean"]
    assert tp == pytest.approx(gain, rel=1e-9, abs=1e-9)
    money = sum(c["gross_benefit_per_year"] for c in shares.values())
    econ = doc["plans"][best]["economics"]
    gross = econ["annual_net_benefit"]["mean"] + econ["opex_per_year"]
    assert money == pytest.approx(gross, rel=1e-9)
    assert gain > 0 and gross > 0


def test_retrofit_that_changes_nothing_gets_nothing(
    priced: tuple[Comparison, dict[str, Any], int],
) -> None:
    """A retrofit that changes nothing gets a zero share; the others get something."""
    _, doc, _ = priced
    shares = doc["contributions"]
    assert shares["nothing"]["throughput_per_hour"] == pytest.approx(0.0, abs=1e-9)
    assert shares["nothing"]["gross_benefit_per_year"] == pytest.approx(0.0, abs=1e-6)
    # Fewer scrapped parts at M2 is worth money even where the throughput barely moves.
    assert shares["vision"]["gross_benefit_per_year"] > 0
    assert shares["platform"]["throughput_per_hour"] > 0


def test_attribution_evaluates_only_feasible_coalitions(
    priced: tuple[Comparison, dict[str, Any], int],
) -> None:
    """The coalitions run for attribution all satisfy `requires` and share replications."""
    comparison, _, rows = priced
    s = comparison.scenario
    for name in comparison.runs:
        if name != BASELINE.name:
            parse_plan(s, name)  # raises if a requirement is missing
    assert "predictive" not in comparison.runs
    assert "predictive+buffer" not in comparison.runs
    # 16 subsets of platform/predictive/buffer/vision less 4 with predictive alone; `nothing`
    # leads to the same models, so it adds no rows.
    assert rows == 12 * 4


def scenario_with(catalog: str) -> Scenario:
    return loads(UNRELIABLE + "retrofits:\n" + catalog)


ABC = """\
  - id: a
    changes: {stations.M1.input_buffer: 1}
  - id: b
    changes: {stations.M2.input_buffer: 3}
  - id: c
    changes: {stations.M3.input_buffer: 3}
"""


def test_shapley_of_an_additive_game() -> None:
    """When values add up, each retrofit gets exactly its own value."""
    s = scenario_with(ABC)
    worth = {"a": 3.0, "b": -1.0, "c": 10.0}
    shares = shapley(s, Plan(("a", "b", "c")), lambda p: 100.0 + sum(worth[r] for r in p.retrofits))
    assert shares == pytest.approx(worth)


def test_shapley_of_a_pure_synergy_game() -> None:
    """Worth 6 only with a and b together: each gets 3; a third, useless player gets 0."""
    s = scenario_with(ABC)
    shares = shapley(s, Plan(("a", "b")), lambda p: 6.0 if len(p.retrofits) == 2 else 0.0)
    assert shares == pytest.approx({"a": 3.0, "b": 3.0})
    shares = shapley(
        s, Plan(("a", "b", "c")), lambda p: 6.0 if {"a", "b"} <= set(p.retrofits) else 0.0
    )
    assert shares == pytest.approx({"a": 3.0, "b": 3.0, "c": 0.0})


def test_shapley_with_a_requirement() -> None:
    """b requires a: {b} is worth what {} is, so v(a)=1, v(a+b)=3 splits as a=2, b=1."""
    s = scenario_with(ABC.replace("  - id: b\n", "  - id: b\n    requires: [a]\n"))
    asked: list[str] = []

    def value(plan: Plan) -> float:
        asked.append(plan.name)
        return {"baseline": 0.0, "a": 1.0, "a+b": 3.0}[plan.name]

    shares = shapley(s, Plan(("a", "b")), value)
    assert shares == pytest.approx({"a": 2.0, "b": 1.0})
    assert sorted(set(asked)) == ["a", "a+b", "baseline"]


# -- economics ------------------------------------------------------------------------------


def test_annuity_factor() -> None:
    """The annuity factor matches the tables: 8 years at 8% is 5.7466; no discount is n."""
    assert annuity(8, 0.08) == pytest.approx(5.746639, rel=1e-6)
    assert annuity(6, 0.08) == pytest.approx(4.622880, rel=1e-6)
    assert annuity(5, 0.0) == 5.0


def test_economics_by_hand(priced: tuple[Comparison, dict[str, Any], int]) -> None:
    """Capex after subsidy, net benefit, NPV and payback of the full plan, by hand."""
    comparison, doc, _ = priced
    name = "platform+predictive+buffer+vision+nothing"
    econ = doc["plans"][name]["economics"]
    capex = 100000 * 0.8 + 50000 + 20000 * 0.5 + 30000
    assert econ["capex"] == 200000
    assert econ["capex_after_subsidy"] == pytest.approx(capex)
    assert econ["opex_per_year"] == 6000
    assert econ["horizon_years"] == 10  # the longest-lived retrofit
    assert econ["currency"] == "CNY"
    runs, base = comparison.runs[name], comparison.base
    net = []
    for r in sorted(base):
        good = runs[r]["line"]["throughput_per_hour"] - base[r]["line"]["throughput_per_hour"]
        scrap = runs[r]["line"]["scrap_per_hour"] - base[r]["line"]["scrap_per_hour"]
        net.append((good * 30 - scrap * 12) * 5000 - 6000)
    assert econ["annual_net_benefit"]["values"] == pytest.approx(net, rel=1e-12)
    mean = statistics.fmean(net)
    half = 3.182446305 * statistics.stdev(net) / math.sqrt(4)  # t(0.975, 3)
    assert econ["annual_net_benefit"]["mean"] == pytest.approx(mean, rel=1e-12)
    assert econ["annual_net_benefit"]["ci95_halfwidth"] == pytest.approx(half, rel=1e-6)
    factor = (1 - 1.08**-10) / 0.08
    # platform (8 years) and vision (6 years) are bought again, at years 8 and 6; at year 10
    # 6 of platform's 8 years and 2 of vision's 6 are left.
    invest = capex + 80000 * 1.08**-8 + 30000 * 1.08**-6
    invest -= (80000 * 6 / 8 + 30000 * 2 / 6) * 1.08**-10
    npv = [-invest + n * factor for n in net]
    assert econ["investment_present_value"] == pytest.approx(invest, rel=1e-12)
    assert econ["npv"]["values"] == pytest.approx(npv, rel=1e-12)
    assert econ["npv"]["mean"] == pytest.approx(-invest + mean * factor, rel=1e-12)
    assert mean > half > 0
    payback = econ["payback_years"]
    assert payback["mean"] == pytest.approx(capex / mean, rel=1e-12)
    assert payback["low"] == pytest.approx(capex / (mean + half), rel=1e-6)
    assert payback["high"] == pytest.approx(capex / (mean - half), rel=1e-6)


def test_economics_of_a_plan_that_loses_money(
    priced: tuple[Comparison, dict[str, Any], int],
) -> None:
    """A plan that gains nothing loses its opex each year, never pays back, NPV by hand."""
    comparison, _, _ = priced
    base = comparison.base
    econ = economics(comparison.scenario, Plan(("platform",)), base, base)
    assert econ["annual_net_benefit"]["values"] == [-5000.0] * len(base)
    assert econ["payback_years"] == {"mean": None, "low": None, "high": None}
    assert econ["npv"]["mean"] == pytest.approx(-80000 - 5000 * 5.746639, rel=1e-6)
    free = economics(comparison.scenario, Plan(("nothing",)), base, base)
    assert free["npv"]["values"] == [0.0] * len(base)
    assert free["payback_years"]["mean"] is None


# -- twin compare ---------------------------------------------------------------------------

SMALL = priced_pair(
    name="small line",
    seed=3,
    horizon="4h",
    replications=5,
    margin=20,
    retrofits="""\
  - id: platform
    core: true
    capex: 10000
    changes: {stations.*.failures.mttr: {scale: 0.5}}
  - id: buffer
    capex: 2000
    changes: {stations.M2.input_buffer: 4}
  - id: faster
    requires: [buffer]
    changes: {stations.M2.process_time: {scale: 0.8}}
""",
)

RAN = re.compile(r"(\d+) replications run, (\d+) reused")


def rows(store: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(store) as db:
        return sorted(db.execute("SELECT model, replication FROM replications").fetchall())


def test_compare_command_end_to_end(scenario_file: Callable[..., Path], tmp_path: Path) -> None:
    """`twin compare` writes comparison.json; run again it reuses everything and adds no row."""
    path = scenario_file(SMALL, "small.yaml")
    out, json_path = tmp_path / "run", tmp_path / "cmp.json"
    args = ["compare", str(path), "--reps", "3", "--out", str(out), "--json", str(json_path)]
    first = invoke(*args, "--workers", "1")
    assert first.exit_code == 0, first.output
    doc = json.loads((out / "comparison.json").read_text())
    assert json.loads(json_path.read_text()) == doc
    expected = [p.name for p in default_plans(loads(SMALL))]
    assert sorted(doc["plans"]) == sorted(expected)
    assert sorted(doc["ranking"]) == sorted(expected)
    assert doc["best"] == doc["ranking"][0]
    assert set(doc["contributions"]) == set(doc["plans"][doc["best"]]["retrofits"])
    assert doc["baseline"]["replications"] == 3
    assert all(p["replications"] == 3 for p in doc["plans"].values())
    for plan in doc["plans"].values():
        assert set(plan["differences"]) == set(HEADLINE)
        assert set(plan["economics"]) >= {"capex_after_subsidy", "npv", "payback_years"}
    match = RAN.search(first.stderr)
    assert match is not None and int(match.group(1)) > 0 and int(match.group(2)) == 0
    assert json.loads((out / "experiment.json").read_text())["complete"] is True
    assert (out / "replications.csv").is_file()
    before = rows(out / "store.sqlite")
    model = loads(SMALL)
    needed = {BASELINE.name, *expected}
    needed |= {c.name for c in coalitions(model, parse_plan(model, doc["best"]))}
    assert len(before) == len(set(before)) == 3 * len(needed)

    again = invoke(*args, "--workers", "2")
    assert again.exit_code == 0, again.output
    match = RAN.search(again.stderr)
    assert match is not None, again.stderr
    assert int(match.group(1)) == 0
    assert int(match.group(2)) == len(before)
    assert "reused" in again.stderr
    assert rows(out / "store.sqlite") == before
    assert json.loads((out / "comparison.json").read_text()) == doc


def test_compare_command_with_explicit_plans(
    scenario_file: Callable[..., Path], tmp_path: Path
) -> None:
    """--plan picks the plans; the document holds exactly those."""
    path = scenario_file(SMALL, "small.yaml")
    out = tmp_path / "run"
    result = invoke(
        "compare", str(path), "--plan", "buffer", "--plan", "faster+buffer", "--reps", "2",
        "--horizon", "1h", "--out", str(out), "--workers", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "comparison.json").read_text())
    assert sorted(doc["plans"]) == ["buffer", "buffer+faster"]
    assert doc["scenario"]["horizon"] == 3600.0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--plan", "platform+turbo"], ["unknown retrofit 'turbo'"]),
        (["--plan", "faster"], ["'faster' requires buffer"]),
        (["--max-n", "-1"], ["--max-n"]),
        (["--precision", "2"], ["--precision"]),
        (["--reps", "0"], ["--reps"]),
    ],
)
def test_compare_command_refuses_bad_plans(
    args: list[str], words: list[str], scenario_file: Callable[..., Path], tmp_path: Path
) -> None:
    """A bad --plan or option exits 2 with a clear message and runs nothing."""
    path = scenario_file(SMALL, "small.yaml")
    result = invoke("compare", str(path), *args, "--out", str(tmp_path / "run"))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.stderr
    assert not (tmp_path / "run" / "store.sqlite").exists()


def test_compare_command_needs_retrofits(
    scenario_file: Callable[..., Path], tmp_path: Path
) -> None:
    """A scenario without retrofits has nothing to compare: exit 2."""
    path = scenario_file(SMALL.split("retrofits:")[0], "plain.yaml")
    result = invoke("compare", str(path), "--out", str(tmp_path / "run"))
    assert result.exit_code == 2, result.output
    assert "no retrofits" in result.stderr
    assert "Traceback" not in result.output
