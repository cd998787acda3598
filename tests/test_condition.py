"""Wear, sensors, the plant network, crews and condition-based maintenance, against what
theory and arithmetic by hand say they must give."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import simpy
from scipy import integrate, special

from models.kpi import collect
from models.line import Line
from scenarios.builder import build
from scenarios.experiment import run_replication
from scenarios.loader import loads
from twin.changes import Change, Changes

HOUR = 3600.0


def simulate_line(text: str, replication: int = 0) -> tuple[Line, dict[str, Any], list[Change]]:
    """Build and run ``text`` for one replication: the line, its KPIs and its changes."""
    scenario = loads(text, "cell.yaml")
    env = simpy.Environment()
    changes = Changes()
    seen: list[Change] = []
    changes.subscribe(seen.append)
    line = build(env, scenario, replication, changes)
    env.run(until=scenario.horizon)
    return line, collect(line, env.now), seen


def cell(
    *,
    wear: str = "{rate: 1.0}",
    fails_at: str = "100",
    repair: str = "1h",
    process: str = "50s",
    maintenance: str = "",
    sensors: str = "",
    link: str = "wifi",
    links: str = "[{id: wifi}]",
    crews: str = "[{id: maint, count: 1}]",
    horizon: str = "50000s",
    warmup: str = "0s",
    extra: str = "",
) -> str:
    """One saturated machine that wears (never starved, never blocked: busy whenever up)."""
    return f"""
name: cell
seed: 3
horizon: {horizon}
warmup: {warmup}
replications: 1
network:
  links: {links}
  edge: [{{id: edge1, compute: 50ms, capacity: 200}}]
