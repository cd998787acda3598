"""The change stream: records fanned out to subscribers, snapshots, and a mirror of both."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable

import simpy
from test_gear_line import GEAR

from models.kpi import collect
from models.line import Line
from models.station import STATES
from scenarios.builder import build
from scenarios.catalog import load_scenario
from scenarios.commands import Door
from scenarios.experiment import run_replication
from scenarios.loader import loads
from scenarios.retrofits import apply, parse_plan
from scenarios.schema import Scenario
from twin.changes import STATE_KINDS, Change, Changes, Mirror, Row

# Two servers, setups, failures of both bases, scrap, blocking, arrivals behind a full gate.
LINE = """\
name: observed
seed: 11
horizon: 3h
products:
  - id: A
    route: [M1, M2, M3]
  - id: B
    route: [M1, M3]
arrivals:
  mix: {A: 0.6, B: 0.4}
  interarrival: {dist: exponential, mean: 35s}
stations:
  - id: M1
    servers: 2
    input_buffer: 3
    process_time: {dist: exponential, mean: 60s}
    setup: {time: 15s}
    failures: {mtbf: {dist: exponential, mean: 20min}, mttr: {dist: exponential, mean: 3min},
               basis: calendar}
  - id: M2
    input_buffer: 1
    process_time: {dist: gamma, mean: 40s, cv: 0.5}
    scrap_rate: 0.1
    failures: {mtbf: {dist: exponential, mean: 15min}, mttr: 2min}
  - id: M3
    input_buffer: 2
    process_time: {dist: exponential, mean: 25s}
"""


def observed(scenario: Callable[[str], Scenario]) -> tuple[simpy.Environment, Line, list[Change]]:
    """The line above, built with a list that receives every change."""
    env = simpy.Environment()
    changes = Changes()
    seen: list[Change] = []
    changes.subscribe(seen.append)
    return env, build(env, scenario(LINE), 0, changes), seen


def test_every_subscriber_gets_every_change_until_it_leaves() -> None:
    """Two subscribers see the same records in order; one that unsubscribes sees no more."""
    changes = Changes()
    assert not changes.live
    first: list[Change] = []
    second: list[Change] = []
    changes.subscribe(first.append)
    leave = changes.subscribe(second.append)
    assert changes.live
    changes.record((1.0, "M1.0", "state", -1, "busy"))
    leave()
    changes.event((2.0, "M1.0", "fail", -1, ""))
    assert first == [
        Change(1.0, "M1.0", "state", -1, "busy"),
        Change(2.0, "M1.0", "fail", -1, ""),
    ]
    assert second == first[:1]
    leave()  # twice is harmless
    assert changes.live


def test_observing_a_run_does_not_change_it(scenario: Callable[[str], Scenario]) -> None:
    """The KPIs of a replication with a subscriber equal, to the bit, those without."""
    env, line, seen = observed(scenario)
    env.run(until=3 * 3600)
    assert len(seen) > 1000
    assert collect(line, env.now) == run_replication(scenario(LINE), 0)


def test_a_snapshot_mirrors_every_change_of_a_real_line_so_far() -> None:
    """The same on the gear line (shifts, operators, a conveyor, an AGV, a batch furnace):
    the conveyor's level and the parts on their way are in the snapshot too, and each
    buffer's counted level is its queue."""
    env = simpy.Environment()
    changes = Changes()
    early = Mirror()
    changes.subscribe(early)
    line = build(env, loads(GEAR, "gear.yaml"), 0, changes)
    for t in (3600.0, 6.5 * 3600, 10.2 * 3600, 30 * 3600, 80 * 3600):
        env.run(until=t)
        late = Mirror()
        for change in line.snapshot():
            late.apply(change)
        assert late == early, t
        assert late.levels["HOB>SHAVE", "level"] == line.conveyors[0].level
        for station in line.stations.values():  # a buffer's level: the parts not yet taken
            waiting = late.levels.get((f"{station.id}.buffer", "level"), 0)
            assert waiting == len(station.queue.items), (t, station.id)


def test_a_snapshot_mirrors_every_change_so_far(scenario: Callable[[str], Scenario]) -> None:
    """At any moment, a late joiner's mirror of the snapshot equals an early joiner's mirror."""
    env = simpy.Environment()
    changes = Changes()
    early = Mirror()
    changes.subscribe(early)
    line = build(env, scenario(LINE), 0, changes)
    for t in (0.5, 611.3, 1800.7, 4567.9, 9999.1):
        env.run(until=t)
        late = Mirror()
        for change in line.snapshot():
            late.apply(change)
        assert late == early, t
        assert len(late.parts) == line.in_system
        machines = {m.scope: m for st in line.stations.values() for m in st.machines}
        for scope, machine in machines.items():
            assert late.levels[scope, "state"] == STATES[machine.clock.state]
        for station in line.stations.values():
            # A buffer holds the parts at its station, not yet taken by a machine (one
            # being set up for is on the machine): its queue.
            here = [p for p, (where, _) in late.parts.items() if where == station.id]
            assert late.levels.get((f"{station.id}.buffer", "level"), 0) == len(here)
            assert len(here) == len(station.queue.items), (t, station.id)


