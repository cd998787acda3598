"""Tidy pandas tables of the reports: one observation per row, one variable per column.

Every table is long: a ``figure`` column holds the figure's dotted name, so figures added
to the documents later appear as new rows, never as missing columns. Pivot for a wide view:
``tables.stations.pivot(index="station", columns="figure", values="mean")``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from twin.figure import Figure, figures, is_figure, number

Document = Mapping[str, Any]

SUMMARY = ["mean", "ci95_halfwidth", "low", "high", "n"]


def _summary(figure: Figure) -> dict[str, float]:
    return {
        "mean": number(figure.mean),
        "ci95_halfwidth": number(figure.ci95),
        "low": number(figure.low),
        "high": number(figure.high),
        "n": figure.n,
    }


def _frame(rows: Iterable[Mapping[str, Any]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=columns)


def _values(figures: Mapping[str, Figure], indices: tuple[int, ...]) -> Iterable[dict[str, Any]]:
    for name, figure in figures.items():
        for index, value in zip(indices, figure.values, strict=True):
            yield {"replication": index, "figure": name, "value": number(value)}


@dataclass(frozen=True)
class RunTables:
    """``line``: figure + summary columns; ``stations``: station, figure + summary columns;
    ``replications``: replication, scope (``line`` or a station id), figure, value."""

    line: pd.DataFrame
    stations: pd.DataFrame
    replications: pd.DataFrame


def run_tables(doc: Document, indices: tuple[int, ...]) -> RunTables:
    """Tables of a run's document; ``indices`` number the replications behind the values."""
    scopes = {"line": figures(doc.get("line", {}))}
    scopes |= {sid: figures(tree) for sid, tree in doc.get("stations", {}).items()}
    line = [{"figure": name, **_summary(f)} for name, f in scopes["line"].items()]
    stations = [
        {"station": sid, "figure": name, **_summary(f)}
        for sid, found in scopes.items()
        if sid != "line"
        for name, f in found.items()
    ]
    reps = [
        {"scope": scope, **row}
        for scope, found in scopes.items()
        for row in _values(found, indices)
    ]
    return RunTables(
        _frame(line, ["figure", *SUMMARY]),
        _frame(stations, ["station", "figure", *SUMMARY]),
        _frame(reps, ["replication", "scope", "figure", "value"]).sort_values(
            "replication", kind="stable", ignore_index=True
        ),
    )


@dataclass(frozen=True)
class ComparisonTables:
    """``plans``: plan, rank, figure, level and paired-difference summaries (baseline first,
    rank 0); ``economics``: plan, item, value, ci95_halfwidth, low, high; ``contributions``:
    retrofit, figure, value; ``replications``: plan, replication, figure, value."""

    plans: pd.DataFrame
    economics: pd.DataFrame
    contributions: pd.DataFrame
    replications: pd.DataFrame


PLAN_COLUMNS = [
    "plan",
    "rank",
    "figure",
    "mean",
    "ci95_halfwidth",
    "difference",
    "difference_ci95_halfwidth",
    "difference_low",
    "difference_high",
    "replications",
]


def _plan_rows(name: str, plan: Document, rank: int) -> Iterable[dict[str, Any]]:
    differences = figures(plan.get("differences", {}))
    for figure, level in figures(plan["levels"]).items():
        diff = differences.get(figure)
        yield {
            "plan": name,
            "rank": rank,
            "figure": figure,
            "mean": number(level.mean),
            "ci95_halfwidth": number(level.ci95),
            "difference": number(diff.mean if diff else 0.0),
            "difference_ci95_halfwidth": number(diff.ci95 if diff else 0.0),
            "difference_low": number(diff.low if diff else 0.0),
            "difference_high": number(diff.high if diff else 0.0),
            "replications": plan["replications"],
        }


def _economics_rows(name: str, plan: Document) -> Iterable[dict[str, Any]]:
    """Numbers as they are; figures and ``{mean, low, high}`` ranges with their bounds."""
    for item, node in plan.get("economics", {}).items():
        if isinstance(node, str):
            continue
        row: dict[str, Any] = {"plan": name, "item": item}
        if is_figure(node):
            f = Figure.of(node)
            row |= {"value": f.mean, "ci95_halfwidth": f.ci95, "low": f.low, "high": f.high}
        elif isinstance(node, Mapping):
            row |= {"value": node.get("mean"), "low": node.get("low"), "high": node.get("high")}
        else:
            row["value"] = node
        yield {k: number(v) if k not in ("plan", "item") else v for k, v in row.items()}


def comparison_tables(doc: Document) -> ComparisonTables:
    """Tables of a comparison's document."""
    ranks = {name: i + 1 for i, name in enumerate(doc["ranking"])}
    everyone = {"baseline": doc["baseline"], **doc["plans"]}
    plans: list[dict[str, Any]] = []
    economics: list[dict[str, Any]] = []
    reps: list[dict[str, Any]] = []
    for name, plan in everyone.items():
        plans += _plan_rows(name, plan, ranks.get(name, 0))
        economics += _economics_rows(name, plan)
        indices = tuple(range(int(plan["replications"])))
        reps += [{"plan": name, **row} for row in _values(figures(plan["levels"]), indices)]
    contributions = [
        {"retrofit": rid, "figure": fig, "value": number(value)}
        for rid, shares in doc.get("contributions", {}).items()
        for fig, value in shares.items()
    ]
    return ComparisonTables(
        _frame(plans, PLAN_COLUMNS).sort_values("rank", kind="stable", ignore_index=True),
        _frame(economics, ["plan", "item", "value", "ci95_halfwidth", "low", "high"]),
        _frame(contributions, ["retrofit", "figure", "value"]),
        _frame(reps, ["plan", "replication", "figure", "value"]),
    )


@dataclass(frozen=True)
class SweepTables:
    """``points``: point, one column per swept parameter, figure + summary columns,
    replications; ``replications``: point, parameters, replication, figure, value."""

    points: pd.DataFrame
    replications: pd.DataFrame


def sweep_tables(doc: Document) -> SweepTables:
    """Tables of a sweep's document."""
    params = list(doc["parameters"])
    points: list[dict[str, Any]] = []
    reps: list[dict[str, Any]] = []
    for row in doc["points"]:
        head = {"point": row["point"], **{p: row["settings"].get(p) for p in params}}
        n = int(row["replications"])
        for name, f in figures(row).items():
            points.append({**head, "figure": name, **_summary(f), "replications": n})
        reps += [{**head, **r} for r in _values(figures(row), tuple(range(n)))]
    return SweepTables(
        _frame(points, ["point", *params, "figure", *SUMMARY, "replications"]),
        _frame(reps, ["point", *params, "replication", "figure", "value"]),
    )
