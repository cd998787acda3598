"""Terminal tables of a run's results (reads the results document only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

STATE_COLUMNS = ("busy", "starved", "blocked", "down", "setup")
OEE_COLUMNS = ("availability", "performance", "quality", "oee")


def _num(figure: Mapping[str, Any], digits: int = 1, scale: float = 1.0) -> str:
    mean = figure.get("mean")
    if mean is None:
        return "-"
    half = figure.get("ci95_halfwidth")
    text = f"{mean * scale:,.{digits}f}"
    return text if half is None else f"{text} ± {half * scale:,.{digits}f}"


def _pct(figure: Mapping[str, Any]) -> str:
    mean = figure.get("mean")
    return "-" if mean is None else f"{100 * mean:.1f}%"


def line_table(doc: Mapping[str, Any]) -> Table:
    line = doc["line"]
    lead = line["lead_time_s"]
    n = doc["replications"]
    table = Table(title=f"{doc['scenario']['name']}: line KPIs (mean ± 95% CI, {n} replications)")
    table.add_column("KPI")
    table.add_column("value", justify="right")
    table.add_row("throughput (good parts/h)", _num(line["throughput_per_hour"], 2))
    table.add_row("lead time mean (min)", _num(lead["mean"], 2, 1 / 60))
    table.add_row("lead time p50 (min)", _num(lead["p50"], 2, 1 / 60))
    table.add_row("lead time p95 (min)", _num(lead["p95"], 2, 1 / 60))
    table.add_row("WIP (parts, time average)", _num(line["wip"], 2))
    table.add_row("scrap rate (%)", _num(line["scrap_rate"], 2, 100))
    return table


def station_table(doc: Mapping[str, Any]) -> Table:
    table = Table(title="stations: time in each state, and OEE = A x P x Q (means)")
    table.add_column("station")
    for name in STATE_COLUMNS:
        table.add_column(name, justify="right")
    for name in ("A", "P", "Q"):
        table.add_column(name, justify="right")
    table.add_column("OEE", justify="right")
    table.add_column("± 95% CI", justify="right")
    for sid, st in doc["stations"].items():
        states = [_pct(st["states"][s]) for s in STATE_COLUMNS]
        oee = [_pct(st[k]) for k in OEE_COLUMNS[:3]]
        half = st["oee"].get("ci95_halfwidth")
        ci = "-" if half is None else f"{100 * half:.1f}"
        table.add_row(sid, *states, *oee, _pct(st["oee"]), ci)
    return table


def print_summary(console: Console, doc: Mapping[str, Any]) -> None:
    """Print the line and station tables of a results document."""
    if not doc.get("replications"):
        console.print("no replication finished: nothing to report")
        return
    console.print(line_table(doc))
    console.print(station_table(doc))
