"""Terminal tables of a run's results (reads the results document only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from twin.colours import colour
from twin.tables import print_table

STATE_COLUMNS = ("busy", "starved", "blocked", "down", "setup", "held", "maintenance")
# States shown only where some station spends time in them (a line without a calendar or
# operators would show columns of zeros).
SOMETIMES_COLUMNS = ("off", "operator")
ALL_STATES = STATE_COLUMNS + SOMETIMES_COLUMNS
OEE_COLUMNS = ("availability", "effectiveness", "quality_ratio")
MORE_COLUMNS = (
    ("utilisation efficiency", "utilisation_efficiency"),
    ("technical efficiency", "technical_efficiency"),
    ("setup rate", "setup_rate"),
    ("first-pass yield", "first_pass_yield"),
)


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


def _time_unit(seconds: float | None) -> tuple[str, float]:
    """Seconds for short times, minutes for the rest, so lead times read well."""
    return ("s", 1.0) if seconds is not None and seconds < 120 else ("min", 1 / 60)


def line_table(doc: Mapping[str, Any]) -> Table:
    line = doc["line"]
    lead = line["lead_time_s"]
    n = doc["replications"]
    table = Table(
        title=f"{escape(doc['scenario']['name'])}: line KPIs",
        caption=f"mean ± 95% CI over {n} replications",
    )
    table.add_column("KPI")
    table.add_column("value", justify="right")
    table.add_row("throughput (good parts/h)", _num(line["throughput_per_hour"], 2))
    unit, scale = _time_unit(lead["mean"].get("mean"))
    for stat in ("mean", "p50", "p95"):
        table.add_row(f"lead time {stat} ({unit})", _num(lead[stat], 2, scale))
    table.add_row("WIP (parts, time average)", _num(line["wip"], 2))
    table.add_row("scrap rate (%)", _num(line["scrap_rate"], 2, 100))
    if "agv_utilisation" in line:
        table.add_row("AGVs at work (%)", _num(line["agv_utilisation"], 1, 100))
    for pool, figure in (line.get("operators") or {}).items():
        table.add_row(f"operators {escape(pool)} at work (%)", _num(figure, 1, 100))
    for row in _smart_rows(line):
        table.add_row(*row)
    # Defects and inspection, only on a line that has them.
    if "escapes_ppm" in line:
        table.add_row("first-pass yield (%)", _num(line["first_pass_yield"], 2, 100))
        table.add_row("escapes (per million shipped)", _num(line["escapes_ppm"], 0))
        for title, key in QUALITY_COUNTS:
            table.add_row(f"{title} (parts)", _num(line[key], 1))
    return table


def _smart_rows(line: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The line's figures of the smart-workshop layer, those it has."""
    rows = []
    if "networking_rate" in line:
        rows.append(("machines networked (%)", _num(line["networking_rate"], 1, 100)))
    for kind, figure in _ordered(line.get("readings") or {}, ("sent", "lost", "arrived", "late")):
        rows.append((f"readings {kind}", _num(figure, 1)))
    for kind, figure in _ordered(line.get("alarms") or {}, ("true", "false", "missed")):
        rows.append((f"alarms {kind}", _num(figure, 2)))
    for crew, figure in (line.get("crews") or {}).items():
        rows.append((f"crew {escape(crew)} at work (%)", _num(figure, 1, 100)))
    return rows


def _ordered(figures: Mapping[str, Any], order: tuple[str, ...]) -> list[tuple[str, Any]]:
    """The figures in the order that reads well (a document keeps its keys sorted)."""
    return sorted(figures.items(), key=lambda kv: (*order, kv[0]).index(kv[0]))


def has_smart(doc: Mapping[str, Any]) -> bool:
    """Whether a results document has figures of the smart-workshop layer (a network,
    sensors, condition policies, crews, or a station that wears)."""
    return bool(_smart_rows(doc["line"])) or any(
        "wear_breakdowns" in st for st in doc["stations"].values()
    )


