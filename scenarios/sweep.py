"""Full factorial sweeps over scenario parameters (``--param path=v1,v2,...``)."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scenarios.batch import KPIs
from scenarios.figures import bottleneck, levels
from scenarios.retrofits import PatchError, patch
from scenarios.schema import Scenario
from scenarios.validation import validate
from twin.errors import Problem, ScenarioError, UsageError
from twin.files import atomic_open


@dataclass(frozen=True)
class Param:
    """One swept parameter: a dotted path and the values it takes."""

    path: str
    values: tuple[Any, ...]


def parse_param(text: str) -> Param:
    """``stations.M2.input_buffer=0,1,2`` -> Param; values are read as YAML scalars."""
    path, sep, rest = text.partition("=")
    path = path.strip()
    if not sep or not path or not rest.strip():
        raise UsageError(f"option --param: expected PATH=V1,V2,..., got {text!r}")
    try:
        values = tuple(yaml.safe_load(v.strip()) for v in rest.split(","))
    except yaml.YAMLError as exc:
        raise UsageError(f"option --param {path}: cannot read the values: {exc}") from None
    if any(v is None for v in values):
        raise UsageError(f"option --param {path}: empty value in {rest!r}")
    return Param(path, values)


@dataclass(frozen=True)
class Point:
    """One combination of parameter values."""

    settings: tuple[tuple[str, Any], ...]

    @property
    def name(self) -> str:
        return ";".join(f"{path}={value}" for path, value in self.settings)


def points(params: Sequence[Param]) -> list[Point]:
    """Every combination of the parameters' values (full factorial)."""
    combos = itertools.product(*(p.values for p in params))
    return [Point(tuple(zip((p.path for p in params), c, strict=True))) for c in combos]


def model_at(scenario: Scenario, point: Point) -> Scenario:
    """The scenario with one point's settings, validated."""
    data = scenario.model_dump(mode="json")
    try:
        data = patch(data, dict(point.settings))
    except PatchError as exc:
        raise ScenarioError(f"--param {point.name}", [Problem("", str(exc))]) from None
    return validate(data, f"{scenario.name} with {point.name}")


def table(
    scenario: Scenario, grid: Sequence[Point], runs: dict[str, dict[int, KPIs]]
) -> list[dict[str, Any]]:
    """One row per point: its settings and each headline figure summarized."""
    rows = []
    for point in grid:
        reps = runs[point.name]
        neck = bottleneck(reps)
        rows.append(
            {
                "point": point.name,
                "settings": dict(point.settings),
                "bottleneck": neck.as_dict() if neck else None,
                **levels(reps, neck.station if neck else None),
                "replications": len(reps),
            }
        )
    return rows


def document(
    scenario: Scenario, params: Sequence[Param], rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """The sweep document (JSON-ready): the resolved scenario, the parameters, one row a point."""
    return {
        "scenario": scenario.model_dump(mode="json"),
        "seed": scenario.seed,
        "parameters": {p.path: list(p.values) for p in params},
        "points": rows,
    }


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """One line per point: settings, then mean and half-width of every figure."""
    fields: list[str] = []
    flat = []
    for row in rows:
        line: dict[str, Any] = dict(row["settings"])
        line["replications"] = row["replications"]
        for key, value in row.items():
            if isinstance(value, dict) and "mean" in value:
                line[f"{key}.mean"] = value["mean"]
                line[f"{key}.ci95_halfwidth"] = value["ci95_halfwidth"]
        flat.append(line)
        fields += [k for k in line if k not in fields]
    with atomic_open(path, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(flat)
