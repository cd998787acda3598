"""Turns a validated scenario into components on a SimPy environment (one replication)."""

from __future__ import annotations

from collections.abc import Callable

import simpy

from models.calendar import Shifts
from models.history import History, PartIds
from models.line import Arrivals, Feeder, Line
from models.monitoring import ConditionPolicy, Sensor
from models.network import Edge, Link
from models.operators import Crew, Pool
from models.quality import Defects, Inspection
from models.station import Batch, Failures, Machine, Preventive, Rework, Setup, Station
from models.transport import Conveyor, Trip
from models.wear import Lives, Path
from scenarios import schema
from scenarios.smart import Condition
from twin.changes import ChangeSink
from twin.distributions import Distribution
from twin.streams import Sampler, Streams


def build(
    env: simpy.Environment,
    scenario: schema.Scenario,
    replication: int,
    changes: ChangeSink | None = None,
) -> Line:
    """Construct the line of ``scenario`` for ``replication`` and start its processes; its
    changes go to ``changes`` (a fan-out that anyone may subscribe to), or nowhere. With
    ``identifiers``, the line keeps each part's history (``line.history``)."""
    streams = Streams(scenario.seed, replication)
    line = Line(env, scenario.warmup, changes)
    ids = scenario.identifiers
    if ids is not None:  # before any component runs: machines read it when they start
        line.history = History(PartIds(ids.prefix, ids.line))
    for spec_pool in scenario.operators:
        pool = Pool(env, spec_pool.id, spec_pool.count, scenario.warmup, line.changes)
        line.pools[spec_pool.id] = pool
    for spec_crew in scenario.crews:
        scope = f"crews.{spec_crew.id}"
        crew = Pool(env, spec_crew.id, spec_crew.count, scenario.warmup, line.changes, scope)
        line.crews[spec_crew.id] = crew
    products = {p.id: p for p in scenario.products}
    entries = {p.route[0] for p in scenario.products} if scenario.saturated else set()
    for spec in scenario.stations:
        visitors = [p for p in products.values() if spec.id in p.route]
        line.add(_station(line, spec, [p.id for p in visitors], streams, spec.id in entries))
    routes = {pid: tuple(line.stations[sid] for sid in p.route) for pid, p in products.items()}
    _smart(line, scenario, streams)
    _calendars(line, scenario)
    transport = scenario.transport
    if transport is not None:
        if transport.time is not None and transport.time.expected > 0:
            line.default_move = streams.sampler(transport.time, "transport", "time")
        _transport(line, transport, streams)
    mix = scenario.product_mix()
    arrivals, orders = scenario.arrivals, scenario.orders
    lots = [(x.product, x.lot) for x in orders.sequence] if orders is not None else None
    if arrivals is not None and arrivals.interarrival is not None:
        interarrival = streams.sampler(arrivals.interarrival, "arrivals", "interarrival")
        Arrivals(line, routes, mix, interarrival, streams.uniforms("arrivals", "mix"))
    elif orders is not None and orders.interarrival is not None:
        interarrival = streams.sampler(orders.interarrival, "orders", "interarrival")
        Arrivals(line, routes, mix, interarrival, streams.uniforms("orders", "mix"), lots)
    else:
        for entry in sorted(entries):
            entering = [(pid, w) for pid, w in mix if products[pid].route[0] == entry]
            if entering:
                uniform = streams.uniforms(f"feeder:{entry}", "mix")
                here = [x for x in lots if products[x[0]].route[0] == entry] if lots else None
                Feeder(line, line.stations[entry], routes, entering, uniform, here)
    return line