def smart_table(doc: Mapping[str, Any]) -> Table:
    """The smart-workshop figures of the line: networking rate, sensor readings, alarms
    and crews at work (the rows of the line table that a line without the layer lacks)."""
    table = Table(
        title="smart workshop: network, readings, alarms and crews",
        caption="readings and alarms per replication, after the warm-up",
    )
    table.add_column("KPI")
    table.add_column("value", justify="right")
    for row in _smart_rows(doc["line"]):
        table.add_row(*row)
    return table


def upkeep_table(doc: Mapping[str, Any]) -> Table:
    """Per station that broke down, wears or was maintained: its breakdowns, those by
    wear, and its planned maintenances (per replication, all machines together)."""
    table = Table(
        title="stations: breakdowns and planned maintenance (per replication)",
        caption="by wear: the breakdowns when the wear reached its limit, the rest are "
        "random failures; -: the station does not wear",
    )
    table.add_column("station")
    for name in ("breakdowns", "by wear", "planned maintenances"):
        table.add_column(name, justify="right")
    for sid, st in doc["stations"].items():
        failures, maintenances = st.get("failures") or {}, st.get("maintenances") or {}
        wear = st.get("wear_breakdowns")
        if wear is None and not failures.get("mean") and not maintenances.get("mean"):
            continue
        table.add_row(sid, _num(failures, 2), _num(wear or {}, 2), _num(maintenances, 2))
    return table


# Counts of the defects and inspection layer, on the line and per station.
QUALITY_COUNTS = (
    ("defective made", "defective_made"),
    ("detected", "detected"),
    ("false rejects", "false_rejects"),
)


def _neck(st: Mapping[str, Any]) -> str:
    """How often a station was the bottleneck, as a share of replications."""
    share = st.get("bottleneck", {}).get("mean")
    return "-" if not share else f"{100 * share:.0f}%"


def station_table(doc: Mapping[str, Any]) -> Table:
    table = Table(
        title="stations: time in each state, and OEE index = A x E x Q (ISO 22400-2, means)",
        caption="A availability, E effectiveness, Q quality ratio; "
        "neck: share of replications in which the station was the bottleneck",
    )
    table.add_column("station")
    stations = doc["stations"].values()
    shown = [*STATE_COLUMNS] + [
        s for s in SOMETIMES_COLUMNS if any(st["states"].get(s, {}).get("mean") for st in stations)
    ]
    for name in shown:
        table.add_column(name, justify="right", header_style=f"bold {colour(name)}")
    for name in ("A", "E", "Q"):
        table.add_column(name, justify="right")
    table.add_column("OEE", justify="right")
    table.add_column("OEE ± (pts)", justify="right")
    table.add_column("neck", justify="right")
    for sid, st in doc["stations"].items():
        states = [_pct(st["states"].get(s, {})) for s in shown]
        oee = [_pct(st[k]) for k in OEE_COLUMNS]
        half = st["oee_index"].get("ci95_halfwidth")
        ci = "-" if half is None else f"{100 * half:.1f}"
        table.add_row(sid, *states, *oee, _pct(st["oee_index"]), ci, _neck(st))
    return table


def _seconds(figure: Mapping[str, Any]) -> str:
    mean = figure.get("mean")
    return "-" if mean is None else f"{mean / 60:,.1f}"


def indicator_table(doc: Mapping[str, Any]) -> Table:
    """The other ISO 22400-2 indicators of each station (means)."""
    table = Table(title="stations: more ISO 22400-2 indicators (means)")
    table.add_column("station")
    # The rework ratio only where a station reworks (a column of zeros says nothing).
    reworks = any((st.get("rework_ratio") or {}).get("mean") for st in doc["stations"].values())
    columns = [*MORE_COLUMNS, ("rework ratio", "rework_ratio")] if reworks else MORE_COLUMNS
    for title, _ in columns:
        table.add_column(title, justify="right")
    table.add_column("MTBF (min)", justify="right")
    table.add_column("MTTR (min)", justify="right")
    for sid, st in doc["stations"].items():
        more = [_pct(st.get(key) or {}) for _, key in columns]
        table.add_row(sid, *more, _seconds(st["mtbf_s"]), _seconds(st["mttr_s"]))
    return table


