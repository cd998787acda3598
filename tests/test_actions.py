"""Actions on a running line (hold, maintain, fail, speed, release rate and mix), each held
to exact reasoning on deterministic lines or to theory within confidence intervals.

Lines are written to real files, built for one replication, acted on by small processes
at given times, and measured with the same ``collect`` that produces the results.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from models.actions import Refused
from models.kpi import collect
from models.line import Line
from models.station import STATES, Machine
from scenarios.builder import build
from scenarios.loader import load
from twin.changes import Change

Write = Callable[[str], Path]
T95_3DF = 3.182  # Student's t, 97.5% quantile, 3 degrees of freedom (4 replications)


def built(path: Path, replication: int = 0) -> tuple[simpy.Environment, Line]:
    """The line of the scenario file at ``path``, ready to run."""
    env = simpy.Environment()
    return env, build(env, load(path), replication)


def at(env: simpy.Environment, time: float, action: Callable[[], None]) -> None:
    """Apply ``action`` at simulated ``time``."""

    def act() -> Generator[Any, Any, None]:
        yield env.timeout(time - env.now)
        action()

    env.process(act())


def recorded(line: Line) -> list[Change]:
    """Every change of ``line`` from now on, in a list."""
    changes: list[Change] = []
    line.changes.subscribe(changes.append)
    return changes


def times(changes: list[Change], kind: str, scope: str | None = None) -> list[float]:
    return [c.time for c in changes if c.kind == kind and scope in (None, c.scope)]


def seconds_in(line: Line, sid: str, now: float) -> dict[str, float]:
    """Seconds in each state of station ``sid`` so far (all machines), from the results."""
    station = collect(line, now)["stations"]
    assert isinstance(station, dict)
    observed = now * line.stations[sid].servers
    return {s: f * observed for s, f in station[sid]["states"].items()}


def header(name: str, horizon: float, seed: int = 1) -> str:
    return f"name: {name}\nseed: {seed}\nhorizon: {horizon}\nwarmup: 0\n"


# -- hold / unhold ----------------------------------------------------------------------

TANDEM = """arrivals:
  interarrival: 10
stations:
  - id: A
    process_time: 4
  - id: B
    process_time: 6
