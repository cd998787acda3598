"""KPIs of one replication, computed in one place from the line's accumulators.

Per station, the indicators of ISO 22400-2:2014 (Automation systems and integration — Key
performance indicators (KPIs) for manufacturing operations management — Part 2: Definitions
and descriptions), from its time elements mapped onto the machine states:

- PBT planned busy time = observed time - planned stops (``PLANNED_STOPS``);
- APT actual production time = busy; AUST actual unit setup time = setup;
- ADET actual unit delay time = down + blocked + waiting for an operator (failures, a
  finished part that cannot leave, a part with nobody to load it: each stretches the order's
  time on the unit);
- ADOT actual unit down time = starved (planned busy, but no part to work on);
- AUPT actual unit processing time = APT + AUST; AUBT actual unit busy time = AUPT + ADET.

So availability = APT / PBT: starved, blocked, down, setup and operator waits all lower it.
Held, maintenance and off (outside the calendar's shifts, breaks) are planned stops:
decided, not lost, they leave PBT and lower nothing.

Per station also the active-period bottleneck measure (Roser, Nakano and Tanaka, 2001): a
machine is active while busy, down, in setup or waiting for an operator, inactive while
starved, blocked, held, in maintenance or off; the station whose machines have the longest
mean active period holds the line back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from models.line import Line
from models.station import ACTIVE, STATES, Station

# Bumped whenever the figures of a replication change (names, definitions, the order of
# simultaneous events): stored replications of another version are run again rather than
# mixed with new ones.
KPI_VERSION = 7

# States that are planned stops (held by a decision, planned maintenance, off shift or on a
# break): their time leaves PBT.
PLANNED_STOPS: frozenset[str] = frozenset({"held", "maintenance", "off"})

_SAMPLED = ("availability", "oee_index", *STATES)  # a station's figures in a sample
_NO_SHARES = [math.nan] * len(STATES)


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def time_elements(by_state: Mapping[str, float]) -> dict[str, float]:
    """ISO 22400-2 time elements (seconds, all machines) from the time in each state."""
    planned_stops = sum(t for s, t in by_state.items() if s in PLANNED_STOPS)
    apt, aust = by_state["busy"], by_state["setup"]
    adet = by_state["down"] + by_state["blocked"] + by_state["operator"]
    return {
        "pbt": sum(by_state.values()) - planned_stops,
        "apt": apt,
        "aust": aust,
        "adet": adet,
        "adot": by_state["starved"],
        "aupt": apt + aust,
        "aubt": apt + aust + adet,
    }


def iso22400(station: Station, t: Mapping[str, float], down: float) -> dict[str, float]:
    """The ISO 22400-2 indicators of one station, from its time elements and counts."""
    produced, good = station.produced, station.good
    failures = sum(m.failures for m in station.machines)
    availability = _ratio(t["apt"], t["pbt"])
    effectiveness = _ratio(station.ideal_time, t["apt"])
    quality_ratio = _ratio(good, produced)
    return {
        "availability": availability,
        "effectiveness": effectiveness,
        "quality_ratio": quality_ratio,
        "oee_index": availability * effectiveness * quality_ratio,
        "allocation_efficiency": _ratio(t["aubt"], t["pbt"]),
        "utilisation_efficiency": _ratio(t["apt"], t["aubt"]),
        "technical_efficiency": _ratio(t["apt"], t["apt"] + t["adet"]),
        "setup_rate": _ratio(t["aust"], t["aupt"]),
        # Operating time between failures counts setup and production, not delays.
        "mtbf_s": _ratio(t["aupt"], failures),
        "mttr_s": _ratio(down, failures),
        "scrap_ratio": _ratio(produced - good - station.reworked, produced),
        # Good at the first pass: never sent back for rework (here or anywhere before).
        "first_pass_yield": _ratio(station.first_pass, produced),
        "rework_ratio": _ratio(station.reworked, produced),
    }


def active_periods(station: Station, by_state: Mapping[str, float]) -> dict[str, float]:
    """Share of time active and mean length of an active period (busy, down or setup)."""
    active = sum(t for i, t in enumerate(by_state.values()) if ACTIVE[i])
    # A machine active for the whole window had one period that began before the warm-up.
    periods = station.activations or (1 if active > 0 else 0)
    return {
        "active_share": _ratio(active, sum(by_state.values())),
        "mean_active_period_s": _ratio(active, periods),
    }


def station_kpis(station: Station, now: float) -> dict[str, Any]:
    by_state = dict(zip(STATES, station.state_totals(now), strict=True))
    observed = sum(by_state.values())
    t = time_elements(by_state)
    return {
        **iso22400(station, t, by_state["down"]),
        **active_periods(station, by_state),
        "states": {state: _ratio(s, observed) for state, s in by_state.items()},
        "time_s": t,
        "produced": float(station.produced),
        "good": float(station.good),
        "reworked": float(station.reworked),
        "failures": float(sum(m.failures for m in station.machines)),
        "maintenances": float(station.maintenances),
        "wait_s": _ratio(station.waited, station.started),
        # A station that wears: its breakdowns by wear (the rest of ``failures`` are random).
        **(_wearing(station) if any(m.wear is not None for m in station.machines) else {}),
        **station_quality(station),
    }


def _wearing(station: Station) -> dict[str, Any]:
    """A station that wears: its breakdowns by wear, and per machine (by index) its
    failures, breakdowns by wear and planned maintenances."""
    return {
        "wear_breakdowns": float(sum(m.worn_out for m in station.machines)),
        "machines": {
            str(i): {
                "failures": float(m.failures),
                "wear_breakdowns": float(m.worn_out),
                "maintenances": float(m.maintenances),
            }
            for i, m in enumerate(station.machines)
        },
    }


def station_quality(station: Station) -> dict[str, float]:
    """Parts made defective here (with ``defects``), and what the inspection here found
    (with ``inspection``); nothing for a station with neither."""
    out: dict[str, float] = {}
    if station.defects is not None:
        out["defects_made"] = float(station.defects_made)
    if station.inspection is not None:
        out["detected"] = float(station.detected)
        out["false_rejects"] = float(station.false_rejects)
        out["passed"] = float(station.passed)
    return out


def line_quality(line: Line) -> dict[str, float]:
    """The line's defect and inspection figures, after the warm-up; nothing for a line
    where no station makes defects or inspects.

    First-pass yield: parts shipped good without rework, over the parts leaving the line
    (shipped or scrapped). Escapes: defective parts shipped, also per million shipped.
    """
    stations = line.stations.values()
    if all(st.defects is None and st.inspection is None for st in stations):
        return {}
    exits = line.good_after_warmup + line.scrap_after_warmup
    escapes = line.escapes_after_warmup
    return {
        "first_pass_yield": _ratio(line.first_pass_after_warmup, exits),
        "escapes": float(escapes),
        "escapes_ppm": _ratio(escapes * 1e6, line.good_after_warmup),
        "defective_made": float(sum(st.defects_made for st in stations)),
        "detected": float(sum(st.detected for st in stations)),
        "false_rejects": float(sum(st.false_rejects for st in stations)),
    }


def bottleneck_flags(periods: Mapping[str, float]) -> dict[str, float]:
    """1 for the station with the longest mean active period (first one on a tie), else 0."""
    known = [sid for sid, p in periods.items() if not math.isnan(p)]
    neck = max(known, key=lambda sid: periods[sid]) if known else None
    return {sid: float(sid == neck) for sid in periods}


def deadlocked(line: Line) -> list[str]:
    """Stations caught in a cycle of blocking (each waits for the next, which is full)."""
    waits = {sid: st.blocked_by() for sid, st in line.stations.items()}
    stuck = {sid for sid, targets in waits.items() if targets}
    # Peel off stations that wait for one that is not stuck; what remains is cyclic.
    changed = True
    while changed:
        changed = False
        for sid in sorted(stuck):
            if not waits[sid] & stuck:
                stuck.discard(sid)
                changed = True
    return sorted(stuck)


def line_kpis(line: Line, now: float) -> dict[str, object]:
    span = now - line.warmup
    exits = line.good_after_warmup + line.scrap_after_warmup
    lead = line.lead_time
    return {
        "throughput_per_hour": _ratio(line.good_after_warmup * 3600.0, span),
        "lead_time_s": {"mean": lead.mean, "p50": lead.quantile(0.5), "p95": lead.quantile(0.95)},
        "wip": line.wip.mean(now),
        "scrap_rate": _ratio(line.scrap_after_warmup, exits),
        "scrap_per_hour": _ratio(line.scrap_after_warmup * 3600.0, span),
        "deadlocked": float(bool(deadlocked(line))),
        **line_quality(line),
        # The AGV fleet's and each operator pool's share of time at work.
        **({"agv_utilisation": line.fleet.utilisation(now)} if line.fleet is not None else {}),
        **(
            {"operators": {p: pool.utilisation(now) for p, pool in line.pools.items()}}
            if line.pools
            else {}
        ),
        **smart_kpis(line, now),
        "parts": {
            "created": float(line.created),
            "finished": float(line.finished),
            "scrapped": float(line.scrapped),
            "in_system": float(line.in_system),
        },
    }


def smart_kpis(line: Line, now: float) -> dict[str, Any]:
    """The smart-workshop layer's figures, for a line that has them: the equipment
    networking rate (connected machines / machines), the sensors' readings, the condition
    policies' alarms, and each maintenance crew's share of time at work."""
    out: dict[str, Any] = {}
    if line.links is not None:
        machines = sum(len(st.machines) for st in line.stations.values())
        out["networking_rate"] = len(line.connected) / machines
    if line.sensors:
        out["readings"] = {
            kind: float(sum(getattr(s, kind) for s in line.sensors))
            for kind in ("sent", "lost", "arrived", "late")
        }
    if line.policies:
        out["alarms"] = {
            kind: float(sum(getattr(p, kind) for p in line.policies))
            for kind in ("true", "false", "missed")
        }
    if line.crews:
        out["crews"] = {c: crew.utilisation(now) for c, crew in line.crews.items()}
    return out


def collect(line: Line, now: float) -> dict[str, object]:
    """Everything measured in one replication, as nested mappings of numbers.

    Each station's ``bottleneck`` is 1 in the replication where it had the longest mean
    active period, so its mean over replications is the share in which it was the bottleneck.
    """
    stations = {sid: station_kpis(st, now) for sid, st in line.stations.items()}
    periods = {sid: float(st["mean_active_period_s"]) for sid, st in stations.items()}
    for sid, flag in bottleneck_flags(periods).items():
        stations[sid]["bottleneck"] = flag
    return {"line": line_kpis(line, now), "stations": stations}


def sample(line: Line, now: float) -> dict[str, Any]:
    """The headline KPIs so far, at ``now``: what a live view shows and a run samples over
    time. Figures measured after the warm-up are NaN before it ends (and at its end).
    Taking a sample changes nothing in the run (its results stay the same to the bit)."""
    measured = now > line.warmup
    span = now - line.warmup
    stations: dict[str, dict[str, float]] = {}
    for sid, st in line.stations.items():
        # ``station_kpis``' availability and OEE and the share of each state, with the same
        # sums in the same order (so the same figures to the bit), done with less work: a
        # live run takes a sample every few hundred events.
        totals = st.state_totals_at(now)
        busy, starved, blocked, down, setup, held, maintenance, off, operator = totals
        observed = sum(totals)
        pbt = observed - sum((held, maintenance, off))  # the PLANNED_STOPS, in STATES' order
        availability = busy / pbt if pbt > 0 else math.nan
        oee = availability * _ratio(st.ideal_time, busy) * _ratio(st.good, st.produced)
        if observed > 0:  # (in the order of _SAMPLED; a test checks it against collect)
            stations[sid] = {
                "availability": availability,
                "oee_index": oee,
                "busy": busy / observed,
                "starved": starved / observed,
                "blocked": blocked / observed,
                "down": down / observed,
                "setup": setup / observed,
                "held": held / observed,
                "maintenance": maintenance / observed,
                "off": off / observed,
                "operator": operator / observed,
            }
        else:
            stations[sid] = dict(zip(_SAMPLED, (availability, oee, *_NO_SHARES), strict=True))
    return {
        "t": now,
        "good": float(line.finished),
        "scrapped": float(line.scrapped),
        "in_system": float(line.in_system),
        "throughput_per_hour": _ratio(line.good_after_warmup * 3600.0, span),
        "wip": line.wip.mean_at(now) if measured else math.nan,
        "lead_time_mean_s": line.lead_time.mean,
        **_smart_sample(line),
        "stations": stations,
    }


def _smart_sample(line: Line) -> dict[str, Any]:
    """The smart-workshop counts so far (since the warm-up), for a line that has them."""
    out: dict[str, Any] = {}
    if line.sensors:
        out["readings_lost"] = float(sum(s.lost for s in line.sensors))
    if line.policies:
        for kind in ("true", "false", "missed"):
            out[f"alarms_{kind}"] = float(sum(getattr(p, kind) for p in line.policies))
    if line.crews:
        out["technicians_at_work"] = float(sum(c.level for c in line.crews.values()))
    if any(st.defects is not None or st.inspection is not None for st in line.stations.values()):
        out["escapes"] = float(line.escapes_after_warmup)
        out["false_rejects"] = float(sum(st.false_rejects for st in line.stations.values()))
    return out