crews: {crews}
stations:
  - id: M
    process_time: {process}
    {"link: " + link if link else ""}
    condition: {{wear: {wear}, fails_at: {fails_at}, repair: {repair}}}
    sensors: {sensors or "[]"}
    {"maintenance: " + maintenance if maintenance else ""}
{extra}"""


def times_of(seen: list[Change], kind: str) -> list[float]:
    return [c.time for c in seen if c.kind == kind]


def test_deterministic_wear_breaks_at_limit_over_rate() -> None:
    """cv = 0, limit 10, 1 unit/h, repairs of 1 h: breakdowns after exactly 10 operating
    hours each, at 10 h, 21 h, 32 h ... of the clock; the repair makes it as good as new."""
    line, kpis, seen = simulate_line(cell(fails_at="10", horizon="60h", link=""))
    fails = times_of(seen, "fail")
    assert fails == pytest.approx([10 * HOUR + k * 11 * HOUR for k in range(5)], abs=1e-6)
    assert times_of(seen, "repair") == pytest.approx([f + HOUR for f in fails], abs=1e-6)
    assert kpis["stations"]["M"]["wear_breakdowns"] == 5
    assert kpis["stations"]["M"]["failures"] == 5
    machine = line.stations["M"].machines[0]
    # At the horizon (60 h): 5 h into the sixth life.
    assert machine.wear_now() == pytest.approx(5.0)


def test_wear_is_read_in_the_middle_of_a_part() -> None:
    """A reading mid-part sees the work done so far: parts of 1 h, a reading every 20 min."""
    sensors = "[{id: gauge, every: 20min}]"
    _, _, seen = simulate_line(cell(process="1h", horizon="5h", sensors=sensors))
    readings = [(c.time, c.value) for c in seen if c.kind == "reading"]
    assert [t for t, _ in readings] == pytest.approx([k * 1200 for k in range(1, 15)])
    assert [v for _, v in readings] == pytest.approx([k / 3 for k in range(1, 15)], abs=1e-6)


def first_passage_mean(limit: float, rate: float, cv: float) -> float:
    """E[T] (hours) for a gamma process of mean rate ``rate``/h and cv ``cv`` over 1 h to
    reach ``limit``: the integral of P(W(t) < limit) = P(Gamma(t / cv^2, rate cv^2) < L)."""
    a, b = 1 / (cv * cv), rate * cv * cv

    def survival(t: float) -> float:
        return float(special.gammainc(a * t, limit / b)) if t > 0 else 1.0

    return float(integrate.quad(survival, 0, 10 * limit / rate, limit=400)[0])


def test_a_perfect_sensor_prevents_every_breakdown_and_busy_share_is_the_renewal_formula() -> None:
    """Noise 0, an instant link, a crew that is always free and there at once: every alarm
    is true, no machine breaks down, and the share of time busy is E[up] / (E[up] + D): up
    until the first reading above 80 (the first passage to 80, plus half a reading interval
    and half a part on average), then the maintenance D = 1 h."""
    text = cell(
        wear="{rate: 10.0, cv: 0.3}",
        fails_at="100",
        repair="10h",
        process="20s",
        sensors="[{id: vib, every: 1min}]",
        crews="[{id: maint, count: 5}]",
        maintenance="{policy: condition, alarm: {sensor: vib, above: 80}, duration: 1h, "
        "crew: maint}",
        horizon="80d",
        warmup="0s",
    )
    kpis = run_replication(loads(text, "cell.yaml"), 0)  # no change stream: faster
    station, line = kpis["stations"]["M"], kpis["line"]
    assert station["failures"] == 0 and station["wear_breakdowns"] == 0
    lives = station["maintenances"]
    assert lives > 180
    assert line["alarms"] == {"true": lives, "false": 0.0, "missed": 0.0}
    up = first_passage_mean(80, 10.0, 0.3) * HOUR + 30 + 10
    expected = up / (up + HOUR)
    # The busy share of n lives: sd of one life's up time about cv sqrt(L rate) / rate hours.
    sd = 0.3 * math.sqrt(80 / 10) * HOUR / (up + HOUR) * (1 - expected) / math.sqrt(lives)
    assert abs(station["states"]["busy"] - expected) < 4 * sd + 1e-4, (
        station["states"]["busy"],
        expected,
    )


@pytest.mark.parametrize(("loss", "n"), [(0.5, 4), (0.7, 2)])
def test_a_lossy_link_misses_the_alarm_when_every_reading_above_the_level_is_lost(
    loss: float, n: int
) -> None:
    """Deterministic wear (1/h, limit 100, alarm above 80): the wear is above the level for
    exactly 20 h of work, in which n = 20 h / interval readings are taken whatever the
    phase. A life has no alarm (a missed breakdown) exactly when all n are lost: p^n."""
    every = 20 * 60 / n  # minutes
    text = cell(
        fails_at="100",
        repair="{dist: exponential, mean: 3h}",
        process="1h",
        sensors=f"[{{id: vib, every: {every}min}}]",
        links=f"[{{id: wifi, loss: {loss}}}]",
        crews="[{id: maint, count: 1}]",
        maintenance="{policy: condition, alarm: {sensor: vib, above: 80}, "
        "duration: {dist: lognormal, mean: 1h, sd: 20min}, crew: maint}",
        horizon="4000d",
    )
    kpis = run_replication(loads(text, "cell.yaml"), 0)  # no change stream: faster
    station, alarms = kpis["stations"]["M"], kpis["line"]["alarms"]
    lives = station["maintenances"] + station["wear_breakdowns"]
    assert alarms["false"] == 0
    share = alarms["missed"] / lives
    p = loss**n
    assert abs(share - p) < 4 * math.sqrt(p * (1 - p) / lives), (share, p, lives)
    # Missed alarms are breakdowns; any other breakdown followed an alarm that came late.
    assert alarms["missed"] <= station["wear_breakdowns"]


def test_networking_rate_and_crew_utilisation_by_hand() -> None:
    """Three stations, four machines, three linked: 75 % networked. One technician, 30 min
    away, maintains M for 1 h after the first reading above 5 (wear 1/h from 0, readings
    every minute, parts of 50 s): by hand, lives end with the technician at work from
    18060 s to 23500 s and from 41520 s to 46950 s of a 50000 s run."""
    extra = """  - id: B
    process_time: 10s
    servers: 2
    link: wifi
  - id: C
    process_time: 10s