"""


def test_hold_finishes_the_part_in_hand_and_takes_no_new_one(scenario_file: Write) -> None:
    """Parts every 10 s, A 4 s, B 6 s; B held at 207 (mid-part) and released at 703.

    B finishes part 20 at 210 and is held until 703 (493 s); the 49 parts that queued
    meanwhile (arrived at B at 214, ..., 694) then go through back to back, the last at 997.
    """
    env, line = built(scenario_file(header("hold", 1000) + TANDEM))
    b = line.stations["B"]
    at(env, 207, b.hold)
    at(env, 703, b.unhold)
    changes = recorded(line)
    env.run(until=1000)
    doc = collect(line, 1000)
    parts = doc["line"]["parts"]  # type: ignore[index]
    assert parts == {"created": 99.0, "finished": 69.0, "scrapped": 0.0, "in_system": 30.0}
    st = doc["stations"]["B"]  # type: ignore[index]
    assert st["produced"] == 69.0
    assert seconds_in(line, "B", 1000) == pytest.approx(
        {"busy": 417, "starved": 90, "held": 493, "blocked": 0, "down": 0, "setup": 0,
         "maintenance": 0, "off": 0, "operator": 0}
    )  # fmt: skip
    states = [(c.time, c.value) for c in changes if c.kind == "state" and c.scope == "B.0"]
    held = states.index((210.0, "held"))
    # Back to back from 703 on: busy all along (the stream tells state changes only).
    assert states[held - 1 :] == [(204.0, "busy"), (210.0, "held"), (703.0, "busy")]
    acted = [(c.time, c.kind) for c in changes if c.scope == "B" and c.kind != "arrive"]
    assert acted == [(207.0, "hold"), (703.0, "unhold")]
    # Held time is a planned stop: PBT leaves it out, availability is on the rest.
    assert st["time_s"]["pbt"] == pytest.approx(507.0)
    assert st["time_s"]["pbt"] == pytest.approx(st["time_s"]["aubt"] + st["time_s"]["adot"])
    assert st["availability"] == pytest.approx(417 / 507)


def test_holding_keeps_parts_and_littles_law(scenario_file: Write) -> None:
    """WIP integrates exactly to the time the parts spent inside, held or not."""
    env, line = built(scenario_file(header("hold", 1000) + TANDEM))
    at(env, 207, line.stations["B"].hold)
    at(env, 703, line.stations["B"].unhold)
    env.run(until=1000)
    inside = sum(1000 - p.created for p in line.parts.values())
    assert line.wip.mean(1000) * 1000 == pytest.approx(line.lead_time.total + inside)
    assert line.created == line.finished + line.scrapped + len(line.parts)
    # Part 20 left B at 210; part 21, in B's buffer from 214, waited until 703.
    assert line.lead_time.count == 69
    assert line.lead_time.total == pytest.approx(
        20 * 10 + sum(703 + 6 * i - 10 * (21 + i) + 6 for i in range(49))
    )


def test_every_machine_of_a_held_station_finishes_its_part(scenario_file: Write) -> None:
    """Two saturated 10 s machines held at 15 (both mid-part) and released at 50: each
    finishes at 20, is held 30 s, and works again from 50; the two parts that entered at 20
    wait in the buffer meanwhile."""
    text = header("hold2", 100) + ONE_MACHINE.replace(
        "input_buffer: 0", "servers: 2\n    input_buffer: 0"
    )
    env, line = built(scenario_file(text))
    station = line.stations["A"]
    at(env, 15, station.hold)
    at(env, 50, station.unhold)
    changes = recorded(line)
    env.run(until=100)
    assert times(changes, "finish") == [10.0, 10.0, 20.0, 20.0] + [
        t for t in (60.0, 70.0, 80.0, 90.0) for _ in range(2)
    ]
    assert (line.created, line.in_system) == (14, 2)
    spent = seconds_in(line, "A", 100)
    assert (spent["busy"], spent["held"], spent["starved"]) == pytest.approx((140, 60, 0))


# -- fail -------------------------------------------------------------------------------

FAILURES = {
    "none": "",
    "operating": "    failures: {mtbf: 1000000, mttr: 7}\n",
    "calendar": "    failures: {mtbf: 1000000, mttr: 7, basis: calendar}\n",
}


def single(basis: str, extra: str = "") -> str:
    """Parts every 100 s onto one machine of 30 s, maybe with (far-off) failures."""
    return (
        header("fail", 300)
        + "arrivals:\n  interarrival: 100\nstations:\n  - id: A\n    process_time: 30\n"
        + extra
        + FAILURES[basis]
    )


@pytest.mark.parametrize("basis", FAILURES)
@pytest.mark.parametrize(
    ("extra", "fail_at", "repair", "finish", "spent"),
    [
        # busy 100-110, down 110-135, the remaining 20 s of work 135-155
        ("", 110, 25, 155, {"busy": 60, "down": 25, "starved": 215}),
        # setup 100-105, down 105-125, the rest of the setup 125-130, busy 130-160
        ("    setup: {time: 10, when: always}\n", 105, 20, 160,
         {"busy": 60, "setup": 20, "down": 20, "starved": 200}),
        # starved, down 90-110: the part that came at 100 waits for the repair
        ("", 90, 20, 140, {"busy": 60, "down": 20, "starved": 220}),
    ],
)  # fmt: skip
def test_a_failure_put_on_a_machine_pauses_its_work(
    scenario_file: Write,
    basis: str,
    extra: str,
    fail_at: float,
    repair: float,
    finish: float,
    spent: dict[str, float],
) -> None:
    """The machine is down exactly for the repair; the work in hand resumes after it."""
    env, line = built(scenario_file(single(basis, extra)))
    machine = line.stations["A"].machines[0]
    at(env, fail_at, lambda: machine.fail(repair))
    changes = recorded(line)
    env.run(until=300)
    assert times(changes, "fail") == [fail_at]
    assert times(changes, "repair") == [fail_at + repair]
    assert times(changes, "finish") == [finish, 240.0 if extra else 230.0]
    assert seconds_in(line, "A", 300) == pytest.approx(dict.fromkeys(STATES, 0.0) | spent)
    assert collect(line, 300)["stations"]["A"]["failures"] == 1.0  # type: ignore[index]


def blocking(basis: str) -> str:
    """Parts every 20 s; A 10 s, then B 50 s with no place before it: A blocks."""
    return (
        header("blocked", 100)
        + "arrivals:\n  interarrival: 20\nstations:\n  - id: A\n    process_time: 10\n"
        + FAILURES[basis]
        + "  - id: B\n    input_buffer: 0\n    process_time: 50\n"
    )


@pytest.mark.parametrize("basis", FAILURES)
@pytest.mark.parametrize(
    ("repair", "spent"),
    [
        # blocked 50-60, down 60-70, blocked again 70-80, part 2 80-90, blocked 90-100
        (10, {"busy": 30, "starved": 30, "blocked": 30, "down": 10}),
        # down 60-90: B frees at 80, part 1 leaves, part 2 waits for the repair: 90-100
        (30, {"busy": 30, "starved": 30, "blocked": 10, "down": 30}),
    ],
)
def test_a_blocked_machine_fails_and_is_blocked_again_after_repair(
    scenario_file: Write, basis: str, repair: float, spent: dict[str, float]
) -> None:
    """A blocked machine put down at 60 is down until repaired, then blocked if still so;
    its finished part moves on when there is room, as it would have."""
    env, line = built(scenario_file(blocking(basis)))
    machine = line.stations["A"].machines[0]
    at(env, 60, lambda: machine.fail(repair))
    changes = recorded(line)
    env.run(until=100)
    assert times(changes, "arrive", "B") == [30.0, 80.0]
    assert seconds_in(line, "A", 100) == pytest.approx(dict.fromkeys(STATES, 0.0) | spent)


def test_a_held_machine_can_fail(scenario_file: Write) -> None:
    """Held at 50, down 60-80, released at 70: starved after the repair, the part of 100
    goes through at once."""
    env, line = built(scenario_file(single("none")))
    station = line.stations["A"]
    at(env, 50, station.hold)
    at(env, 60, lambda: station.machines[0].fail(20))
    at(env, 70, station.unhold)
    changes = recorded(line)
    env.run(until=300)
    assert times(changes, "finish") == [130.0, 230.0]
    spent = seconds_in(line, "A", 300)
    assert (spent["held"], spent["down"], spent["busy"]) == pytest.approx((10, 20, 60))


SATURATED_FAILING = """stations:
  - id: A
    input_buffer: 0
    process_time: 30
    failures: {{mtbf: 100, mttr: 10, basis: {basis}}}
