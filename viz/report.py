"""``twin report``: one self-contained HTML page for a kept run, with its charts as PNG files.

The page holds the KPI tables the terminal prints, then where each station's time goes,
WIP and throughput over time, the lead-time histogram and the OEE losses per station, for
the run (or, for a comparison, the baseline and the best plan; for a sweep, its points of
lowest and highest throughput); a line of the smart-workshop layer adds its network,
readings, alarms, crews, breakdowns and maintenances; a comparison adds the paired KPI
differences, the Shapley contributions of the best plan's retrofits, payback and NPV; a
sweep adds the response of each KPI to each parameter. See docs/report.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from twin.errors import UsageError
from twin.files import write_atomic
from twin.report import (
    comparison_table,
    contribution_table,
    has_smart,
    indicator_table,
    line_table,
    quality_table,
    smart_table,
    station_table,
    sweep_table,
    tornado_table,
    upkeep_table,
)
from viz import chartdata, charts, html
from viz.html import Chart
from viz.rundir import Model, RunDir, read

REPORT_NAME = "report.html"


@dataclass(frozen=True)
class Written:
    """The page and the charts beside it."""

    html: Path
    charts: list[Chart]


class _Page:
    """Collects sections and writes each chart beside the page as it is drawn."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sections: list[tuple[str, str, list[str]]] = []
        self.charts: list[Chart] = []

    def section(self, ident: str, heading: str, *parts: str) -> None:
        self.sections.append((ident, heading, list(parts)))

    def chart(self, ident: str, title: str, caption: str, draw: Callable[[], Figure]) -> str:
        png = self.path.with_name(f"{self.path.stem}-{ident}.png")
        charts.save(draw(), png)
        chart = Chart(f"chart-{ident}", title, png, caption)
        self.charts.append(chart)
        return html.figure(chart)


def write(directory: Path, out: Path | None = None) -> Written:
    """Write the report of the run kept in ``directory`` (to ``directory/report.html`` by
    default) and its charts beside it; a directory that is not a run is a UsageError."""
    run = read(directory)
    target = out if out is not None else directory / REPORT_NAME
    page = _Page(target)
    try:
        _tables(page, run)
        _smart(page, run.models)
        _details(page, run)
        if run.kind == "compare":
            _comparison(page, run)
        elif run.kind == "sweep":
            _sweep(page, run)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise UsageError(
            f"{directory}: the kept files do not hold what a report needs ({exc!r}); "
            "were they written by this version of twin?"
        ) from None
    kind = {"run": "run", "compare": "comparison", "sweep": "sweep"}[run.kind]
    title = f"{run.name}: {kind} report"
    write_atomic(target, html.page(title, page.sections))
    return Written(target, page.charts)


def _tables(page: _Page, run: RunDir) -> None:
    parts: list[str] = []
    if run.kind == "run":
        doc = run.doc
        if not doc.get("replications"):
            raise UsageError(f"{run.path}: no replication finished: nothing to report")
        parts += [
            html.table(line_table(doc), "table-line"),
            html.table(station_table(doc), "table-stations"),
            html.table(indicator_table(doc), "table-indicators"),
        ]
        quality = quality_table(doc)
        if quality is not None:
            parts.append(html.table(quality, "table-quality"))
    elif run.kind == "compare":
        parts.append(html.table(comparison_table(run.doc), "table-comparison"))
        if run.doc.get("contributions"):
            parts.append(html.table(contribution_table(run.doc), "table-contributions"))
        if run.doc.get("tornado") and run.doc["ranked_by"] == "npv":
            parts.append(html.table(tornado_table(run.doc), "table-tornado"))
    else:
        parts.append(html.table(sweep_table(run.doc), "table-sweep"))
    if run.kind != "run":
        for i, model in enumerate(run.models):
            parts.append(html.heading(model.label))
            parts.append(html.table(line_table(model.doc), f"table-line-{i}"))
            parts.append(html.table(station_table(model.doc), f"table-stations-{i}"))
    page.section("kpis", "KPIs (mean ± 95% confidence interval over replications)", *parts)


def _smart(page: _Page, models: list[Model]) -> None:
    """The smart-workshop section, for the models that have the layer (none: no section)."""
    smart = [(i, m) for i, m in enumerate(models) if has_smart(m.doc)]
    if not smart:
        return
    parts = [
        html.paragraph(
            "Machines networked: connected machines (a station with a link) / machines. "
            "Readings: sent by the sensors of connected machines, lost on their link (or in "
            "an outage), arrived, and late (arrived more than one reading interval after "
            "being taken). Alarms: true (the wear was above the alarm level when read), "
            "false, and missed (a breakdown by wear with no alarm in its life). Crews: "
            "share of the technicians' time out on a call, on the way or maintaining."
        )
    ]
    for i, model in smart:
        if len(models) > 1:
            parts.append(html.heading(model.label))
        suffix = f"-{i}" if len(models) > 1 else ""
        line = smart_table(model.doc)
        if line.row_count:
            parts.append(html.table(line, f"table-smart{suffix}"))
        upkeep = upkeep_table(model.doc)
        if upkeep.row_count:
            parts.append(html.table(upkeep, f"table-upkeep{suffix}"))
    page.section("smart", "Smart workshop: network, sensors, alarms and maintenance", *parts)


