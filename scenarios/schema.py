"""The scenario file format, as pydantic models. Defaults live here, and only here."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from scenarios.calendars import Calendar
from scenarios.fields import (
    MAX_EVENTS,
    MAX_ITEMS,
    MAX_REPLICATIONS,
    MAX_RETROFITS,
    MAX_SERVERS,
    FieldError,
    Identifier,
    Lasting,
    Model,
    Money,
    Probability,
)
from scenarios.smart import (
    Condition,
    CrewSpec,
    Defects,
    Identifiers,
    Inspection,
    Network,
    ReworkAt,
    Sensor,
    check_smart,
)
from scenarios.smart import MaintenanceSpec as Maintenance
from scenarios.transport import Transport, _Pair
from twin.distributions import Count, Distribution, Duration, PositiveDuration, Real
from twin.durations import format_duration

# What other modules take from here (the pieces that live in scenarios.fields,
# scenarios.calendars and scenarios.transport among them).
__all__ = [
    "MAX_EVENTS",
    "MAX_REPLICATIONS",
    "Calendar",
    "FieldError",
    "Retrofit",
    "Scenario",
    "Station",
    "Transport",
    "workload",
]


def _per_product_or_single(value: Any) -> str:
    """A mapping without a ``dist`` tag is a per-product table; anything else one distribution."""
    if isinstance(value, dict) and value and "dist" not in value and not set(value) & _PARAMS:
        return "per_product"
    return "single"


# Keys that only a distribution has: a mapping with them is a distribution missing its tag.
_PARAMS = {"mean", "sd", "low", "mode", "high", "value", "values", "weights", "k", "cv", "shape"}


ProcessTime = Annotated[
    Annotated[Lasting, Tag("single")] | Annotated[dict[Identifier, Lasting], Tag("per_product")],
    Discriminator(_per_product_or_single),
]


class Product(Model):
    """A product and the stations it visits, in order."""

    id: Identifier
    route: Annotated[list[Identifier], Field(min_length=1, max_length=MAX_ITEMS)]


class Arrivals(Model):
    """How parts arrive. Without ``interarrival`` the line is saturated (never starved)."""

    product: Identifier | None = None
    mix: dict[Identifier, Probability] | None = None
    interarrival: Lasting | None = None

    @model_validator(mode="after")
    def _one_product_source(self) -> Arrivals:
        if self.product is not None and self.mix is not None:
            raise ValueError("give either 'product' or 'mix', not both")
        if self.mix is not None:
            total = sum(self.mix.values())
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"mix shares must add up to 1, they add up to {total:g}")
        return self


def _matrix_or_single(value: Any) -> str:
    """A mapping of mappings without a ``dist`` tag is a from -> to table."""
    if (
        isinstance(value, dict)
        and value
        and "dist" not in value
        and all(isinstance(v, dict) for v in value.values())
        and not set(value) & _PARAMS
    ):
        return "matrix"
    return "single"


SetupTime = Annotated[
    Annotated[Distribution, Tag("single")]
    | Annotated[dict[Identifier, dict[Identifier, Distribution]], Tag("matrix")],
    Discriminator(_matrix_or_single),
]


class Lot(Model):
    """``lot`` parts of ``product``, released together."""

    product: Identifier
    lot: Annotated[Count, Field(ge=1, le=1_000_000)]


class Orders(Model):
    """Lots released in the order of ``sequence``, cyclically: a whole lot at once every
    ``interarrival``, or, without it, each part as soon as the first station has room."""

    sequence: Annotated[list[Lot], Field(min_length=1, max_length=MAX_ITEMS)]
    interarrival: Lasting | None = None


class Setup(Model):
    """A changeover: its duration (one distribution, or a from -> to table of them; a pair
    not in the table needs no setup), when it happens, and which operator pool does it."""

    time: SetupTime
    when: Literal["product_change", "always"] = "product_change"
    operator: Identifier | None = None


class Operators(Model):
    """A pool of ``count`` identical operators."""

    id: Identifier
    count: Annotated[Count, Field(ge=1, le=MAX_SERVERS)]


class OperatorNeed(Model):
    """An operator of ``pool`` for each part: for its whole process time, or only for its
    first ``load`` seconds."""

    pool: Identifier
    load: PositiveDuration | None = None


class Failures(Model):
    """Breakdowns of each machine of a station."""

    mtbf: Lasting
    mttr: Distribution
    basis: Literal["operating", "calendar"] = "operating"


class Rework(Model):
    """Defective parts sent back to station ``to`` (this one or an earlier one on the route)
    to repeat their route from there; scrapped after ``max`` reworks (none: no limit)."""

    rate: Annotated[
        Annotated[Probability, Tag("single")]
        | Annotated[dict[Identifier, Probability], Tag("per_product")],
        Discriminator(_per_product_or_single),
    ]
    to: Identifier
    max: Annotated[Count, Field(ge=0, le=1000)] | None = None

    def rate_of(self, product: str) -> float:
        rate = self.rate
        return rate.get(product, 0.0) if isinstance(rate, dict) else rate


class BatchSpec(Model):
    """Each machine processes up to ``size`` parts at once, with one process time."""

    size: Annotated[Count, Field(ge=1, le=10_000)]
    min: Annotated[Count, Field(ge=1, le=10_000)] | None = None
    max_wait: Duration = 0.0

    @model_validator(mode="after")
    def _min_within_size(self) -> BatchSpec:
        if self.min is not None and self.min > self.size:
            raise ValueError(f"min ({self.min}) must not exceed size ({self.size})")
        return self

    @property
    def least(self) -> int:
        """The fewest parts a batch starts with (after ``max_wait``): ``min``, else full."""
        return self.size if self.min is None else self.min


class Station(Model):
    """A station: ``servers`` identical machines behind an input buffer."""

    id: Identifier
    name: str | None = None
    servers: Annotated[Count, Field(ge=1, le=MAX_SERVERS)] = 1
    input_buffer: Annotated[Count, Field(ge=0)] | None = None
    process_time: ProcessTime
    ideal_cycle: (
        Annotated[
            Annotated[PositiveDuration, Tag("single")]
            | Annotated[dict[Identifier, PositiveDuration], Tag("per_product")],
            Discriminator(_per_product_or_single),
        ]
        | None
    ) = None
    setup: Setup | None = None
    failures: Failures | None = None
    maintenance: Maintenance | None = None
    # The smart-workshop layer: the machine's link to the plant network (none: not
    # connected), its wear, and its sensors.
    link: Identifier | None = None
    condition: Condition | None = None
    sensors: Annotated[list[Sensor], Field(max_length=MAX_ITEMS)] = []
    # Parts leave defective with a chance that rises with wear; an inspection finds them.
    defects: Defects | None = None
    inspection: Inspection | None = None
    rework: Rework | None = None
    batch: BatchSpec | None = None
    # An operator of a pool for each part (the pool's id: for the whole process time).
    operator: Identifier | OperatorNeed | None = None
    # The station's working time: the line's calendar (None), its own, or around the clock.
    calendar: Literal["always"] | Calendar | None = None
    scrap_rate: Annotated[
        Annotated[Probability, Tag("single")]
        | Annotated[dict[Identifier, Probability], Tag("per_product")],
        Discriminator(_per_product_or_single),
    ] = 0.0

    @property
    def crew(self) -> OperatorNeed | None:
        """The operator each part needs, in its long form."""
        need = self.operator
        return OperatorNeed(pool=need) if isinstance(need, str) else need

    def scrap_of(self, product: str) -> float:
        """The scrap rate of ``product`` here (a product not in a table: none)."""
        rate = self.scrap_rate
        return rate.get(product, 0.0) if isinstance(rate, dict) else rate


class Economics(Model):
    """Money: what a good part earns, what a scrapped one costs, and how time is valued."""

    currency: str = "CNY"
    margin_per_good_part: Money = 0.0
    scrap_cost_per_part: Money = 0.0
    # What a defective part shipped (an escape) costs: claims, returns, sorting at the customer.
    escape_cost_per_part: Money = 0.0
    operating_hours_per_year: Annotated[Real, Field(gt=0, le=8784)] = 6000.0
    discount_rate: Annotated[Real, Field(ge=0, lt=1)] = 0.08
    # One horizon for every plan; None: the longest lifetime among the plan's retrofits.
    horizon_years: Annotated[Real | None, Field(gt=0, le=100)] = None


class Retrofit(Model):
    """A named patch over the scenario, with its costs. ``core`` marks the "1" of "1+N"."""

    id: Identifier
    description: str = ""
    core: bool = False
    requires: list[Identifier] = []
    capex: Money = 0.0
    opex_per_year: Money = 0.0
    lifetime_years: Annotated[Real, Field(gt=0)] = 10.0
    subsidy_rate: Probability = 0.0
    changes: Annotated[dict[str, Any], Field(min_length=1)]


# Where a station may stand on the floor plan: within a kilometre of the origin.
FLOOR = 1000.0
Metres = Annotated[Real, Field(ge=-FLOOR, le=FLOOR)]


class Placement(Model):
    """Where a station stands on the floor plan (metres) and which way it faces (degrees,
    counter-clockwise; 0 means parts flow along +x, left to right)."""

    x: Metres
    y: Metres
    rotation: Annotated[Real, Field(ge=-360, le=360)] = 0.0


def _default_products(data: Any) -> Any:
    """Without ``products``, one product 'part' visits every station in the listed order."""
    if isinstance(data, dict) and "products" not in data and isinstance(data.get("stations"), list):
        stations = [s for s in data["stations"] if isinstance(s, dict)]
        route = [s["id"] for s in stations if isinstance(s.get("id"), str)]
        return {**data, "products": [{"id": "part", "route": route}]}
    return data


class Scenario(Model):
    """A production line and how to simulate it."""

    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    # Every part gets an id PREFIX/LINE.SERIAL and a history (none: parts are numbered).
    identifiers: Identifiers | None = None
    seed: Annotated[Count, Field(ge=0)] = 0
    horizon: PositiveDuration = 8 * 3600.0
    warmup: Duration = 0.0
    replications: Annotated[Count, Field(ge=1, le=MAX_REPLICATIONS)] = 10
    products: Annotated[list[Product], Field(min_length=1, max_length=MAX_ITEMS)]
    arrivals: Arrivals | None = None
    orders: Orders | None = None
    # The line's planned working time; none: around the clock.
    calendar: Calendar | None = None
    operators: Annotated[list[Operators], Field(max_length=MAX_ITEMS)] = []
    network: Network | None = None
    crews: Annotated[list[CrewSpec], Field(max_length=MAX_ITEMS)] = []
    transport: Transport | None = None
    stations: Annotated[list[Station], Field(min_length=1, max_length=MAX_ITEMS)]
    economics: Economics = Economics()
    # Checking a catalog applies every retrofit once, and `compare` tries their combinations.
    retrofits: Annotated[list[Retrofit], Field(max_length=MAX_RETROFITS)] = []
    # The floor plan of the 3D views; a station left out takes its place in the automatic
    # layout (scenarios/layout.py). It changes no figure.
    layout: dict[Identifier, Placement] | None = None

    _defaults = model_validator(mode="before")(_default_products)

    @field_validator("stations")
    @classmethod
    def _unique_stations(cls, stations: list[Station]) -> list[Station]:
        _unique("station", [s.id for s in stations])
        return stations

    @field_validator("crews")
    @classmethod
    def _unique_crews(cls, crews: list[CrewSpec]) -> list[CrewSpec]:
        _unique("crew", [c.id for c in crews])
        return crews

    @field_validator("operators")
    @classmethod
    def _unique_pools(cls, pools: list[Operators]) -> list[Operators]:
        _unique("operator pool", [p.id for p in pools])
        return pools

    @field_validator("products")
    @classmethod
    def _unique_products(cls, products: list[Product]) -> list[Product]:
        _unique("product", [p.id for p in products])
        return products

    @field_validator("retrofits")
    @classmethod
    def _retrofit_catalog(cls, retrofits: list[Retrofit]) -> list[Retrofit]:
        _unique("retrofit", [r.id for r in retrofits])
        ids = {r.id: i for i, r in enumerate(retrofits)}
        cores = [r.id for r in retrofits if r.core]
        if len(cores) > 1:
            raise FieldError((), f"only one retrofit can be the core, found: {', '.join(cores)}")
        for i, r in enumerate(retrofits):
            for j, req in enumerate(r.requires):
                if req not in ids:
                    raise FieldError(
                        (i, "requires", j),
                        f"retrofit {r.id!r} requires unknown retrofit {req!r}; "
                        f"known: {', '.join(ids)}",
                    )
        cycle = _find_cycle({r.id: r.requires for r in retrofits})
        if cycle:
            raise FieldError(
                (ids[cycle[0]], "requires"),
                f"retrofits require each other in a cycle: {' -> '.join(cycle)}",
            )
        return retrofits

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if self.warmup >= self.horizon:
            raise FieldError(
                ("warmup",),
                f"warmup ({self.warmup:g}s) must be shorter than horizon ({self.horizon:g}s)",
            )
        stations = {s.id: s for s in self.stations}
        products = [p.id for p in self.products]
        for i, product in enumerate(self.products):
            for j, sid in enumerate(product.route):
                if sid not in stations:
                    raise FieldError(
                        ("products", i, "route", j),
                        f"product {product.id!r} route names unknown station {sid!r}; "
                        f"stations are: {', '.join(stations)}",
                    )
                times = stations[sid].process_time
                if isinstance(times, dict) and product.id not in times:
                    k = self.stations.index(stations[sid])
                    raise FieldError(
                        ("stations", k, "process_time"),
                        f"station {sid!r} has no process_time for product {product.id!r}, "
                        f"which its route visits",
                    )
        network = self.network or Network()
        check_smart(
            [x.id for x in network.links],
            [x.id for x in network.edge],
            [c.id for c in self.crews],
            [
                (k, st.id, st.link, st.sensors, st.maintenance, st.condition is not None)
                for k, st in enumerate(self.stations)
            ],
        )
        pools = [p.id for p in self.operators]
        for k, st in enumerate(self.stations):
            self._check_tables(k, st, products)
            if st.rework is not None:
                self._check_rework(k, st, st.rework.to, ("rework", "to"))
            if st.inspection is not None and isinstance(st.inspection.on_detect, ReworkAt):
                where = ("inspection", "on_detect", "rework")
                self._check_rework(k, st, st.inspection.on_detect.rework, where)
            failures = st.failures
            if st.condition is not None and failures is not None and failures.basis == "calendar":
                raise FieldError(
                    ("stations", k, "failures", "basis"),
                    f"station {st.id!r} wears (it has a 'condition'): its failures must "
                    "count operating time, like its wear (basis: operating)",
                )
            needs: list[tuple[tuple[str | int, ...], str]] = []
            if st.crew is not None:
                path: tuple[str | int, ...] = ("operator",)
                needs.append(
                    (path if isinstance(st.operator, str) else (*path, "pool"), st.crew.pool)
                )
            if st.setup is not None and st.setup.operator is not None:
                needs.append((("setup", "operator"), st.setup.operator))
            for path, pool in needs:
                if pool not in pools:
                    raise FieldError(
                        ("stations", k, *path),
                        f"station {st.id!r} needs an operator of unknown pool {pool!r}; "
                        + (
                            f"pools are: {', '.join(pools)}"
                            if pools
                            else "give the pools in 'operators'"
                        ),
                    )
        if self.transport is not None:
            pairs = {
                (p.route[i], p.route[i + 1]) for p in self.products for i in range(len(p.route) - 1)
            }
            links: list[tuple[str, int, _Pair]] = [
                ("moves", i, m) for i, m in enumerate(self.transport.moves)
            ]
            links += [("conveyors", i, c) for i, c in enumerate(self.transport.conveyors)]
            for kind, i, move in links:
                if (move.from_, move.to) not in pairs:
                    shown = ", ".join(f"{a} -> {b}" for a, b in sorted(pairs)) or "none"
                    raise FieldError(
                        ("transport", kind, i),
                        f"no route moves from {move.from_!r} to {move.to!r}; the moves of "
                        f"the routes are: {shown}",
                    )
        if self.orders is not None:
            if self.arrivals is not None:
                raise FieldError(("orders",), "give either 'arrivals' or 'orders', not both")
            for i, lot in enumerate(self.orders.sequence):
                if lot.product not in products:
                    raise FieldError(
                        ("orders", "sequence", i, "product"),
                        f"orders name unknown product {lot.product!r}; products are: "
                        f"{', '.join(products)}",
                    )
        for sid in self.layout or {}:
            if sid not in stations:
                raise FieldError(
                    ("layout", sid),
                    f"layout places unknown station {sid!r}; stations are: {', '.join(stations)}",
                )
        if self.arrivals is not None:
            named = [("product", self.arrivals.product)] if self.arrivals.product else []
            named += [(f"mix.{p}", p) for p in self.arrivals.mix or {}]
            for field, pid in named:
                if pid not in products:
                    raise FieldError(
                        ("arrivals", *field.split(".")),
                        f"arrivals name unknown product {pid!r}; products are: "
                        f"{', '.join(products)}",
                    )
        return self

    def _check_rework(self, k: int, station: Station, to: str, where: tuple[str, ...]) -> None:
        """Rework goes back to a station that every product visiting this one has visited."""
        for product in self.products:
            route = product.route
            if station.id in route and to not in route[: route.index(station.id) + 1]:
                raise FieldError(
                    ("stations", k, *where),
                    f"rework at {station.id!r} sends {product.id!r} back to {to!r}, which its "
                    f"route ({' -> '.join(route)}) does not visit before; give {station.id!r} "
                    "or a station before it",
                )
        if station.rework is not None and isinstance(station.rework.rate, dict):
            named = [p.id for p in self.products]
            for pid in station.rework.rate:
                if pid not in named:
                    raise FieldError(
                        ("stations", k, "rework", "rate", pid),
                        f"station {station.id!r} names unknown product {pid!r}; products "
                        f"are: {', '.join(named)}",
                    )

    def _check_tables(self, k: int, station: Station, products: list[str]) -> None:
        """Per-product tables of a station name products that exist."""
        tables: list[tuple[tuple[str | int, ...], list[str]]] = []
        if isinstance(station.scrap_rate, dict):
            tables.append((("scrap_rate",), list(station.scrap_rate)))
        if isinstance(station.ideal_cycle, dict):
            tables.append((("ideal_cycle",), list(station.ideal_cycle)))
        if station.setup is not None and isinstance(station.setup.time, dict):
            matrix = station.setup.time
            tables.append((("setup", "time"), list(matrix)))
            tables += [(("setup", "time", src), list(row)) for src, row in matrix.items()]
        for path, named in tables:
            for pid in named:
                if pid not in products:
                    raise FieldError(
                        ("stations", k, *path, pid),
                        f"station {station.id!r} names unknown product {pid!r}; products "
                        f"are: {', '.join(products)}",
                    )

    @model_validator(mode="after")
    def _bounded_work(self) -> Scenario:
        """Refuse a run whose event count per replication would never end in practice."""
        work = workload(self)
        total = sum(events for events, _, _ in work)
        if total > MAX_EVENTS:
            events, path, what = max(work, key=lambda w: w[0])
            fits = self.horizon * MAX_EVENTS / total
            raise FieldError(
                path,
                f"a replication would simulate about {total:.2g} events, more than the limit of "
                f"{MAX_EVENTS:.0e}; the most come from {what} ({events:.2g}): lengthen that "
                f"time, or shorten the horizon to at most {format_duration(fits)}",
            )
        return self

    def product_mix(self) -> list[tuple[str, float]]:
        """Each product's share of the parts that enter: from ``arrivals`` or the lots of
        ``orders``, else equal."""
        if self.orders is not None:
            parts: dict[str, float] = {}
            for lot in self.orders.sequence:
                parts[lot.product] = parts.get(lot.product, 0.0) + lot.lot
            total = sum(parts.values())
            return [(p, n / total) for p, n in parts.items()]
        arrivals = self.arrivals
        if arrivals is not None and arrivals.mix is not None:
            return [(p, w) for p, w in arrivals.mix.items() if w > 0]
        if arrivals is not None and arrivals.product is not None:
            return [(arrivals.product, 1.0)]
        return [(p.id, 1.0 / len(self.products)) for p in self.products]

    @property
    def saturated(self) -> bool:
        if self.orders is not None:
            return self.orders.interarrival is None
        return self.arrivals is None or self.arrivals.interarrival is None


def workload(scenario: Scenario) -> list[tuple[float, tuple[str | int, ...], str]]:
    """Upper bounds of the events of one replication: (events, field path, what causes them).

    A station finishes at most ``servers * horizon / mean process time`` parts (its fastest
    product), and no more than arrive; each failure is one event more.
    """
    horizon = scenario.horizon
    arrivals = scenario.arrivals
    entering = math.inf
    work: list[tuple[float, tuple[str | int, ...], str]] = []
    if arrivals is not None and arrivals.interarrival is not None:
        entering = horizon / arrivals.interarrival.expected
        work.append((entering, ("arrivals", "interarrival"), "arrivals.interarrival"))
    orders = scenario.orders
    if orders is not None and orders.interarrival is not None:
        lot = sum(x.lot for x in orders.sequence) / len(orders.sequence)
        entering = horizon / orders.interarrival.expected * lot
        work.append((entering, ("orders", "interarrival"), "orders.interarrival"))
    visits = {s.id: 0 for s in scenario.stations}
    for product in scenario.products:
        for sid in product.route:
            visits[sid] = visits.get(sid, 0) + 1
    for k, station in enumerate(scenario.stations):
        times = station.process_time
        fastest = min(d.expected for d in (times.values() if isinstance(times, dict) else [times]))
        capacity = station.servers * horizon / fastest
        parts = min(capacity, entering * visits[station.id])
        work.append(
            (parts, ("stations", k, "process_time"), f"stations[{station.id}].process_time")
        )
        if station.failures is not None:
            failures = station.servers * horizon / station.failures.mtbf.expected
            where = f"stations[{station.id}].failures.mtbf"
            work.append((failures, ("stations", k, "failures", "mtbf"), where))
        if station.maintenance is not None and station.maintenance.every is not None:
            stops = station.servers * horizon / station.maintenance.every
            where = f"stations[{station.id}].maintenance.every"
            work.append((stops, ("stations", k, "maintenance", "every"), where))
        for i, sensor in enumerate(station.sensors):
            readings = station.servers * horizon / sensor.every
            where = f"stations[{station.id}].sensors[{sensor.id}].every"
            work.append((readings, ("stations", k, "sensors", i, "every"), where))
        if station.condition is not None:
            # Wear reaching its limit ends a life no sooner than this, on average.
            wear = station.condition
            lives = (
                station.servers
                * horizon
                * wear.wear.rate
                / 3600.0
                / max(wear.fails_at.expected, 1e-9)
            )
            where = f"stations[{station.id}].condition.fails_at"
            work.append((lives, ("stations", k, "condition", "fails_at"), where))
    network = scenario.network
    for i, link in enumerate(network.links if network is not None else []):
        if link.outage is not None:
            outages = horizon / link.outage.mtbf.expected
            where = f"network.links[{link.id}].outage.mtbf"
            work.append((outages, ("network", "links", i, "outage", "mtbf"), where))
    return work


def _unique(kind: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for index, i in enumerate(ids):
        if i in seen:
            raise FieldError((index, "id"), f"{kind} id {i!r} appears more than once")
        seen.add(i)


def _find_cycle(graph: dict[str, list[str]]) -> list[str]:
    """A cycle in a dependency graph, as a path that ends where it starts, or []."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for node in graph:
        if node not in state and (found := visit(node)):
            return found
    return []