"""


@pytest.mark.parametrize(
    ("basis", "fails"),
    [
        # operating: 100 s of work to the natural failure, of which 50 before the put-on
        # one; that clock is not renewed, so it fails at 105, and 100 s of work after 115
        ("operating", [50.0, 105.0, 215.0]),
        # calendar: the natural failures keep their calendar times
        ("calendar", [50.0, 100.0, 210.0]),
    ],
)
def test_a_failure_put_on_does_not_renew_the_machine(
    scenario_file: Write, basis: str, fails: list[float]
) -> None:
    """Only maintenance makes a machine as good as new, not a repair of a put-on failure."""
    env, line = built(scenario_file(header("renew", 250) + SATURATED_FAILING.format(basis=basis)))
    machine = line.stations["A"].machines[0]
    at(env, 50, lambda: machine.fail(5))
    changes = recorded(line)
    env.run(until=250)
    assert times(changes, "fail") == fails
    assert machine.failures == 3


def test_a_calendar_failure_due_during_a_put_on_one_follows_its_repair(
    scenario_file: Write,
) -> None:
    """Calendar failures every 100 s: put down at 95 for 10 s, the failure due at 100 comes
    when that repair ends, at 105; its own repair (10 s) ends at 115, the next is due at 215."""
    text = header("defer", 250) + SATURATED_FAILING.format(basis="calendar")
    env, line = built(scenario_file(text))
    at(env, 95, lambda: line.stations["A"].machines[0].fail(10))
    changes = recorded(line)
    env.run(until=250)
    assert times(changes, "fail") == [95.0, 105.0, 215.0]
    assert times(changes, "repair") == [105.0, 115.0, 225.0]


def test_a_failure_without_repair_time_draws_one(scenario_file: Write) -> None:
    """With no repair time given, the machine's own repair time is used (here 10 s)."""
    text = header("draw", 250) + SATURATED_FAILING.format(basis="calendar")
    env, line = built(scenario_file(text))
    at(env, 50, line.stations["A"].machines[0].fail)
    changes = recorded(line)
    env.run(until=250)
    assert times(changes, "repair") == [60.0, 110.0, 220.0]


# -- maintain ---------------------------------------------------------------------------