def _smart(line: Line, scenario: schema.Scenario, streams: Streams) -> None:
    """The plant network, and each station's sensors and condition-based maintenance."""
    network = scenario.network
    if network is None:
        return
    env = line.env
    links: dict[str, Link] = {}
    for spec in network.links:
        name = f"link:{spec.id}"
        outage = None
        if spec.outage is not None:
            between = streams.sampler(spec.outage.mtbf, name, "outage:mtbf")
            outage = (between, streams.sampler(spec.outage.mttr, name, "outage:mttr"))
        latency = streams.sampler(spec.latency, name, "latency")
        loss = streams.uniforms(name, "loss")
        links[spec.id] = Link(env, spec.id, latency, spec.loss, loss, outage)
    edges = {e.id: Edge(env, e.id, e.compute, e.capacity) for e in network.edge}
    line.links = links
    responses = {
        c.id: streams.sampler(c.response, f"crew:{c.id}", "response") for c in scenario.crews
    }
    for spec_station in scenario.stations:
        station = line.stations[spec_station.id]
        link = None if spec_station.link is None else links[spec_station.link]
        m = spec_station.maintenance
        for machine in station.machines:
            if link is not None:
                line.connected[machine.scope] = link.id
            sensors = {}
            for s in spec_station.sensors:
                noise = streams.normals(machine.name, f"sensor:{s.id}")
                edge = None if s.edge is None else edges[s.edge]
                sensors[s.id] = Sensor(machine, s.id, s.every, s.noise, noise, link, edge)
            line.sensors.extend(sensors.values())
            if m is not None and m.kind == "condition":
                assert m.alarm is not None and m.duration is not None
                duration = streams.sampler(m.duration, machine.name, "maintenance")
                crew = None if m.crew is None else line.crews[m.crew]
                response = responses[m.crew] if m.crew is not None else (lambda: 0.0)
                sensor = sensors[m.alarm.sensor]
                policy = ConditionPolicy(machine, sensor, m.alarm.above, duration, crew, response)
                line.policies.append(policy)


def _transport(line: Line, transport: schema.Transport, streams: Streams) -> None:
    """Moves of their own (timed, or by AGV) and conveyors, by pair of stations."""
    agv = transport.agv
    if agv is not None:
        line.fleet = Pool(line.env, "agv", agv.fleet, line.warmup, line.changes, "agv")
    for move in transport.moves:
        pair = (move.from_, move.to)
        if move.agv:
            assert line.fleet is not None and agv is not None and move.distance is not None
            line.moves[pair] = Trip(line.fleet, agv.load, move.distance / agv.speed, agv.unload)
        else:
            assert move.time is not None
            line.moves[pair] = streams.sampler(move.time, "transport", f"{pair[0]}->{pair[1]}")
    for spec in transport.conveyors:
        scope = f"{spec.from_}>{spec.to}"
        conveyor = Conveyor(line.env, scope, spec.capacity, spec.length / spec.speed)
        line.add_conveyor((spec.from_, spec.to), conveyor)


def _calendars(line: Line, scenario: schema.Scenario) -> None:
    """Stop and start the machines of each station by its calendar: the line's (shared by
    the stations that follow it), one of its own, or none (``always``)."""
    shared: list[Machine] = []
    for spec in scenario.stations:
        machines = line.stations[spec.id].machines
        if isinstance(spec.calendar, schema.Calendar):
            Shifts(line, spec.calendar.week(), machines)
        elif spec.calendar is None and scenario.calendar is not None:
            shared.extend(machines)
    if scenario.calendar is not None and shared:
        Shifts(line, scenario.calendar.week(), shared)