def quality_table(doc: Mapping[str, Any]) -> Table | None:
    """Per station, parts made defective and the inspection's findings (mean counts per
    replication); None when no station makes defects or inspects."""
    stations = {
        sid: st for sid, st in doc["stations"].items() if "defects_made" in st or "passed" in st
    }
    if not stations:
        return None
    table = Table(
        title="stations: defects and inspection (parts after the warm-up)",
        caption=f"mean ± 95% CI over {doc['replications']} replications",
    )
    table.add_column("station")
    columns = (("defects made", "defects_made"), *QUALITY_COUNTS[1:], ("passed", "passed"))
    for title, _ in columns:
        table.add_column(title, justify="right")
    for sid, st in stations.items():
        table.add_row(sid, *(_num(st[key], 1) if key in st else "" for _, key in columns))
    return table


def print_summary(console: Console, doc: Mapping[str, Any]) -> None:
    """Print the line and station tables of a results document (and, for a line of the
    smart-workshop layer, its stations' breakdowns and maintenances)."""
    if not doc.get("replications"):
        console.print("no replication finished: nothing to report")
        return
    print_table(console, line_table(doc))
    print_table(console, station_table(doc))
    print_table(console, indicator_table(doc))
    quality = quality_table(doc)
    if quality is not None:
        print_table(console, quality)
    upkeep = upkeep_table(doc)
    if has_smart(doc) and upkeep.row_count:
        print_table(console, upkeep)


def _money(figure: Mapping[str, Any] | None) -> str:
    if not figure or figure.get("mean") is None:
        return "-"
    half = figure.get("ci95_halfwidth")
    text = f"{figure['mean']:,.0f}"
    return text if half is None else f"{text} ± {half:,.0f}"


def _years(payback: Mapping[str, Any], beyond: bool = False) -> str:
    mean = payback.get("mean")
    if mean is None:
        return "never"
    low, high = payback.get("low"), payback.get("high")
    span = f" ({low:.1f}–{high:.1f})" if high is not None else f" ({low:.1f}–never)"
    return f"{mean:.1f}{span}" + (" (> life)" if beyond else "")


def _bottleneck(doc: Mapping[str, Any]) -> tuple[str, str]:
    """The OEE column's station and a caption saying how sure it is the bottleneck."""
    neck = doc.get("bottleneck")
    if not neck:
        return "", "Δ OEE: no bottleneck found in the baseline runs"
    station, n = escape(neck["station"]), neck["replications"]
    caption = (
        f"Δ OEE: OEE index at {station}, "
        f"bottleneck in {round(neck['share'] * n)}/{n} baseline replications"
    )
    if neck.get("runner_up"):
        caption += f" (then {escape(neck['runner_up'])} in {round(neck['runner_up_share'] * n)})"
    return f" {station}", caption


def comparison_table(doc: Mapping[str, Any]) -> Table:
    ranked = doc["ranking"]
    currency = next(iter(doc["plans"].values()))["economics"]["currency"] if ranked else ""
    base = doc["baseline"]["levels"]["throughput_per_hour"]["mean"]
    station, sure = _bottleneck(doc)
    table = Table(
        title=(
            f"{escape(doc['scenario']['name'])}: plans against the baseline "
            f"({base:,.1f} good parts/h), "
            f"paired differences ± 95% CI, ranked by {doc['ranked_by']}"
        ),
    )
    table.add_column("#", justify="right")
    table.add_column("plan", no_wrap=True)
    for col in ("Δ throughput/h", f"Δ OEE{station} (pts)", "Δ lead time (min)", "Δ WIP"):
        table.add_column(col, justify="right")
    for col in (f"capex net ({currency})", "net benefit/yr", "payback yr", "NPV"):
        table.add_column(col, justify="right")
    close = set(doc.get("indistinguishable_from_best", []))
    for i, name in enumerate(ranked, 1):
        plan = doc["plans"][name]
        d, e = plan["differences"], plan["economics"]
        table.add_row(
            f"≈{i}" if name in close else str(i),
            name,
            _num(d["throughput_per_hour"], 2),
            _num(d["oee"], 1, 100),
            _num(d["lead_time_s"], 2, 1 / 60),
            _num(d["wip"], 2),
            f"{e['capex_after_subsidy']:,.0f}",
            _money(e["annual_net_benefit"]),
            _years(e["payback_years"], e.get("payback_beyond_lifetime", False)),
            _money(e["npv"]),
        )
    table.caption = "\n".join([sure, *_notes(doc, close)])
    return table