def test_maintenance_waits_for_the_part_and_renews_the_failure_clock(scenario_file: Write) -> None:
    """Calendar failures every 100 s; maintenance for 20 s ordered at 40 (busy until 60):
    under way 60-80, the failure due at 100 is cancelled and the next comes at 180."""
    text = header("maintain", 250) + SATURATED_FAILING.format(basis="calendar")
    env, line = built(scenario_file(text))
    machine = line.stations["A"].machines[0]
    at(env, 40, lambda: machine.maintain(20))
    changes = recorded(line)
    env.run(until=250)
    assert times(changes, "fail") == [180.0]
    assert [c.time for c in changes if c.kind == "state" and c.value == "maintenance"] == [60.0]
    doc = collect(line, 250)["stations"]["A"]  # type: ignore[index]
    assert (doc["maintenances"], doc["failures"]) == (1.0, 1.0)
    assert doc["states"]["maintenance"] * 250 == pytest.approx(20)
    assert doc["states"]["down"] * 250 == pytest.approx(10)
    assert doc["time_s"]["pbt"] == pytest.approx(230)


def test_maintenance_of_a_blocked_machine_starts_when_its_part_has_left(
    scenario_file: Write,
) -> None:
    """A, blocked from 50 with part 1, is ordered to maintenance at 60: part 1 leaves at
    80, maintenance 80-95; part 2, waiting since 60, then takes 95-105."""
    env, line = built(scenario_file(blocking("none")))
    machine = line.stations["A"].machines[0]
    at(env, 60, lambda: machine.maintain(15))
    changes = recorded(line)
    env.run(until=100)
    states = [(c.time, c.value) for c in changes if c.kind == "state" and c.scope == "A.0"]
    assert [s for s in states if s[0] >= 60] == [(80.0, "maintenance"), (95.0, "busy")]


HORIZON = 500000  # about 900 maintenance cycles per replication


class AgeReplacement:
    """Maintain a machine once it has worked ``age`` seconds since it was last as good as
    new (after a repair or a maintenance). Ordered half a part early, so that on average
    the stop begins at that age."""

    def __init__(self, line: Line, machine: Machine, age: float, duration: float) -> None:
        self.env = line.env
        self.machine = machine
        self.age = age
        self.duration = duration
        self.failed = self.env.event()
        self.renewed = self.env.event()
        self.maintaining = False
        line.changes.subscribe(self.watch)
        self.env.process(self.run())

    def watch(self, change: Change) -> None:
        if change.scope != self.machine.scope:
            return
        if change.kind == "fail":
            self.failed = self.fire(self.failed)
        elif change.kind == "repair" or (
            change.kind == "state" and self.maintaining and change.value != "maintenance"
        ):
            self.maintaining = False
            self.renewed = self.fire(self.renewed)
        elif change.kind == "state" and change.value == "maintenance":
            self.maintaining = True

    def fire(self, event: simpy.Event) -> simpy.Event:
        event.succeed()
        return self.env.event()

    def run(self) -> Generator[Any, Any, None]:
        while True:
            due, failed = self.env.timeout(self.age), self.failed
            yield due | failed
            if not failed.triggered and not self.machine.down:
                self.machine.maintain(self.duration)
            yield self.renewed


def test_age_replacement_matches_renewal_reward_theory(scenario_file: Write) -> None:
    """Weibull(shape 2, scale 1000 s) times to failure in operating time, repair 200 s,
    maintenance 50 s at age 500 s: by renewal-reward, a cycle lasts E[min(X, T)] + F(T) R
    + (1 - F(T)) M, with F(T) failures; down and maintenance shares, and failures per
    operating hour, follow. Parts take 10 s, so stops begin within 5 s of age 500."""
    shape, scale, repair, maint, age = 2.0, 1000.0, 200.0, 50.0, 500.0
    text = header("age", HORIZON, seed=11) + (
        "stations:\n  - id: A\n    input_buffer: 0\n    process_time: 10\n"
        f"    failures: {{mtbf: {{dist: weibull, shape: {shape}, scale: {scale}}},"
        f" mttr: {repair}}}\n"
    )
    path = scenario_file(text)
    down, planned, per_hour, stops_per_hour = [], [], [], []
    for replication in range(4):
        env, line = built(path, replication)
        machine = line.stations["A"].machines[0]
        AgeReplacement(line, machine, age - 5.0, maint)
        env.run(until=HORIZON)
        st = collect(line, HORIZON)["stations"]["A"]  # type: ignore[index]
        down.append(st["states"]["down"])
        planned.append(st["states"]["maintenance"])
        per_hour.append(st["failures"] / (st["states"]["busy"] * HORIZON) * 3600)
        stops_per_hour.append(st["maintenances"] / HORIZON * 3600)
    survive = integrate.quad(lambda x: math.exp(-((x / scale) ** shape)), 0, age)[0]
    f = 1 - math.exp(-((age / scale) ** shape))
    cycle = survive + f * repair + (1 - f) * maint
    for values, theory in (
        (down, f * repair / cycle),
        (planned, (1 - f) * maint / cycle),
        (per_hour, f / survive * 3600),
        (stops_per_hour, (1 - f) / cycle * 3600),
    ):
        mean = float(np.mean(values))
        half = T95_3DF * float(np.std(values, ddof=1)) / math.sqrt(len(values))
        assert abs(mean - theory) <= max(3 * half, 0.01 * theory), (mean, half, theory)
        assert abs(mean - theory) <= 0.15 * theory, (mean, theory)


