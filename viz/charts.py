"""The charts of a report, drawn with matplotlib's Agg canvas (no display, no pyplot state).

Each function takes what ``viz.chartdata`` computed and returns a figure; machine states
are drawn in the project's one colour code (``twin.colours``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from twin.colours import STATE_COLOURS
from twin.report import ALL_STATES, SOMETIMES_COLUMNS, STATE_COLUMNS
from viz.chartdata import (
    HEADLINE,
    HEADLINE_SCALE,
    HEADLINE_TITLES,
    LOSSES,
    LeadTimes,
    OverTime,
)

DPI = 100
# The planned stops share their grey; maintenance and off are hatched to tell them from held.
HATCH = {"maintenance": "///", "off": "..."}
LOSS_COLOURS = {
    "oee": "#006d77",
    "quality loss": "#8c564b",
    "effectiveness loss": "#e377c2",
    "availability loss": "#c7c7c7",
}
MODEL_COLOURS = ("#1f77b4", "#ff7f0e", "#17becf", "#bcbd22")


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG file."""
    fig.savefig(path, format="png", dpi=DPI)
    return path


def _hours(ax: Axes) -> None:
    ax.set_xlabel("simulated time (h)")
    ax.grid(True, alpha=0.3)


def states(models: Sequence[tuple[str, Mapping[str, Mapping[str, float]]]]) -> Figure:
    """Where each station's time goes: one stacked bar per station, one panel per model."""
    stations = max(len(shares) for _, shares in models)
    fig = _figure(9.0, 1.2 + 0.45 * stations * len(models) + 0.6)
    axes = fig.subplots(len(models), 1, squeeze=False)[:, 0]
    for ax, (label, shares) in zip(axes, models, strict=True):
        names = list(shares)[::-1]
        left = np.zeros(len(names))
        for state in ALL_STATES:
            widths = np.nan_to_num([100 * shares[sid][state] for sid in names])
            ax.barh(
                names,
                widths,
                left=left,
                color=STATE_COLOURS[state],
                hatch=HATCH.get(state),
                edgecolor="white",
                linewidth=0.5,
                label=state,
            )
            left += widths
        ax.set_xlim(0, 100)
        ax.set_xlabel("share of observed time (%)")
        ax.set_title(label, loc="left", fontsize=10)
    # Off and operator only where some station spends time in them, as the terminal does.
    shown = [*STATE_COLUMNS] + [
        s
        for s in SOMETIMES_COLUMNS
        if any(st.get(s, 0.0) > 0 for _, shares in models for st in shares.values())
    ]
    handles = [
        Patch(facecolor=STATE_COLOURS[s], hatch=HATCH.get(s), edgecolor="white", label=s)
        for s in shown
    ]
    fig.legend(
        handles=handles, loc="outside upper center", ncols=len(shown) if len(shown) <= 7 else 5
    )
    return fig


def oee_losses(models: Sequence[tuple[str, Mapping[str, Mapping[str, float]]]]) -> Figure:
    """Per station, the planned busy time split into OEE and its three losses."""
    stations = max(len(parts) for _, parts in models)
    fig = _figure(9.0, 1.2 + 0.45 * stations * len(models) + 0.6)
    axes = fig.subplots(len(models), 1, squeeze=False)[:, 0]
    gains = False
    for ax, (label, parts) in zip(axes, models, strict=True):
        names = list(parts)[::-1]
        left = np.zeros(len(names))
        for name in LOSSES:
            raw = np.asarray([100 * parts[sid][name] for sid in names])
            gains |= bool(np.any(raw < 0))
            widths = np.clip(np.nan_to_num(raw), 0, None)
            ax.barh(names, widths, left=left, color=LOSS_COLOURS[name], label=name)
            left += widths
        ax.set_xlim(0, max(100.0, float(left.max(initial=0))))
        ax.set_xlabel("share of planned busy time (%)")
        ax.set_title(label, loc="left", fontsize=10)
    handles = [Patch(facecolor=LOSS_COLOURS[n], label=n) for n in LOSSES]
    note = "an effectiveness above 1 (faster than the ideal cycle) is drawn as no loss"
    fig.legend(
        handles=handles,
        loc="outside upper center",
        ncols=len(LOSSES),
        title=note if gains else None,
        title_fontsize=8,
    )
    return fig


def _band(ax: Axes, t: np.ndarray, mean: np.ndarray, half: np.ndarray, **kw: Any) -> None:
    ax.plot(t / 3600, mean, **kw)
    if np.any(np.isfinite(half)):
        ax.fill_between(t / 3600, mean - half, mean + half, color=kw.get("color"), alpha=0.2)


