"""What each chart of a report draws, computed from the results documents and histories.

Kept apart from the drawing (``viz.charts``) so that the figures a chart shows can be
checked against the results they come from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from twin.report import ALL_STATES
from twin.stats import summarize

LOSSES = ("oee", "quality loss", "effectiveness loss", "availability loss")
"""The parts of a station's planned busy time (they add up to 1): OEE index = A x E x Q,
quality loss A x E x (1 - Q), effectiveness loss A x (1 - E), availability loss 1 - A."""

HEADLINE = ("throughput_per_hour", "oee", "lead_time_s", "wip", "scrap_rate")
HEADLINE_TITLES = {
    "throughput_per_hour": "throughput (good parts/h)",
    "oee": "OEE index at the bottleneck (%)",
    "lead_time_s": "lead time, mean (min)",
    "wip": "WIP (parts)",
    "scrap_rate": "scrap rate (%)",
}
HEADLINE_SCALE = {
    "throughput_per_hour": 1.0,
    "oee": 100.0,
    "lead_time_s": 1 / 60,
    "wip": 1.0,
    "scrap_rate": 100.0,
}


def _mean(figure: Mapping[str, Any]) -> float:
    value = figure.get("mean")
    return math.nan if value is None else float(value)


def state_shares(doc: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Per station, the mean share of observed time in each state (they add up to 1)."""
    return {
        sid: {state: _mean(st["states"].get(state, {})) for state in ALL_STATES}
        for sid, st in doc["stations"].items()
    }


def oee_losses(doc: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Per station, OEE and its three losses as shares of planned busy time (see
    ``LOSSES``), each the mean over replications of that replication's figure."""
    out: dict[str, dict[str, float]] = {}
    for sid, st in doc["stations"].items():
        rows = zip(
            st["availability"]["values"],
            st["effectiveness"]["values"],
            st["quality_ratio"]["values"],
            strict=True,
        )
        parts: dict[str, list[float]] = {name: [] for name in LOSSES}
        for a, e, q in rows:
            if a is None or e is None or q is None:
                continue
            parts["oee"].append(a * e * q)
            parts["quality loss"].append(a * e * (1 - q))
            parts["effectiveness loss"].append(a * (1 - e))
            parts["availability loss"].append(1 - a)
        out[sid] = {k: float(np.mean(v)) if v else math.nan for k, v in parts.items()}
    return out


@dataclass(frozen=True)
class Band:
    """A series over replications at each time: mean and 95% CI half-width (NaN where it
    cannot be computed)."""

    t: np.ndarray
    mean: np.ndarray
    half: np.ndarray


def _band(t: Sequence[float], rows: list[list[float]]) -> Band:
    means, halves = [], []
    for column in zip(*rows, strict=True):
        s = summarize(list(column))
        means.append(math.nan if s["mean"] is None else s["mean"])
        halves.append(math.nan if s["ci95_halfwidth"] is None else s["ci95_halfwidth"])
    return Band(np.asarray(t, dtype=float), np.asarray(means), np.asarray(halves))


def _num(values: Sequence[float | None]) -> np.ndarray:
    return np.asarray([math.nan if v is None else v for v in values], dtype=float)


def _common(histories: Sequence[Mapping[str, Any]]) -> list[float]:
    """The sample times, which every replication of one model shares."""
    t = list(histories[0]["t"])
    for h in histories[1:]:
        if list(h["t"]) != t:
            raise ValueError("the replications were sampled at different times")
    return t


def interval_wip(history: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The WIP time average over each sampling interval after the warm-up, from the
    sampled WIP averages since the warm-up (exact, not a sample of the level): returns the
    intervals' start times (the warm-up end for the first one) and their averages."""
    t = np.asarray(history["t"], dtype=float)
    warmup = float(history["warmup_s"])
    wip = _num(history["series"]["wip"])
    area = np.where(t > warmup, wip * (t - warmup), 0.0)
    start = np.maximum(np.concatenate([[0.0], t[:-1]]), warmup)
    after = t > warmup
    prev = np.concatenate([[0.0], area[:-1]])
    avg = (area - prev)[after] / (t - start)[after]
    return start[after], avg


def interval_throughput(history: Mapping[str, Any]) -> np.ndarray:
    """Good parts per hour in each sampling interval (the first from time 0)."""
    t = np.asarray(history["t"], dtype=float)
    good = _num(history["series"]["good"])
    dt = np.diff(np.concatenate([[0.0], t]))
    dgood = np.diff(np.concatenate([[0.0], good]))
    return np.asarray(dgood * 3600.0 / dt)


@dataclass(frozen=True)
class OverTime:
    """WIP and throughput of one model over time, over its replications."""

    warmup: float
    horizon: float
    wip: Band  # time average per interval after the warm-up (``t``: interval starts)
    ends: np.ndarray  # interval ends, the sample times after the warm-up
    level: Band  # parts in the line at each sample time
    throughput: Band  # per interval (``t``: sample times, the intervals' ends)
    cumulative: Band  # throughput since the warm-up, at each sample time


def over_time(histories: Sequence[Mapping[str, Any]]) -> OverTime:
    t = _common(histories)
    first = histories[0]
    starts, _ = interval_wip(first)
    wip_rows = [interval_wip(h)[1].tolist() for h in histories]
    series = [h["series"] for h in histories]
    return OverTime(
        float(first["warmup_s"]),
        float(first["horizon_s"]),
        _band(starts.tolist(), wip_rows),
        np.asarray(t)[np.asarray(t) > float(first["warmup_s"])],
        _band(t, [_num(s["in_system"]).tolist() for s in series]),
        _band(t, [interval_throughput(h).tolist() for h in histories]),
        _band(t, [_num(s["throughput_per_hour"]).tolist() for s in series]),
    )


def time_average(starts: np.ndarray, ends: np.ndarray, values: np.ndarray) -> float:
    """The time average of a step series (value ``values[i]`` on ``[starts[i], ends[i])``)."""
    widths = ends - starts
    return float(np.sum(values * widths) / np.sum(widths))


@dataclass(frozen=True)
class LeadTimes:
    """The lead-time histogram of one model, its replications added up bin by bin."""

    edges: np.ndarray  # seconds, len(counts) + 1
    counts: np.ndarray
    zeros: int

    @property
    def total(self) -> int:
        return int(self.counts.sum()) + self.zeros


def lead_times(histories: Sequence[Mapping[str, Any]]) -> LeadTimes:
    """Add the replications' logarithmic bins; empty bins in between are kept (as 0)."""
    bases = {float(h["lead_time"]["base"]) for h in histories}
    if len(bases) != 1:
        raise ValueError("the replications' lead-time bins differ")
    base = bases.pop()
    counts: dict[int, int] = {}
    zeros = 0
    for h in histories:
        hist = h["lead_time"]
        zeros += int(hist["zeros"])
        for key, count in zip(hist["keys"], hist["counts"], strict=True):
            counts[int(key)] = counts.get(int(key), 0) + int(count)
    if not counts:
        return LeadTimes(np.asarray([]), np.asarray([], dtype=int), zeros)
    keys = np.arange(min(counts), max(counts) + 1)
    edges = base ** np.concatenate([keys, [keys[-1] + 1]]).astype(float)
    return LeadTimes(edges, np.asarray([counts.get(int(k), 0) for k in keys]), zeros)