# -- speed ------------------------------------------------------------------------------

ONE_MACHINE = "stations:\n  - id: A\n    input_buffer: 0\n    process_time: 10\n"


def test_speed_changes_the_process_times_of_parts_started_later(scenario_file: Write) -> None:
    """A saturated 10 s machine set to factor 0.5 at 505: the part begun at 500 still takes
    10 s; from 510 on parts take 5 s, so 51 + 98 leave by 1001. Effectiveness is measured
    against the scenario's ideal cycle of 10 s."""
    env, line = built(scenario_file(header("speed", 1001) + ONE_MACHINE))
    station = line.stations["A"]
    at(env, 505, lambda: station.set_speed(0.5))
    changes = recorded(line)
    env.run(until=1001)
    assert line.finished == 149
    assert times(changes, "finish")[50:53] == [510.0, 515.0, 520.0]
    assert [(c.kind, c.value) for c in changes if c.scope == "A" and c.kind == "speed"] == [
        ("speed", "0.5")
    ]
    st = collect(line, 1001)["stations"]["A"]  # type: ignore[index]
    assert st["effectiveness"] == pytest.approx(10 * 149 / 1001)


MM1 = """arrivals:
  interarrival: {{dist: exponential, mean: {interarrival}}}
stations:
  - id: M
    process_time: {{dist: exponential, mean: {service}}}
"""


def ci_agrees(values: list[float], theory: float, rel: float) -> None:
    """The mean of ``values`` is within 3 t-based 95% half-widths and ``rel`` of theory."""
    mean = float(np.mean(values))
    half = T95_3DF * float(np.std(values, ddof=1)) / math.sqrt(len(values))
    found = f"simulated {mean:.5g} ± {half:.3g}, theory {theory:.5g}"
    assert abs(mean - theory) <= 3 * half, found
    assert abs(mean - theory) <= rel * theory, found


def test_speeding_up_an_mm1_gives_its_new_utilisation_and_sojourn(scenario_file: Write) -> None:
    """M/M/1 with arrivals every 10 s and service 16 s (overloaded) at factor 0.5 from the
    start: service 8 s, so utilisation 0.8 and mean time in system 1/(mu - lambda) = 40 s."""
    path = scenario_file(header("mm1", 100000, seed=3) + MM1.format(interarrival=10, service=16))
    busy, sojourn = [], []
    for replication in range(4):
        env, line = built(path, replication)
        at(env, 0, lambda line=line: line.stations["M"].set_speed(0.5))
        env.run(until=100000)
        doc = collect(line, 100000)
        busy.append(doc["stations"]["M"]["states"]["busy"])  # type: ignore[index]
        sojourn.append(line.lead_time.mean)
    ci_agrees(busy, 0.8, rel=0.03)
    ci_agrees(sojourn, 40.0, rel=0.15)


# -- release rate and mix ---------------------------------------------------------------


def test_doubling_the_release_rate_half_way_doubles_the_load(scenario_file: Write) -> None:
    """M/M/1 with service 8 s and arrivals every 20 s (utilisation 0.4), the rate doubled
    at half time: utilisation lambda'/mu = 0.8 in the second half."""
    path = scenario_file(header("rate", 200000, seed=5) + MM1.format(interarrival=20, service=8))
    first, second = [], []
    for replication in range(4):
        env, line = built(path, replication)
        arrivals = line.arrivals
        assert arrivals is not None
        machine = line.stations["M"].machines[0]
        half: list[float] = []

        def double(arrivals: Any = arrivals, machine: Machine = machine, half: Any = half) -> None:
            half.append(machine.clock.close(100000)[0])
            arrivals.set_rate(2.0)

        at(env, 100000, double)
        env.run(until=200000)
        first.append(half[0] / 100000)
        second.append((machine.clock.close(200000)[0] - half[0]) / 100000)
    ci_agrees(first, 0.4, rel=0.03)
    ci_agrees(second, 0.8, rel=0.03)


