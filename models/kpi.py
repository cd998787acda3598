"""KPIs of one replication, computed in one place from the line's accumulators.

Per station, after ISO 22400-2: planned busy time PBT is the observed time (after warm-up)
of every machine; availability A = (PBT - down - setup) / PBT; performance
P = ideal cycle x produced / (PBT - down - setup), the ideal cycle being the mean process
time of each product; quality Q = good / produced; OEE = A x P x Q. Starved and blocked
time are performance losses.
"""

from __future__ import annotations

import math

from models.line import Line
from models.station import STATES, Station


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def station_kpis(station: Station, now: float, warmup: float) -> dict[str, object]:
    totals = station.state_totals(now)
    pbt = (now - warmup) * station.servers
    by_state = dict(zip(STATES, totals, strict=True))
    run_time = pbt - by_state["down"] - by_state["setup"]
    availability = _ratio(run_time, pbt)
    performance = _ratio(station.ideal_time, run_time)
    quality = _ratio(station.good, station.produced)
    return {
        "utilization": _ratio(by_state["busy"], pbt),
        "availability": availability,
        "performance": performance,
        "quality": quality,
        "oee": availability * performance * quality,
        "states": {state: _ratio(t, pbt) for state, t in by_state.items()},
        "produced": float(station.produced),
        "good": float(station.good),
        "failures": float(sum(m.failures for m in station.machines)),
        "wait_s": _ratio(station.waited, station.started),
    }


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
        "parts": {
            "created": float(line.created),
            "finished": float(line.finished),
            "scrapped": float(line.scrapped),
            "in_system": float(line.in_system),
        },
    }


def collect(line: Line, now: float) -> dict[str, object]:
    """Everything measured in one replication, as nested mappings of numbers."""
    return {
        "line": line_kpis(line, now),
        "stations": {sid: station_kpis(st, now, line.warmup) for sid, st in line.stations.items()},
    }
