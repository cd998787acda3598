"""Plans at scale: dense `requires` graphs, catalogs with too many plans, bounded attribution,
and re-running a comparison that already finished."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lines import two_station
from typer.testing import CliRunner

from scenarios.compare import MAX_SHAPLEY_PLAYERS, coalitions, shapley
from scenarios.loader import loads
from scenarios.retrofits import (
    MAX_DEFAULT_PLANS,
    Plan,
    default_plans,
    feasible,
    reduce_to_feasible,
    topological,
)
from twin.cli import app
from twin.errors import UsageError

RAN = re.compile(r"(\d+) replications run, (\d+) reused from the store; results in (\S+)")


def catalog(requires: dict[int, list[int]], n: int) -> str:
    """``n`` retrofits r0..r{n-1}, each setting M2's buffer, with the given requirements."""
    items = []
    for i in range(n):
        needs = ", ".join(f"r{j}" for j in requires.get(i, []))
        items.append(
            f"  - id: r{i}\n    requires: [{needs}]\n"
            f"    changes: {{stations.M2.input_buffer: {i % 7 + 1}}}\n"
        )
    return two_station(
        name="plan line", seed=2, horizon=1000, replications=2, retrofits="".join(items)
    )


def test_dense_requires_graph_of_forty_validates_and_plans() -> None:
    """40 retrofits each requiring every earlier one: validated, and its 40 plans are prefixes.

    Without memoised closures, checking this catalog walks 2^39 paths.
    """
    s = loads(catalog({i: list(range(i)) for i in range(40)}, 40), "dense.yaml")
    plans = default_plans(s)
    assert [len(p.retrofits) for p in plans] == list(range(1, 41))
    assert plans[-1].retrofits == tuple(f"r{i}" for i in range(40))
    chosen = {f"r{i}" for i in range(40) if i != 20}
    assert reduce_to_feasible(s.retrofits, chosen) == tuple(f"r{i}" for i in range(20))


def test_requirements_listed_later_come_first() -> None:
    """A retrofit requiring one further down the catalog is placed after it."""
    s = loads(catalog({0: [2], 2: [1]}, 3), "order.yaml")
    assert topological(s.retrofits) == ["r1", "r2", "r0"]
    assert [p.name for p in default_plans(s)] == ["r1", "r1+r2", "r0+r1+r2"]


def test_a_dense_graph_with_too_many_plans_is_refused() -> None:
    """40 retrofits in three chains allow 15 × 14 × 14 − 1 plans: refused, not enumerated.

    With at most 9 retrofits a plan there are C(12, 3) − 1 = 219 of them, with 10 already 285.
    """
    requires = {i: [i - 3] for i in range(3, 40)}
    s = loads(catalog(requires, 40), "chains.yaml")
    with pytest.raises(UsageError, match=r"256 plans; compare fewer with --max-n 9 \(219 plans\)"):
        default_plans(s)


def test_twenty_five_independent_retrofits_are_refused_clearly() -> None:
    """2^25 − 1 plans would be 33 million runs: the error names --max-n 1 and --plan."""
    s = loads(catalog({}, 25), "wide.yaml")
    with pytest.raises(UsageError) as info:
        default_plans(s)
    message = str(info.value)
    assert "25 retrofits allow more than 256 plans" in message
    assert "--max-n 1 (25 plans)" in message and "--plan" in message
    assert len(default_plans(s, 1)) == 25
    with pytest.raises(UsageError, match="with --max-n 2"):
        default_plans(s, 2)


def test_wide_catalog_through_the_command(
    scenario_file: Callable[..., Path], tmp_path: Path
) -> None:
    """`twin compare` on 25 independent retrofits exits 2 at once and creates no store."""
    path = scenario_file(catalog({}, 25), "wide.yaml")
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["compare", str(path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "error:" in result.stderr and "--max-n 1" in result.stderr
    assert "Traceback" not in result.output
    assert not (out / "store.sqlite").exists()


def test_default_plans_are_feasible_and_bounded() -> None:
    """Every default plan satisfies its requirements; there are never more than the limit."""
    s = loads(catalog({1: [0], 3: [2], 4: [2, 3], 6: [5]}, 8), "mixed.yaml")
    plans = default_plans(s)
    assert 0 < len(plans) <= MAX_DEFAULT_PLANS
    assert all(feasible(s.retrofits, p.retrofits) for p in plans)
    assert len({p.name for p in plans}) == len(plans)
    # r0/r1: 3 states, r2/r3/r4: 4, r5/r6: 3, r7: 2 -> 3*4*3*2 - 1 non-empty subsets
    assert len(plans) == 3 * 4 * 3 * 2 - 1


def test_attribution_is_refused_beyond_its_bound() -> None:
    """Shapley values of a 9-retrofit plan would simulate 512 coalitions: refused clearly."""
    s = loads(catalog({}, 9), "big.yaml")
    big = Plan(tuple(r.id for r in s.retrofits))
    assert len(big.retrofits) == MAX_SHAPLEY_PLAYERS + 1
    with pytest.raises(UsageError, match=r"2\^9 coalitions .* at most 8"):
        coalitions(s, big)
    with pytest.raises(UsageError, match="at most 8"):
        shapley(s, big, lambda p: float(len(p.retrofits)))
    eight = Plan(big.retrofits[:8])
    assert len(coalitions(s, eight)) == 2**8
    additive = shapley(s, eight, lambda p: float(sum(int(r[1:]) for r in p.retrofits)))
    assert additive == pytest.approx({f"r{i}": float(i) for i in range(8)})


def test_compare_without_attribution_for_a_large_best_plan(
    scenario_file: Callable[..., Path], tmp_path: Path
) -> None:
    """A best plan beyond the bound is compared, and the output says why it is not attributed."""
    path = scenario_file(catalog({}, 9), "big.yaml")
    plan = "+".join(f"r{i}" for i in range(9))
    out = tmp_path / "run"
    args = ["compare", str(path), "--plan", plan, "--out", str(out), "--workers", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads((out / "comparison.json").read_text())
    assert doc["contributions"] == {}
    assert doc["attribution_skipped"] == f"{plan} has more than 8 retrofits"
    assert "no attribution" in result.stdout
    ran = RAN.search(result.stderr)
    assert ran is not None and ran.group(1) == "4"  # the baseline and the plan, twice each


def test_rerunning_a_finished_compare_reuses_its_store(
    scenario_file: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same command again (no --out) reuses the finished run instead of a new folder."""
    path = scenario_file(catalog({1: [0]}, 2), "small.yaml")
    monkeypatch.chdir(tmp_path)
    args = ["compare", str(path), "--workers", "1"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    ran = RAN.search(first.stderr)
    assert ran is not None and int(ran.group(1)) == 2 * 3 and int(ran.group(2)) == 0
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    reused = RAN.search(again.stderr)
    assert reused is not None
    assert (int(reused.group(1)), int(reused.group(2))) == (0, 6)
    assert reused.group(3) == ran.group(3)
    assert f"reusing the finished experiment in {ran.group(3)}" in again.stderr
    assert len(list((tmp_path / "runs").iterdir())) == 1
    other = CliRunner().invoke(app, [*args, "--seed", "9"])
    assert other.exit_code == 0, other.output
    assert len(list((tmp_path / "runs").iterdir())) == 2