TWO_PRODUCTS = """products:
  - {id: p, route: [A]}
  - {id: q, route: [A]}
arrivals:
  mix: {p: 0.5, q: 0.5}
  interarrival: 1
stations:
  - id: A
    process_time: 0.5
"""


def test_a_new_mix_shows_in_the_products_that_enter(scenario_file: Write) -> None:
    """Half p, half q; from 2000 s on, shares 1:4 (p 0.2): each half's count of p lies
    within 3 binomial standard deviations of its expectation (1999 and 2000 parts)."""
    env, line = built(scenario_file(header("mix", 4000.5, seed=8) + TWO_PRODUCTS))
    arrivals = line.arrivals
    assert arrivals is not None
    at(env, 1999.5, lambda: arrivals.set_mix({"p": 1, "q": 4}))
    changes = recorded(line)
    env.run(until=4000.5)
    created = [(c.time, c.value) for c in changes if c.kind == "create"]
    before = [product for t, product in created if t < 2000]
    after = [product for t, product in created if t >= 2000]
    assert (len(before), len(after)) == (1999, 2001)
    for products, share in ((before, 0.5), (after, 0.2)):
        n = len(products)
        assert abs(products.count("p") - n * share) <= 3 * math.sqrt(n * share * (1 - share))
    assert [c.value for c in changes if c.kind == "mix"] == ["p=1,q=4"]


def test_a_feeder_takes_a_new_mix(scenario_file: Write) -> None:
    """A saturated line: after the feeder's mix becomes all q, no p enters."""
    text = header("feeder", 100) + TWO_PRODUCTS.replace(
        "arrivals:\n  mix: {p: 0.5, q: 0.5}\n  interarrival: 1\n", ""
    ).replace("process_time: 0.5", "input_buffer: 0\n    process_time: 1")
    env, line = built(scenario_file(text))
    assert line.arrivals is None
    (feeder,) = line.feeders
    at(env, 50.5, lambda: feeder.set_mix({"q": 1}))
    changes = recorded(line)
    env.run(until=100)
    late = [c.value for c in changes if c.kind == "create" and c.time > 50.5]
    assert late == ["q"] * 49
    early = [c.value for c in changes if c.kind == "create" and c.time < 50.5]
    assert set(early) == {"p", "q"}


# -- refusals ---------------------------------------------------------------------------

RANDOM_LINE = """products:
  - {id: p, route: [A, B]}
  - {id: q, route: [A, B]}
arrivals:
  mix: {p: 0.3, q: 0.7}
  interarrival: {dist: exponential, mean: 10}
stations:
  - id: A
    input_buffer: 2
    process_time: {dist: exponential, mean: 6}
    failures: {mtbf: {dist: exponential, mean: 300}, mttr: {dist: exponential, mean: 30}}
  - id: B
    process_time: {dist: exponential, mean: 7}
"""

NAN, INF = math.nan, math.inf


def refusals(line: Line) -> list[tuple[str, Callable[[], None]]]:
    """Actions that must each be refused with the code given, on ``RANDOM_LINE`` at any
    time when A's machine is up and not in maintenance, and neither station is held."""
    a, b = line.stations["A"], line.stations["B"]
    arrivals = line.arrivals
    assert arrivals is not None
    ma, mb = a.machines[0], b.machines[0]
    bad = "bad_parameter"
    cases: list[tuple[str, Callable[[], None]]] = [
        ("not_allowed_in_state", a.unhold),
        ("not_allowed_in_state", b.unhold),
        (bad, lambda: mb.fail()),  # B has no failure model to draw a repair time from
        (bad, lambda: ma.fail(-1)),
        (bad, lambda: ma.fail(NAN)),
        (bad, lambda: ma.fail(INF)),
        (bad, lambda: ma.fail("5")),  # type: ignore[arg-type]
    ]
    for value in (0, -1, NAN, INF, True, "2"):
        cases += [
            (bad, lambda v=value: ma.maintain(v)),
            (bad, lambda v=value: a.set_speed(v)),
            (bad, lambda v=value: arrivals.set_rate(v)),
        ]
    for mix in ({}, {"r": 1}, {"p": -1, "q": 1}, {"p": 0, "q": 0}, {"p": NAN}, {"p": "1"}):
        cases.append((bad, lambda m=mix: arrivals.set_mix(m)))  # type: ignore[arg-type]
    return cases