def _details(page: _Page, run: RunDir) -> None:
    models = run.models
    if not models:
        page.section("details", "Stations", html.paragraph("no point has a throughput"))
        return
    shares = [(m.label, chartdata.state_shares(m.doc)) for m in models]
    page.section(
        "states",
        "Where each station's time goes",
        page.chart(
            "states",
            "Time in each state per station",
            "Mean share of observed time (after the warm-up) in each machine state, over "
            "replications; all machines of a station together. Held, maintenance and off "
            "(outside the calendar's working time) are planned stops, in grey (maintenance "
            "hatched, off dotted); operator is waiting for an operator of the station's pool.",
            lambda: charts.states(shares),
        ),
    )
    recorded = [m for m in models if m.histories]
    if len(recorded) == len(models):
        _over_time(page, models)
    else:
        note = (
            "Not recorded: this run was kept without its history over time (by twin serve, "
            "or by an earlier version of twin); run it again with --out to have it."
        )
        page.section("over-time", "WIP and throughput over time", html.paragraph(note))
        page.section("lead-time", "Lead-time histogram", html.paragraph(note))
    losses = [(m.label, chartdata.oee_losses(m.doc)) for m in models]
    page.section(
        "oee",
        "OEE losses per station (ISO 22400-2)",
        page.chart(
            "oee-losses",
            "OEE and its losses per station",
            "Planned busy time split into OEE index = A × E × Q, quality loss A × E × (1 − Q), "
            "effectiveness loss A × (1 − E) and availability loss 1 − A (A availability, "
            "E effectiveness, Q quality ratio), means over replications.",
            lambda: charts.oee_losses(losses),
        ),
    )


def _over_time(page: _Page, models: list[Model]) -> None:
    series = [(m.label, chartdata.over_time(m.histories), m.doc["line"]) for m in models]
    every = models[0].histories[0]["every_s"]
    page.section(
        "over-time",
        "WIP and throughput over time",
        page.chart(
            "wip-throughput",
            "WIP and throughput over time",
            f"Sampled every {every:g} s of simulated time, mean over replications with its "
            "95% confidence band. WIP: the time average over each interval after the "
            "warm-up (exact: their time average is the WIP KPI) and the parts in the line at "
            "each sample; throughput: good parts per hour in each interval and since the "
            "warm-up.",
            lambda: charts.over_time(series),
        ),
    )
    hists = [
        (m.label, chartdata.lead_times(m.histories), m.doc["line"]["lead_time_s"]) for m in models
    ]
    page.section(
        "lead-time",
        "Lead-time histogram",
        page.chart(
            "lead-time",
            "Lead-time histogram",
            "Lead times of the parts that entered after the warm-up, all replications "
            "together, in bins 5% wide (logarithmic); the lines give the mean, median and "
            "95th percentile of the KPI table.",
            lambda: charts.lead_time(hists),
        ),
    )


def _comparison(page: _Page, run: RunDir) -> None:
    doc = run.doc
    page.section(
        "deltas",
        "Plans against the baseline",
        page.chart(
            "deltas",
            "KPI differences to the baseline",
            "Each plan minus the baseline, replication by replication (common random "
            "numbers): mean and 95% confidence interval.",
            lambda: charts.deltas(doc),
        ),
    )
    if doc.get("contributions"):
        shapley = page.chart(
            "contributions",
            "What each retrofit brings",
            f"Shapley values: the gain of {doc['best']} over the baseline split between its "
            "retrofits (each retrofit's mean marginal gain over every order of adding them).",
            lambda: charts.contributions(doc),
        )
    else:
        why = doc.get("attribution_skipped") or "no plan to attribute"
        shapley = html.paragraph(f"No attribution: {why}.")
    page.section("contributions", "What each retrofit brings (Shapley values)", shapley)
    page.section(
        "economics",
        "Payback and NPV",
        page.chart(
            "economics",
            "Payback and net present value",
            "Payback in years (whiskers: its range over the 95% CI of the net benefit) and "
            "NPV over each plan's horizon (mean and 95% CI), from the scenario's economics.",
            lambda: charts.economics(doc),
        ),
    )


def _sweep(page: _Page, run: RunDir) -> None:
    doc = run.doc
    page.section(
        "response",
        "Response of each KPI to each parameter",
        page.chart(
            "response",
            "KPI response to the swept parameters",
            "Mean and 95% CI of each headline KPI at each value of a parameter, one line per "
            "combination of the other parameters' values.",
            lambda: charts.response(doc),
        ),
    )