def over_time(models: Sequence[tuple[str, OverTime, Mapping[str, Any]]]) -> Figure:
    """WIP (top) and throughput (bottom) over time, each model in its colour, with the
    run's KPIs as dashed lines and the warm-up shaded."""
    fig = _figure(9.0, 6.0)
    wip_ax, tp_ax = fig.subplots(2, 1, sharex=True)
    for (label, data, line), colour in zip(models, MODEL_COLOURS, strict=False):
        w = data.wip
        edges = np.concatenate([w.t, data.ends[-1:]]) / 3600
        name = f"{label}: WIP, mean of each interval"
        wip_ax.stairs(w.mean, edges, color=colour, linewidth=1.6, baseline=None, label=name)
        level = data.level
        name = f"{label}: parts in the line at each sample"
        wip_ax.plot(level.t / 3600, level.mean, color=colour, linewidth=0.6, alpha=0.6, label=name)
        _kpi(wip_ax, line["wip"], colour)
        tp = data.throughput
        edges = np.concatenate([[0.0], tp.t]) / 3600
        name = f"{label}: in each interval"
        tp_ax.stairs(tp.mean, edges, color=colour, linewidth=1.0, baseline=None, label=name)
        c = data.cumulative
        name = f"{label}: since the warm-up (95% CI band)"
        _band(tp_ax, c.t, c.mean, c.half, color=colour, linewidth=2.0, label=name)
        _kpi(tp_ax, line["throughput_per_hour"], colour)
    first = models[0][1]
    for ax in (wip_ax, tp_ax):
        if first.warmup > 0:
            ax.axvspan(0, first.warmup / 3600, color="#eeeeee", zorder=0)
        ax.set_xlim(0, first.horizon / 3600)
        _hours(ax)
        ax.legend(fontsize=7, loc="lower right")
    wip_ax.set_ylabel("WIP (parts)")
    wip_ax.set_title("WIP over time (dashed: the WIP KPI; grey: warm-up)", loc="left", fontsize=10)
    tp_ax.set_ylabel("good parts/h")
    tp_ax.set_title("throughput over time (dashed: the throughput KPI)", loc="left", fontsize=10)
    return fig


def _kpi(ax: Axes, figure: Mapping[str, Any], colour: str) -> None:
    mean = figure.get("mean")
    if mean is not None:
        ax.axhline(mean, color=colour, linestyle="--", linewidth=1.0)


def lead_time(models: Sequence[tuple[str, LeadTimes, Mapping[str, Any]]]) -> Figure:
    """The lead-time distribution of each model (density over logarithmic bins), with its
    mean, median and 95th percentile."""
    fig = _figure(9.0, 4.2)
    ax = fig.subplots()
    top = max((float(lt.edges[-1]) for _, lt, _ in models if lt.counts.size), default=60.0)
    minutes = top >= 120
    scale = 1 / 60 if minutes else 1.0
    for (label, lt, lead), colour in zip(models, MODEL_COLOURS, strict=False):
        if not lt.counts.size:
            continue
        widths = np.diff(lt.edges) * scale
        density = lt.counts / max(lt.total, 1) / widths
        ax.stairs(density, lt.edges * scale, fill=True, alpha=0.35, color=colour, label=label)
        ax.stairs(density, lt.edges * scale, color=colour, linewidth=1.0)
        for stat, style in (("mean", "-"), ("p50", "--"), ("p95", ":")):
            value = lead[stat].get("mean")
            if value is not None:
                ax.axvline(
                    value * scale,
                    color=colour,
                    linestyle=style,
                    linewidth=1.2,
                    label=f"{label}: {stat} {value * scale:,.1f}",
                )
    unit = "min" if minutes else "s"
    ax.set_xlabel(f"lead time ({unit})")
    ax.set_ylabel(f"share of parts per {unit}")
    ax.set_title(
        "lead-time histogram (parts that entered after the warm-up)", loc="left", fontsize=10
    )
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def _whiskers(ax: Axes, labels: list[str], figures: list[Mapping[str, Any]], scale: float) -> None:
    means = [math.nan if f.get("mean") is None else f["mean"] * scale for f in figures]
    halves = [
        0.0 if f.get("ci95_halfwidth") is None else f["ci95_halfwidth"] * scale for f in figures
    ]
    y = np.arange(len(labels))[::-1]
    ax.barh(y, np.nan_to_num(means), color="#7f9fbf")
    ax.errorbar(means, y, xerr=halves, fmt="o", color="black", capsize=4, markersize=3)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, labels)
    ax.grid(True, axis="x", alpha=0.3)


def deltas(doc: Mapping[str, Any]) -> Figure:
    """Each plan minus the baseline, paired over replications: mean and 95% CI whiskers."""
    ranked = list(doc["ranking"])
    fig = _figure(11.0, 1.4 + 0.4 * len(ranked) + 0.5)
    axes = fig.subplots(1, len(HEADLINE), sharey=True)
    for ax, key in zip(axes, HEADLINE, strict=True):
        figures = [doc["plans"][p]["differences"][key] for p in ranked]
        _whiskers(ax, ranked, figures, HEADLINE_SCALE[key])
        ax.set_title("Δ " + HEADLINE_TITLES[key].replace(" (", "\n("), fontsize=9)
    fig.suptitle(
        "plans against the baseline (mean and 95% CI of the paired differences)", fontsize=10
    )
    return fig