def test_each_bad_action_is_refused_with_its_code(scenario_file: Write) -> None:
    """Bad parameters and wrong states give ``Refused`` with the right code, nothing else."""
    env, line = built(scenario_file(header("refuse", 100) + RANDOM_LINE))
    env.run(until=1)
    for code, action in refusals(line):
        with pytest.raises(Refused) as refused:
            action()
        assert refused.value.code == code, refused.value.reason
        assert str(refused.value) == refused.value.reason != ""


def test_actions_in_the_wrong_state_are_refused(scenario_file: Write) -> None:
    """Held twice, maintained twice, failed or maintained while down or in maintenance."""
    env, line = built(scenario_file(header("states", 100) + ONE_MACHINE))
    station = line.stations["A"]
    machine = station.machines[0]
    env.run(until=1)
    station.hold()
    machine.maintain(5)
    for action in (station.hold, lambda: machine.maintain(5)):
        with pytest.raises(Refused, match="already") as refused:
            action()
        assert refused.value.code == "not_allowed_in_state"
    env.run(until=12)  # the part of 0-10 left at 10: maintenance 10-15, then held
    with pytest.raises(Refused, match="maintenance") as refused:
        machine.fail(3)
    assert refused.value.code == "not_allowed_in_state"
    env.run(until=20)
    machine.fail(3)
    for action in (lambda: machine.fail(3), lambda: machine.maintain(5)):
        with pytest.raises(Refused, match="down") as refused:
            action()
        assert refused.value.code == "not_allowed_in_state"
    assert (machine.failures, machine.maintenances) == (1, 1)


def test_a_refused_action_changes_nothing(scenario_file: Write) -> None:
    """A run with every refusal tried at several times gives results identical to a run
    without them, to the bit."""
    path = scenario_file(header("refuse", 3000, seed=4) + RANDOM_LINE)

    def results(refuse: bool) -> str:
        env, line = built(path)
        if refuse:
            for t in (100.5, 1000.5, 2000.5):
                at(env, t, lambda line=line: tried(line))
        env.run(until=3000)
        return json.dumps(collect(line, 3000), sort_keys=True)

    def tried(line: Line) -> None:
        for _, action in refusals(line):
            if not line.stations["A"].machines[0].down:
                with pytest.raises(Refused):
                    action()

    assert results(refuse=True) == results(refuse=False)


def test_applied_actions_are_announced_on_the_change_stream(scenario_file: Write) -> None:
    """Each applied action emits one record on its scope: its kind and its parameter."""
    env, line = built(scenario_file(header("announce", 100) + RANDOM_LINE))
    changes = recorded(line)
    a = line.stations["A"]
    arrivals = line.arrivals
    assert arrivals is not None
    at(env, 10, a.hold)
    at(env, 20, a.unhold)
    at(env, 30, lambda: line.stations["B"].machines[0].maintain(12.5))
    at(env, 40, lambda: a.set_speed(0.75))
    at(env, 50, lambda: arrivals.set_rate(1.5))
    at(env, 60, lambda: arrivals.set_mix({"p": 1}))
    env.run(until=100)
    acted = {"hold", "unhold", "maintain", "speed", "rate", "mix"}
    assert [(c.time, c.scope, c.kind, c.value) for c in changes if c.kind in acted] == [
        (10.0, "A", "hold", ""),
        (20.0, "A", "unhold", ""),
        (30.0, "B.0", "maintain", "12.5"),
        (40.0, "A", "speed", "0.75"),
        (50.0, "line", "rate", "1.5"),
        (60.0, "line", "mix", "p=1"),
    ]


def test_maintenance_of_a_starved_or_held_machine_starts_at_once(scenario_file: Write) -> None:
    """Parts every 100 s, 30 s each. Starved at 40: maintenance 40-60. Held at 240 and
    maintained at 250: maintenance 250-270, then held again until released at 280."""
    env, line = built(scenario_file(single("none")))
    station = line.stations["A"]
    machine = station.machines[0]
    at(env, 40, lambda: machine.maintain(20))
    at(env, 240, station.hold)
    at(env, 250, lambda: machine.maintain(20))
    at(env, 280, station.unhold)
    changes = recorded(line)
    env.run(until=300)
    states = [(c.time, c.value) for c in changes if c.kind == "state"]
    assert [s for s in states if s[1] in ("maintenance", "held")] == [
        (40.0, "maintenance"),
        (240.0, "held"),
        (250.0, "maintenance"),
        (270.0, "held"),
    ]
    assert times(changes, "finish") == [130.0, 230.0]
    spent = seconds_in(line, "A", 300)
    assert (spent["maintenance"], spent["held"], spent["busy"]) == pytest.approx((40, 20, 60))
    assert machine.maintenances == 2