"""
    text = cell(
        fails_at="100",
        sensors="[{id: vib, every: 1min}]",
        crews="[{id: maint, count: 1, response: 30min}]",
        maintenance="{policy: condition, alarm: {sensor: vib, above: 5}, duration: 1h, "
        "crew: maint}",
        extra=extra,
    )
    _, kpis, seen = simulate_line(text)
    line = kpis["line"]
    assert line["networking_rate"] == 0.75
    assert line["crews"]["maint"] == pytest.approx((23500 - 18060 + 46950 - 41520) / 50000)
    assert times_of(seen, "alarm") == pytest.approx([18060, 41520])
    maintenance = [c.time for c in seen if c.kind == "state" and c.value == "maintenance"]
    assert maintenance == pytest.approx([19900, 43350])
    assert line["readings"] == {"sent": 833.0, "lost": 0.0, "arrived": 833.0, "late": 0.0}
    assert line["alarms"] == {"true": 2.0, "false": 0.0, "missed": 0.0}


def test_a_reading_crosses_the_link_then_the_edge_node() -> None:
    """A reading arrives after its latency, the edge node's 1 / capacity and its compute
    time; readings that queue at a slow edge arrive late."""
    sensors = "[{id: vib, every: 10min, edge: edge1}]"
    links = "[{id: wifi, latency: 40ms}]"
    _, _, seen = simulate_line(cell(sensors=sensors, links=links, horizon="1h"))
    arrivals = times_of(seen, "reading")
    assert arrivals == pytest.approx([k * 600 + 0.04 + 1 / 200 + 0.05 for k in range(1, 6)])
    slow = cell(sensors=sensors, links=links, horizon="10h").replace(
        "capacity: 200", "capacity: 0.0012"
    )  # 833 s a reading at the node, a reading every 600 s: the queue grows
    _, kpis, _ = simulate_line(slow)
    readings = kpis["line"]["readings"]
    assert readings["sent"] == 59 and 0 < readings["late"] <= readings["arrived"] < 59


def test_an_outage_loses_every_reading_sent_meanwhile() -> None:
    """A link down for 2 min every 8 min on average, losing nothing otherwise: the share
    of readings lost is the share of time down, 2 / 10 (binomial confidence)."""
    links = "[{id: wifi, outage: {mtbf: {dist: exponential, mean: 8min}, mttr: 2min}}]"
    sensors = "[{id: vib, every: 1min}]"
    _, kpis, _ = simulate_line(cell(sensors=sensors, links=links, horizon="20d"))
    readings = kpis["line"]["readings"]
    share = readings["lost"] / readings["sent"]
    # Readings a minute apart are correlated through outages of 2 min: allow for it.
    assert abs(share - 0.2) < 4 * math.sqrt(0.2 * 0.8 / readings["sent"] * 3), share


def test_a_machine_without_a_link_sends_nothing() -> None:
    _, kpis, _ = simulate_line(cell(link="", sensors="[{id: vib, every: 1min}]"))
    assert kpis["line"]["readings"]["sent"] == 0
    assert kpis["line"]["networking_rate"] == 0


def _without_smart_keys(kpis: dict[str, Any]) -> dict[str, Any]:
    line = {k: v for k, v in kpis["line"].items() if k not in {"readings", "networking_rate"}}
    return {**kpis, "line": line}


@pytest.mark.parametrize("replication", [0, 1])
def test_an_unused_sensor_changes_nothing(replication: int) -> None:
    """Common random numbers: a sensor (read every 7 min, over a lossy link to an edge
    node) that no decision uses leaves every other figure as it was, to the bit, also the
    defects whose chance rises with the wear it reads (both read the same path)."""
    base = cell(
        wear="{rate: 2.0, cv: 0.4}",
        fails_at="{dist: normal, mean: 100, sd: 10}",
        repair="{dist: exponential, mean: 2h}",
        process="{dist: gamma, mean: 50s, cv: 0.3}",
        links="[{id: wifi, latency: {dist: exponential, mean: 1s}, loss: 0.2}]",
        horizon="20d",
        warmup="1d",
        extra="  - id: CHECK\n    process_time: 10s\n    inspection: {detect: 0.9}\n",
    ).replace("    sensors: []", "    sensors: []\n    defects: {rate: 0.01, per_wear: 0.002}")
    with_sensor = base.replace(
        "sensors: []", "sensors: [{id: vib, noise: 3, every: 7min, edge: edge1}]"
    )
    scenario, sensed = loads(base, "a.yaml"), loads(with_sensor, "b.yaml")
    plain = run_replication(scenario, replication)
    other = run_replication(sensed, replication)
    assert other["line"]["readings"]["sent"] > 0
    assert plain["line"]["escapes"] > 0 and plain["stations"]["M"]["defects_made"] > 100
    assert _without_smart_keys(other) == _without_smart_keys(plain)


def test_wear_next_to_random_failures_keeps_their_draws() -> None:
    """Random failures with wear besides: a life ends at whichever comes first, and with a
    wear limit too high to reach the failures are exactly those of the machine without
    wear."""
    failures = "    failures: {mtbf: {dist: exponential, mean: 5h}, mttr: 30min}\n"
    text = f"""