def contributions(doc: Mapping[str, Any]) -> Figure:
    """What each retrofit brings to the best plan (Shapley values)."""
    shares = doc.get("contributions") or {}
    names = list(shares)
    fig = _figure(9.0, 1.6 + 0.4 * max(len(names), 1))
    tp_ax, cash_ax = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(names))[::-1]
    for ax, key, title in (
        (tp_ax, "throughput_per_hour", "Δ throughput (good parts/h)"),
        (cash_ax, "gross_benefit_per_year", "gross benefit per year"),
    ):
        values = [shares[n][key] for n in names]
        ax.barh(y, values, color="#7f9fbf")
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(y, names)
        ax.set_title(title, fontsize=9)
        ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle(f"what each retrofit brings to {doc.get('best')} (Shapley values)", fontsize=10)
    return fig


def economics(doc: Mapping[str, Any]) -> Figure:
    """Payback (years, with its range) and NPV (mean and 95% CI) of each plan."""
    ranked = list(doc["ranking"])
    fig = _figure(10.0, 1.4 + 0.4 * len(ranked) + 0.5)
    pay_ax, npv_ax = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(ranked))[::-1]
    for i, name in zip(y, ranked, strict=True):
        e = doc["plans"][name]["economics"]
        pay = e["payback_years"]
        if pay.get("mean") is None:
            pay_ax.text(0, i, " never", va="center", fontsize=8)
            continue
        high = pay.get("high")
        low = pay.get("low") or pay["mean"]
        err = [[pay["mean"] - low], [(high if high is not None else pay["mean"]) - pay["mean"]]]
        pay_ax.barh(i, pay["mean"], color="#1f77b4", alpha=0.6)
        pay_ax.errorbar(pay["mean"], i, xerr=err, fmt="o", color="black", capsize=4, markersize=3)
        pay_ax.plot([e["horizon_years"]], [i], marker="|", color="#d62728", markersize=14)
    pay_ax.set_yticks(y, ranked)
    pay_ax.set_title("payback (years; red mark: the plan's horizon)", fontsize=9)
    pay_ax.grid(True, axis="x", alpha=0.3)
    currency = doc["plans"][ranked[0]]["economics"]["currency"] if ranked else ""
    _whiskers(npv_ax, ranked, [doc["plans"][p]["economics"]["npv"] for p in ranked], 1.0)
    npv_ax.set_title(f"NPV ({currency}; mean and 95% CI)", fontsize=9)
    fig.suptitle("payback and net present value of each plan", fontsize=10)
    return fig


def response(doc: Mapping[str, Any]) -> Figure:
    """Each headline KPI (rows) against each swept parameter (columns): mean and 95% CI,
    one line per combination of the other parameters' values."""
    params = list(doc["parameters"])
    rows = doc["points"]
    fig = _figure(3.6 * len(params) + 1.0, 2.2 * len(HEADLINE) + 0.6)
    axes = fig.subplots(len(HEADLINE), len(params), squeeze=False)
    for col, param in enumerate(params):
        values = list(doc["parameters"][param])
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        x_of = {str(v): (float(v) if numeric else float(i)) for i, v in enumerate(values)}
        others = [p for p in params if p != param]
        groups = sorted({tuple(str(r["settings"][o]) for o in others) for r in rows})
        for row, key in enumerate(HEADLINE):
            ax = axes[row][col]
            for group, colour in zip(groups, itertools.cycle(MODEL_COLOURS), strict=False):
                chosen = [r for r in rows if tuple(str(r["settings"][o]) for o in others) == group]
                chosen.sort(key=lambda r: x_of[str(r["settings"][param])])
                xs = [x_of[str(r["settings"][param])] for r in chosen]
                scale = HEADLINE_SCALE[key]
                ys = [
                    math.nan if r[key]["mean"] is None else r[key]["mean"] * scale for r in chosen
                ]
                err = [
                    0.0 if r[key]["ci95_halfwidth"] is None else r[key]["ci95_halfwidth"] * scale
                    for r in chosen
                ]
                label = ", ".join(f"{o}={v}" for o, v in zip(others, group, strict=True))
                ax.errorbar(
                    xs,
                    ys,
                    yerr=err,
                    marker="o",
                    capsize=3,
                    color=colour,
                    label=label or None,
                    markersize=4,
                )
            if not numeric:
                ax.set_xticks([x_of[str(v)] for v in values], [str(v) for v in values])
            ax.grid(True, alpha=0.3)
            if col == 0:
                ax.set_ylabel(HEADLINE_TITLES[key], fontsize=8)
            if row == len(HEADLINE) - 1:
                ax.set_xlabel(param, fontsize=8)
            if row == 0 and others and len(groups) <= 6:
                ax.legend(fontsize=6)
    fig.suptitle("response of each KPI to each parameter (mean and 95% CI)", fontsize=10)
    return fig