def _notes(doc: Mapping[str, Any], close: set[str]) -> list[str]:
    """What the comparison table's marks mean, and when its NPVs span different horizons."""
    notes = []
    if close:
        what = "NPV" if doc["ranked_by"] == "npv" else "gain"
        notes.append(
            f"≈: {what} not distinguishable from {escape(doc['ranking'][0])}'s "
            "(the 95% CI of the paired difference contains 0)"
        )
    horizons = {p["economics"]["horizon_years"] for p in doc["plans"].values()}
    if len(horizons) > 1:
        notes.append(
            f"NPV over each plan's longest retrofit life ({min(horizons):g} to "
            f"{max(horizons):g} years); set economics.horizon_years to value all over one"
        )
    return notes


def contribution_table(doc: Mapping[str, Any]) -> Table:
    table = Table(title=f"what each retrofit brings to {escape(doc['best'])} (Shapley values)")
    table.add_column("retrofit")
    table.add_column("Δ throughput/h", justify="right")
    table.add_column("gross benefit/yr", justify="right")
    for rid, share in doc["contributions"].items():
        table.add_row(
            rid,
            f"{share['throughput_per_hour']:,.2f}",
            f"{share['gross_benefit_per_year']:,.0f}",
        )
    return table


def tornado_table(doc: Mapping[str, Any]) -> Table:
    """How the best plan's NPV moves with each input, widest swing first."""
    best = doc["best"]
    npv = doc["plans"][best]["economics"]["npv"]["mean"]
    table = Table(
        title=f"sensitivity of {escape(best)}'s NPV ({npv:,.0f}) to one input at a time",
        caption="effect of X: X's Shapley share of the gross benefit scaled by 0.5 and 1.5",
    )
    table.add_column("input")
    for col in ("low", "high", "NPV at low", "NPV at high", "swing"):
        table.add_column(col, justify="right")
    for row in doc["tornado"]:
        low, high = row["input_low"], row["input_high"]
        fmt = "{:.1%}" if row["factor"] == "discount rate" else "{:,.2f}"
        table.add_row(
            escape(row["factor"]),
            fmt.format(low),
            fmt.format(high),
            f"{row['npv_low']:,.0f}",
            f"{row['npv_high']:,.0f}",
            f"{abs(row['npv_high'] - row['npv_low']):,.0f}",
        )
    return table


def print_comparison(console: Console, doc: Mapping[str, Any]) -> None:
    """Print the ranked plans, the attribution of the best one and its NPV sensitivity."""
    print_table(console, comparison_table(doc), keys=2)
    if doc.get("contributions"):
        print_table(console, contribution_table(doc))
    if doc.get("attribution_skipped"):
        console.print(f"no attribution: {escape(doc['attribution_skipped'])}")
    if doc.get("tornado") and doc["ranked_by"] == "npv":
        print_table(console, tornado_table(doc))


def print_sweep(console: Console, doc: Mapping[str, Any]) -> None:
    """One row per point of a sweep: its settings and the headline KPIs."""
    print_table(console, sweep_table(doc), keys=len(doc["parameters"]))


def sweep_table(doc: Mapping[str, Any]) -> Table:
    """One row per point of a sweep: its settings and the headline KPIs."""
    paths = list(doc["parameters"])
    table = Table(title=f"{escape(doc['scenario']['name'])}: sweep (mean ± 95% CI)")
    for path in paths:
        table.add_column(path, justify="right")
    for col in ("throughput/h", "OEE (%)", "lead time (min)", "WIP", "scrap (%)"):
        table.add_column(col, justify="right")
    for row in doc["points"]:
        table.add_row(
            *(escape(str(row["settings"][p])) for p in paths),
            _num(row["throughput_per_hour"], 2),
            _num(row["oee"], 1, 100),
            _num(row["lead_time_s"], 2, 1 / 60),
            _num(row["wip"], 2),
            _num(row["scrap_rate"], 2, 100),
        )
    return table