def test_buffer_levels_move_one_part_at_a_time(scenario: Callable[[str], Scenario]) -> None:
    """A buffer's level, counted by a mirror from the parts' whereabouts (the stream sends
    none), goes up or down by one part per change and never below zero; at the end it is
    the run's own count of the parts at each station."""
    env, line, seen = observed(scenario)
    env.run(until=3 * 3600)
    assert not [c for c in seen if c.scope.endswith(".buffer")]
    mirror = Mirror()
    levels: dict[str, int] = defaultdict(int)
    highest: dict[str, int] = defaultdict(int)
    for c in seen:
        mirror.apply(c)
        for scope in {"M1.buffer", "M2.buffer", "M3.buffer"}:
            level = int(mirror.levels.get((scope, "level"), 0))
            assert level >= 0 and abs(level - levels[scope]) <= 1, c
            levels[scope] = level
            highest[scope] = max(highest[scope], level)
    assert 0 < max(highest.values()) <= 3
    for station in line.stations.values():
        at = sum(p.where == station.id for p in line.parts.values())
        assert levels[f"{station.id}.buffer"] == at == len(station.queue.items)


def test_failures_and_repairs_alternate_and_match_the_kpis(
    scenario: Callable[[str], Scenario],
) -> None:
    """Per machine: fail, repair, fail, ...; down in between; as many failures as counted."""
    env, line, seen = observed(scenario)
    env.run(until=3 * 3600)
    last: dict[str, str] = {}
    fails: dict[str, int] = defaultdict(int)
    state: dict[str, str] = {}
    for c in seen:
        if c.kind == "state":
            state[c.scope] = str(c.value)
        elif c.kind in ("fail", "repair"):
            assert last.get(c.scope, "repair") != c.kind, c
            last[c.scope] = c.kind
            fails[c.scope] += c.kind == "fail"
        if c.kind == "state" and last.get(c.scope) == "fail":
            assert c.value == "down", c  # a failed machine stays down until repaired
    kpis = collect(line, env.now)
    for sid, station in line.stations.items():
        counted = sum(fails[m.scope] for m in station.machines)
        assert counted == kpis["stations"][sid]["failures"]
    assert fails["M1.0"] + fails["M1.1"] > 0 and fails["M2.0"] > 0


def test_scopes_are_dotted_entity_names(scenario: Callable[[str], Scenario]) -> None:
    """Machines are STATION.INDEX, stations and the line by name (a buffer, STATION.buffer,
    has its level counted by a mirror, not sent)."""
    env, _, seen = observed(scenario)
    env.run(until=3600)
    kinds: dict[str, set[str]] = defaultdict(set)
    for c in seen:
        kinds[c.kind].add(c.scope)
    assert kinds["state"] == {"M1.0", "M1.1", "M2.0", "M3.0"}
    assert "level" not in kinds  # no conveyor, no pool; a buffer's level is counted
    assert kinds["create"] == kinds["finish"] == {"line"}
    assert kinds["arrive"] == {"M1", "M2", "M3"}
    assert all(re.fullmatch(r"M\d\.\d", s) for s in kinds["start"] | kinds["scrap"])


class Doors(Changes):
    """A fan-out that notes, for each kind, the door it came through."""

    __slots__ = ("doors",)

    def __init__(self) -> None:
        super().__init__()
        self.doors: dict[str, set[str]] = defaultdict(set)
        self.live = True

    def record(self, row: Row) -> None:
        self.doors[row[2]].add("record")

    def event(self, row: Row) -> None:
        self.doors[row[2]].add("event")


def test_changes_of_state_and_events_come_through_their_own_doors() -> None:
    """A mirror's kinds (levels, states, whereabouts, departures) through ``record``, every
    other kind through ``event``: on the demo with every retrofit (sensors, alarms, the
    network, inspection, rework), the gear line (operators, a conveyor, an AGV, a batch
    furnace, shifts), a line with arrivals, and commands of every kind."""
    demo = load_scenario("demo")
    everything = apply(demo, parse_plan(demo, "+".join(r.id for r in demo.retrofits)))
    gear = loads(GEAR, "gear.yaml")
    open_line = loads(LINE, "observed.yaml")
    doors = Doors()
    for model, days in ((everything, 2), (gear, 2), (open_line, 0.1)):
        env = simpy.Environment()
        line = build(env, model, 0, doors)
        env.run(until=days * 86400)
        door = Door(line)
        first, second = list(line.stations.values())[:2]
        commands = [
            ("hold", first.id, {}),
            ("release", first.id, {}),
            ("maintain", first.machines[0].scope, {"duration": 60}),
            ("fail", second.machines[0].scope, {"repair": 30}),
            ("speed", second.id, {"factor": 1.5}),
        ]
        if model is open_line:  # the others are saturated: no arrival rate to change
            commands.append(("release_rate", "arrivals", {"factor": 0.9}))
            commands.append(("mix", "arrivals", {"mix": {"A": 0.5, "B": 0.5}}))
        for i, (action, target, params) in enumerate(commands):
            command = {"cmd_id": f"c{i}", "action": action, "target": target, "params": params}
            assert door.submit(command, "trainer").ok, command
        env.run(until=env.now + 3600)
    assert doors.doors  # something came through
    wrong = {
        k: d for k, d in doors.doors.items() if d != {"record" if k in STATE_KINDS else "event"}
    }
    assert not wrong
    seen = set(doors.doors)
    assert {"state", "level", "create", "arrive", "start", "move", "finish", "scrap"} <= seen
    assert {"fail", "repair", "reading", "alarm", "reject", "rework", "command"} <= seen