def _station(
    line: Line, spec: schema.Station, visitors: list[str], streams: Streams, entry: bool
) -> Station:
    times = spec.process_time
    dists = times if isinstance(times, dict) else dict.fromkeys(visitors, times)
    process = {pid: streams.sampler(dist, spec.id, f"process:{pid}") for pid, dist in dists.items()}
    ideal = {pid: _ideal(spec.ideal_cycle, pid, dist.expected) for pid, dist in dists.items()}
    setup = None
    if spec.setup is not None:
        always = spec.setup.when == "always"
        setter = None if spec.setup.operator is None else line.pools[spec.setup.operator]
        time = spec.setup.time
        if isinstance(time, dict):
            matrix = {
                (src, dst): streams.sampler(dist, spec.id, f"setup:{src}->{dst}")
                for src, row in time.items()
                for dst, dist in row.items()
            }
            setup = Setup(always=always, matrix=matrix, operator=setter)
        else:
            setup = Setup(streams.sampler(time, spec.id, "setup"), always, operator=setter)
    failures = None
    wear = None
    if spec.condition is not None:
        wear = _lives(spec.condition, spec.failures, streams)
    elif spec.failures is not None:
        failures = Failures(
            _per_machine(streams, spec.failures.mtbf, "mtbf"),
            _per_machine(streams, spec.failures.mttr, "mttr"),
            spec.failures.basis,
        )
    preventive = None
    m = spec.maintenance
    if m is not None and m.kind == "preventive":
        assert m.every is not None and m.duration is not None
        duration = streams.sampler(m.duration, spec.id, "maintenance")
        preventive = Preventive(m.every, duration, m.basis)
    rework = None
    if spec.rework is not None:
        r = spec.rework
        rates = {pid: r.rate_of(pid) for pid in visitors}
        rework = Rework(rates, r.to, streams.uniforms(spec.id, "rework"), r.max)
    scrap = {pid: spec.scrap_of(pid) for pid in visitors}
    b = spec.batch
    batch = None if b is None else Batch(b.size, b.least, b.max_wait)
    need = spec.crew
    crew = None if need is None else Crew(line.pools[need.pool], need.load)
    defects, inspection = _quality(spec, streams)
    buffer = spec.input_buffer
    if entry and buffer is None:
        buffer = 0  # a saturated entry with an unlimited buffer would hold infinitely many parts
    return Station(
        line,
        spec.id,
        servers=spec.servers,
        buffer=buffer,
        process=process,
        ideal_cycle=ideal,
        scrap_rate=scrap,
        scrap_draw=streams.uniforms(spec.id, "scrap") if any(scrap.values()) else None,
        setup=setup,
        failures=failures,
        preventive=preventive,
        rework=rework,
        batch=batch,
        operator=crew,
        wear=wear,
        defects=defects,
        inspection=inspection,
    )


def _lives(
    condition: Condition, failures: schema.Failures | None, streams: Streams
) -> Callable[[str], Lives]:
    """The lives of each machine of a station that wears (with its random failures, if it
    has them, drawn from the streams they would use without wear)."""

    def lives(machine: str) -> Lives:
        wear = condition.wear
        limit = streams.sampler(condition.fails_at, machine, "fails_at")
        path = Path(wear.rate, wear.cv, limit, streams.generator(machine, "wear"))
        repair = streams.sampler(condition.repair, machine, "repair")
        if failures is None:
            return Lives(path, repair)
        mtbf = streams.sampler(failures.mtbf, machine, "mtbf")
        return Lives(path, repair, mtbf, streams.sampler(failures.mttr, machine, "mttr"))

    return lives


def _quality(spec: schema.Station, streams: Streams) -> tuple[Defects | None, Inspection | None]:
    """The station's defects and inspection, each on a stream of its own."""
    defects = inspection = None
    if spec.defects is not None:
        d = spec.defects
        defects = Defects(d.rate, d.per_wear, streams.uniforms(spec.id, "defects"))
    if spec.inspection is not None:
        i = spec.inspection
        rework = None if i.on_detect == "scrap" else i.on_detect.rework
        draw = streams.uniforms(spec.id, "inspection")
        inspection = Inspection(i.detect, i.false_reject, draw, rework)
    return defects, inspection


def _ideal(given: float | dict[str, float] | None, product: str, expected: float) -> float:
    """The ideal cycle of ``product``: given (one, or per product), else the mean time."""
    if isinstance(given, dict):
        return given.get(product, expected)
    return expected if given is None else given


def _per_machine(streams: Streams, dist: Distribution, purpose: str) -> Callable[[str], Sampler]:
    return lambda machine: streams.sampler(dist, machine, purpose)