name: cell
seed: 3
horizon: 20d
replications: 1
stations:
  - id: M
    process_time: {{dist: gamma, mean: 50s, cv: 0.3}}
{failures}"""
    worn = text + "    condition: {wear: {rate: 1}, fails_at: 1e9, repair: 9h}\n"
    plain, both = run_replication(loads(text, "a"), 0), run_replication(loads(worn, "b"), 0)
    assert both["stations"]["M"]["wear_breakdowns"] == 0
    for key in ("failures", "produced", "states"):
        assert both["stations"]["M"][key] == plain["stations"]["M"][key]
    assert np.isfinite(both["line"]["throughput_per_hour"])


def test_a_line_with_wear_sensors_and_a_crew_keeps_its_flows() -> None:
    """Parts arrive at 36/h at two wearing machines maintained by condition and one crew:
    all that enters leaves, Little's law holds, and every part is accounted for."""
    from test_theory import assert_flows

    text = f"""
name: flows
seed: 9
horizon: 40d
warmup: 2d
replications: 4
arrivals: {{interarrival: {{dist: exponential, mean: 100s}}}}
network:
  links: [{{id: wifi, latency: 40ms, loss: 0.1}}]
crews: [{{id: maint, count: 1, response: 15min}}]
stations:
{
        "".join(
            f'''  - id: {sid}
    process_time: {{dist: gamma, mean: 50s, cv: 0.5}}
    link: wifi
    failures: {{mtbf: 30h, mttr: 20min}}
    condition:
      wear: {{rate: 1, cv: 0.3}}
      fails_at: {{dist: normal, mean: 40, sd: 4}}
      repair: 3h
    sensors: [{{id: vib, noise: 2, every: 10min}}]
    maintenance:
      policy: condition
      alarm: {{sensor: vib, above: 30}}
      duration: 30min
      crew: maint
'''
            for sid in ("A", "B")
        )
    }"""
    model = loads(text, "flows.yaml")
    kpis = assert_flows(model, 36.0)
    assert kpis["line"]["alarms"]["true"] + kpis["line"]["alarms"]["false"] > 10
    assert 0 < kpis["line"]["crews"]["maint"] < 1


def test_samples_and_per_machine_counts_carry_the_smart_figures() -> None:
    """The live samples count alarms and technicians at work; the results count
    breakdowns and maintenances per machine, adding up to the station's."""
    from models.kpi import sample

    text = cell(
        fails_at="10",
        sensors="[{id: vib, every: 1min}]",
        maintenance="{policy: condition, alarm: {sensor: vib, above: 5}, duration: 1h, "
        "crew: maint}",
        crews="[{id: maint, count: 1, response: 30min}]",
        horizon="50000s",
    ).replace("process_time: 50s", "process_time: 50s\n    servers: 2")
    line, kpis, _ = simulate_line(text)
    station = kpis["stations"]["M"]
    machines = station["machines"]
    assert set(machines) == {"0", "1"}
    for key in ("failures", "wear_breakdowns", "maintenances"):
        assert sum(m[key] for m in machines.values()) == station[key]
    assert machines["0"]["maintenances"] == 2
    now = sample(line, 50000.0)
    assert now["alarms_true"] == kpis["line"]["alarms"]["true"] == 4
    assert now["technicians_at_work"] == line.crews["maint"].level
    assert now["readings_lost"] == 0


def test_a_snapshot_gives_what_the_changes_give_with_crews_and_sensors() -> None:
    """A late joiner's snapshot, mid-run with a technician out, equals the mirror of every
    change so far (crew levels included)."""
    from twin.changes import Mirror

    text = cell(
        fails_at="100",
        sensors="[{id: vib, every: 1min}]",
        crews="[{id: maint, count: 1, response: 30min}]",
        maintenance="{policy: condition, alarm: {sensor: vib, above: 5}, duration: 1h, "
        "crew: maint}",
        horizon="19000s",  # the technician is on the way (called at 18060 s)
    )
    line, _, seen = simulate_line(text)
    mirror, joined = Mirror(), Mirror()
    for change in seen:
        mirror.apply(change)
    for change in line.snapshot():
        joined.apply(change)
    assert joined == mirror
    assert mirror.levels["crews.maint", "level"] == 1
