"""The headline figures a model is judged on, read from one replication's KPIs.

The line's OEE is read at its bottleneck, found from the simulation by the active-period
method: in each replication the station with the longest mean active period (flagged
``bottleneck`` in its KPIs); over replications, the station flagged most often.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from twin.stats import Summary, summarize

Extract = Callable[[dict[str, Any]], float]


@dataclass(frozen=True)
class Bottleneck:
    """The station most often the bottleneck, and how sure that is."""

    station: str
    share: float
    replications: int
    runner_up: str | None = None
    runner_up_share: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "station": self.station,
            "share": self.share,
            "replications": self.replications,
            "runner_up": self.runner_up,
            "runner_up_share": self.runner_up_share,
        }


def bottleneck_of(kpis: Mapping[str, Any]) -> str | None:
    """The bottleneck of one replication (``None`` when no station was ever active)."""
    flagged = [sid for sid, st in kpis["stations"].items() if st.get("bottleneck") == 1.0]
    return flagged[0] if flagged else None


def bottleneck(reps: Mapping[int, Mapping[str, Any]]) -> Bottleneck | None:
    """The station that was the bottleneck in most replications (first in line on a tie)."""
    if not reps:
        return None
    order = {sid: i for i, sid in enumerate(reps[min(reps)]["stations"])}
    votes = Counter(sid for r in sorted(reps) if (sid := bottleneck_of(reps[r])) is not None)
    if not votes:
        return None
    ranked = sorted(votes, key=lambda sid: (-votes[sid], order.get(sid, len(order))))
    n = len(reps)
    second = ranked[1] if len(ranked) > 1 else None
    return Bottleneck(
        station=ranked[0],
        share=votes[ranked[0]] / n,
        replications=n,
        runner_up=second,
        runner_up_share=votes[second] / n if second else 0.0,
    )


def _oee_at(neck: str | None) -> Extract:
    def extract(k: dict[str, Any]) -> float:
        return float("nan") if neck is None else float(k["stations"][neck]["oee_index"])

    return extract


def headline(neck: str | None) -> dict[str, Extract]:
    """The figures a plan is judged on, and where each is read in a replication's KPIs.

    ``neck`` is the station whose OEE index is the line's (``None``: not known, NaN).
    """
    return {
        "throughput_per_hour": lambda k: float(k["line"]["throughput_per_hour"]),
        "oee": _oee_at(neck),
        "lead_time_s": lambda k: float(k["line"]["lead_time_s"]["mean"]),
        "wip": lambda k: float(k["line"]["wip"]),
        "scrap_rate": lambda k: float(k["line"]["scrap_rate"]),
    }


def neck_of(reps: Mapping[int, Mapping[str, Any]]) -> str | None:
    """The bottleneck station of these replications, or ``None``."""
    found = bottleneck(reps)
    return found.station if found else None


def levels(reps: dict[int, dict[str, Any]], neck: str | None) -> dict[str, Summary]:
    """Each headline figure summarized over the given replications, OEE read at ``neck``."""
    return {
        name: summarize([f(reps[r]) for r in sorted(reps)]) for name, f in headline(neck).items()
    }
