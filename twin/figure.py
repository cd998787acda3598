"""A figure over replications, as the results documents summarize it, and how to find them.

A summarized figure is a mapping ``{mean, ci95_halfwidth, values}``; the documents nest
them in groups (``line.lead_time_s.p95``, ``stations.M1.states.busy``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One figure over replications: its mean, the 95% CI half-width and every value."""

    mean: float | None
    ci95: float | None
    values: tuple[float | None, ...]

    @classmethod
    def of(cls, summary: Mapping[str, Any]) -> Figure:
        return cls(summary.get("mean"), summary.get("ci95_halfwidth"), tuple(summary["values"]))

    @property
    def n(self) -> int:
        """Replications in which the figure could be computed (non-null values)."""
        return sum(v is not None for v in self.values)

    @property
    def low(self) -> float | None:
        return None if self.mean is None or self.ci95 is None else self.mean - self.ci95

    @property
    def high(self) -> float | None:
        return None if self.mean is None or self.ci95 is None else self.mean + self.ci95

    def __str__(self) -> str:
        if self.mean is None:
            return "n/a"
        return f"{self.mean:.4g}" if self.ci95 is None else f"{self.mean:.4g} ± {self.ci95:.2g}"


def is_figure(node: Any) -> bool:
    """A summarized figure is a mapping with ``mean`` and a list of ``values``."""
    return isinstance(node, Mapping) and isinstance(node.get("values"), list)


def figures(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Figure]:
    """Every figure in a tree of summaries, by dotted name, in document order."""
    out: dict[str, Figure] = {}
    for key, node in tree.items():
        if is_figure(node):
            out[f"{prefix}{key}"] = Figure.of(node)
        elif isinstance(node, Mapping):
            out.update(figures(node, f"{prefix}{key}."))
    return out


def number(value: Any) -> float:
    """A document number as a float, null as NaN (what a DataFrame shows as missing)."""
    return math.nan if value is None else float(value)
