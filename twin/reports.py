"""Typed views of the results documents of run, compare and sweep (read, never computed).

The documents (``RunResult.summary()``, ``Comparison.summary()``, the sweep document) stay
the one serialised form; the classes here only read them, in one place. Station figures
are read generically, whatever their names, so the views keep working when figures are
added or renamed; nested figures get dotted names (``states.busy``, ``lead_time_s.p95``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from twin.figure import Figure, figures

if TYPE_CHECKING:
    from twin.tidy import ComparisonTables, RunTables, SweepTables

Document = Mapping[str, Any]
K = TypeVar("K")
V = TypeVar("V")


def _frozen(mapping: Mapping[K, V]) -> Mapping[K, V]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Figures:
    """Named figures (dotted names); ``group["wip"]`` or ``group.figures`` for all of them."""

    figures: Mapping[str, Figure]

    def __getitem__(self, name: str) -> Figure:
        try:
            return self.figures[name]
        except KeyError:
            known = ", ".join(self.figures)
            raise KeyError(f"no figure {name!r}; known: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.figures

    def names(self) -> list[str]:
        return list(self.figures)


@dataclass(frozen=True)
class LeadTime:
    """Lead time in seconds: mean, median and 95th percentile, each over replications."""

    mean: Figure
    p50: Figure
    p95: Figure


@dataclass(frozen=True)
class LineKPIs(Figures):
    """The line's figures; the headline ones as attributes, every one in ``figures``."""

    @property
    def throughput_per_hour(self) -> Figure:
        return self["throughput_per_hour"]

    @property
    def lead_time_s(self) -> LeadTime:
        return LeadTime(self["lead_time_s.mean"], self["lead_time_s.p50"], self["lead_time_s.p95"])

    @property
    def wip(self) -> Figure:
        return self["wip"]

    @property
    def scrap_rate(self) -> Figure:
        return self["scrap_rate"]

    @property
    def scrap_per_hour(self) -> Figure:
        return self["scrap_per_hour"]


@dataclass(frozen=True)
class StationKPIs(Figures):
    """One station's figures, by the names the results document gives them."""

    id: str = ""


class Report:
    """What every report shares: the document it reads and its serialisations."""

    document: Document

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the results document (JSON-ready)."""
        return copy.deepcopy(dict(self.document))

    def to_json(self) -> str:
        """The results document as JSON, keys sorted, as the command line writes it."""
        return json.dumps(self.document, indent=2, sort_keys=True, allow_nan=False) + "\n"


@dataclass(frozen=True, repr=False)
class RunReport(Report):
    """The outcome of ``twin.run``: line and station figures over the replications."""

    document: Document
    indices: tuple[int, ...]
    line: LineKPIs
    stations: Mapping[str, StationKPIs]

    @classmethod
    def of(cls, doc: Document, indices: Sequence[int] | None = None) -> RunReport:
        """Read a run's document; ``indices`` number the replications behind the values."""
        n = int(doc["replications"])
        stations = {
            sid: StationKPIs(_frozen(figures(tree)), sid)
            for sid, tree in doc.get("stations", {}).items()
        }
        return cls(
            doc,
            tuple(indices) if indices is not None else tuple(range(n)),
            LineKPIs(_frozen(figures(doc.get("line", {})))),
            _frozen(stations),
        )

    @property
    def name(self) -> str:
        return str(self.document["scenario"]["name"])

    @property
    def seed(self) -> int:
        return int(self.document["seed"])

    @property
    def replications(self) -> int:
        return int(self.document["replications"])

    @property
    def complete(self) -> bool:
        return bool(self.document["complete"])

    @property
    def errors(self) -> Mapping[int, str]:
        return _frozen({int(k): v for k, v in self.document.get("errors", {}).items()})

    def to_pandas(self) -> RunTables:
        from twin.tidy import run_tables

        return run_tables(self.document, self.indices)

    def __repr__(self) -> str:
        tp = self.line.throughput_per_hour
        return f"RunReport({self.name!r}, replications={self.replications}, throughput={tp}/h)"


@dataclass(frozen=True)
class PlanReport:
    """One plan of a comparison (the baseline too): its levels, gains and money."""

    name: str
    retrofits: tuple[str, ...]
    replications: int
    levels: Mapping[str, Figure]
    differences: Mapping[str, Figure]
    economics: Mapping[str, Any]

    @classmethod
    def of(cls, name: str, node: Mapping[str, Any]) -> PlanReport:
        return cls(
            name,
            tuple(node.get("retrofits", ())),
            int(node["replications"]),
            _frozen(figures(node.get("levels", {}))),
            _frozen(figures(node.get("differences", {}))),
            _frozen(node.get("economics", {})),
        )


@dataclass(frozen=True, repr=False)
class ComparisonReport(Report):
    """The outcome of ``twin.compare``: baseline, plans (best first) and attribution."""

    document: Document
    baseline: PlanReport
    plans: Mapping[str, PlanReport]

    @classmethod
    def of(cls, doc: Document) -> ComparisonReport:
        plans = {name: PlanReport.of(name, node) for name, node in doc["plans"].items()}
        return cls(doc, PlanReport.of("baseline", doc["baseline"]), _frozen(plans))

    @property
    def ranking(self) -> list[str]:
        return list(self.document["ranking"])

    @property
    def ranked_by(self) -> str:
        return str(self.document["ranked_by"])

    @property
    def best(self) -> PlanReport | None:
        best = self.document.get("best")
        return self.plans[best] if best else None

    @property
    def bottleneck(self) -> str | None:
        """The baseline's bottleneck station, where the headline ``oee`` is read."""
        neck = self.document.get("bottleneck")
        return None if neck is None else str(neck["station"])

    @property
    def bottleneck_share(self) -> float | None:
        """The share of baseline replications in which that station was the bottleneck."""
        neck = self.document.get("bottleneck")
        return None if neck is None else float(neck["share"])

    @property
    def contributions(self) -> Mapping[str, Mapping[str, float]]:
        """The best plan's gain split between its retrofits (Shapley values)."""
        return _frozen(self.document.get("contributions", {}))

    def to_pandas(self) -> ComparisonTables:
        from twin.tidy import comparison_tables

        return comparison_tables(self.document)

    def __repr__(self) -> str:
        return f"ComparisonReport(plans={len(self.plans)}, best={self.document.get('best')!r})"


@dataclass(frozen=True)
class PointReport:
    """One point of a sweep: its parameter values and its headline figures."""

    name: str
    settings: Mapping[str, Any]
    replications: int
    figures: Mapping[str, Figure]


@dataclass(frozen=True, repr=False)
class SweepReport(Report):
    """The outcome of ``twin.sweep``: one set of headline figures per parameter point."""

    document: Document
    points: tuple[PointReport, ...]

    @classmethod
    def of(cls, doc: Document) -> SweepReport:
        points = tuple(
            PointReport(
                str(row["point"]),
                _frozen(row["settings"]),
                int(row["replications"]),
                _frozen(figures(row)),
            )
            for row in doc["points"]
        )
        return cls(doc, points)

    @property
    def parameters(self) -> Mapping[str, list[Any]]:
        return _frozen(self.document["parameters"])

    def to_pandas(self) -> SweepTables:
        from twin.tidy import sweep_tables

        return sweep_tables(self.document)

    def __repr__(self) -> str:
        return f"SweepReport(parameters={list(self.parameters)}, points={len(self.points)})"