# -- anything an agent may send ---------------------------------------------------------

FUZZ_LINE = """products:
  - {id: p, route: [A, B]}
  - {id: q, route: [A, B]}
arrivals:
  mix: {p: 0.3, q: 0.7}
  interarrival: {dist: exponential, mean: 8}
stations:
  - id: A
    input_buffer: 1
    process_time: {dist: exponential, mean: 6}
    failures: {mtbf: {dist: exponential, mean: 300}, mttr: {dist: exponential, mean: 30}}
  - id: B
    servers: 2
    input_buffer: 0
    process_time: {dist: exponential, mean: 11}
    setup: {time: 2}
    scrap_rate: 0.1
    failures:
      mtbf: {dist: exponential, mean: 200}
      mttr: {dist: exponential, mean: 20}
      basis: calendar
"""

KINDS = ("hold", "unhold", "maintain", "fail", "speed", "rate", "mix")
VALUES = st.one_of(
    st.floats(min_value=-5, max_value=200), st.sampled_from([math.nan, math.inf, 0.0])
)


def act(line: Line, kind: str, target: int, value: float) -> None:
    """One action of an agent on ``FUZZ_LINE``: on station A or B, machine ``target``."""
    station = line.stations["AB"[target % 2]]
    machine = station.machines[target % len(station.machines)]
    arrivals = line.arrivals
    assert arrivals is not None
    actions: dict[str, Callable[[], None]] = {
        "hold": station.hold,
        "unhold": station.unhold,
        "maintain": lambda: machine.maintain(value),
        "fail": lambda: machine.fail(None if value < 0 else value),
        "speed": lambda: station.set_speed(value),
        "rate": lambda: arrivals.set_rate(value),
        "mix": lambda: arrivals.set_mix({"p": value, "q": 1.0}),
    }
    try:
        actions[kind]()
    except Refused as refused:
        assert refused.code in ("bad_parameter", "not_allowed_in_state")


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=1999),
            st.sampled_from(KINDS),
            st.integers(0, 3),
            VALUES,
        ),
        max_size=25,
    )
)
def test_any_actions_keep_the_books_balanced(
    tmp_path_factory: pytest.TempPathFactory, plan: list[tuple[float, str, int, float]]
) -> None:
    """Whatever is sent, whenever: nothing but ``Refused`` is raised, parts are conserved,
    Little's law holds on the path, and each station's time elements add up."""
    path = tmp_path_factory.mktemp("fuzz") / "line.yaml"
    path.write_text(header("fuzz", 2000, seed=2) + FUZZ_LINE, encoding="utf-8")
    env, line = built(path)
    changes = recorded(line)
    for time, kind, target, value in sorted(plan):
        at(env, time, lambda k=kind, t=target, v=value: act(line, k, t, v))
    env.run(until=2000)
    doc = collect(line, 2000)
    assert line.created == line.finished + line.scrapped + len(line.parts)
    # Little's law on the path: WIP integrates to the time every part spent inside,
    # finished, scrapped or still there.
    created = {c.part: c.time for c in changes if c.kind == "create"}
    left = {c.part: c.time for c in changes if c.kind in ("finish", "scrap")}
    spent_inside = sum(left.get(p, 2000) - t for p, t in created.items())
    assert line.wip.mean(2000) * 2000 == pytest.approx(spent_inside)
    for sid, station in line.stations.items():
        kpi = doc["stations"][sid]  # type: ignore[index]
        assert sum(kpi["states"].values()) == pytest.approx(1.0)
        t, spent = kpi["time_s"], seconds_in(line, sid, 2000)
        assert t["pbt"] == pytest.approx(t["aubt"] + t["adot"])
        assert t["pbt"] == pytest.approx(
            2000 * station.servers - spent["held"] - spent["maintenance"]
        )
        fails = sum(c.kind == "fail" and c.scope.startswith(f"{sid}.") for c in changes)
        assert kpi["failures"] == fails
