"""Turning per-replication figures into summaries over replications, and flat rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from twin.stats import summarize


def aggregate(reps: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Nested mappings of numbers, one per replication -> the same tree of summaries."""
    first = reps[0]
    out: dict[str, Any] = {}
    for key, value in first.items():
        if isinstance(value, Mapping):
            out[key] = aggregate([r[key] for r in reps])
        else:
            out[key] = summarize([float(r[key]) for r in reps])
    return out


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{'a': {'b': 1}}`` -> ``{'a.b': 1}``."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out
