"""The smart-workshop layer of the scenario file: part identifiers, the plant network (links
and edge nodes), maintenance crews, and per station its wear, sensors, maintenance policy,
defects and inspection."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from scenarios.fields import (
    MAX_ITEMS,
    MAX_SERVERS,
    FieldError,
    Identifier,
    Lasting,
    Model,
    Probability,
)
from twin.distributions import Constant, Count, Distribution, Duration, PositiveDuration, Real

# The smallest coefficient of variation of wear other than 0 (exact): below it the gamma
# process's shape overflows what a draw can take.
MIN_CV = 1e-3

# A Handle-style prefix: dot-separated numbers such as 88.999.1 (illustrative, not registered).
HandlePrefix = Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)*$", max_length=64)]


class Identifiers(Model):
    """Every part gets an id ``PREFIX/LINE.SERIAL``, such as ``88.999.1/CELL1.000123``."""

    prefix: HandlePrefix
    line: Identifier


class Outage(Model):
    """A link that goes down now and then: every reading sent meanwhile is lost."""

    mtbf: Lasting
    mttr: Lasting


class Link(Model):
    """A network link from machines to where their readings are analysed."""

    id: Identifier
    latency: Distribution = Constant(value=0.0)
    loss: Probability = 0.0
    outage: Outage | None = None


class Edge(Model):
    """An edge node: ``compute`` of analysis per reading, at most ``capacity`` readings a
    second (one at a time, each taking 1 / capacity of the node, then ``compute`` more)."""

    id: Identifier
    compute: Duration = 0.0
    capacity: Annotated[Real, Field(gt=0, le=1e6)]


class Network(Model):
    """The plant network's links and edge nodes, each id once."""

    links: Annotated[list[Link], Field(max_length=MAX_ITEMS)] = []
    edge: Annotated[list[Edge], Field(max_length=MAX_ITEMS)] = []

    @model_validator(mode="after")
    def _ids_once(self) -> Network:
        for kind, ids in (
            ("links", [x.id for x in self.links]),
            ("edge", [x.id for x in self.edge]),
        ):
            for i, name in enumerate(ids):
                if name in ids[:i]:
                    raise FieldError((kind, i, "id"), f"{kind} id {name!r} appears more than once")
        return self


class CrewSpec(Model):
    """``count`` technicians; each takes ``response`` to reach a machine once free."""

    id: Identifier
    count: Annotated[Count, Field(ge=1, le=MAX_SERVERS)]
    response: Distribution = Constant(value=0.0)


class Wear(Model):
    """Wear that grows while the machine works: a gamma process of mean ``rate`` units per
    operating hour; ``cv`` is the coefficient of variation of one hour's growth (0: exact)."""

    rate: Annotated[Real, Field(gt=0, le=1e9)]
    cv: Annotated[Real, Field(ge=0, le=10)] = 0.0

    @model_validator(mode="after")
    def _cv_zero_or_measurable(self) -> Wear:
        if 0 < self.cv < MIN_CV:
            raise FieldError(("cv",), f"cv must be 0 (exact wear) or at least {MIN_CV:g}")
        return self


class Condition(Model):
    """A machine that wears out: it breaks when its wear reaches ``fails_at`` (drawn for each
    life), and a breakdown takes ``repair``; repair and maintenance make it as good as new."""

    wear: Wear
    fails_at: Lasting
    repair: Distribution


class Sensor(Model):
    """A sensor that reads ``measures`` with Gaussian ``noise`` (its standard deviation) every
    ``every``; its readings cross the machine's link, then ``edge`` when given."""

    id: Identifier
    measures: Literal["wear"] = "wear"
    noise: Annotated[Real, Field(ge=0)] = 0.0
    every: PositiveDuration
    edge: Identifier | None = None


class Alarm(Model):
    """The condition policy's rule: a reading of ``sensor`` above ``above`` calls the crew."""

    sensor: Identifier
    above: Real


class Defects(Model):
    """A part leaves the station defective with probability ``rate + per_wear * wear``."""

    rate: Probability = 0.0
    per_wear: Annotated[Real, Field(ge=0, le=1)] = 0.0


class ReworkAt(Model):
    rework: Identifier


class Inspection(Model):
    """A check of every part: a defective one is found with probability ``detect``, a good
    one is rejected with probability ``false_reject``; what is rejected is scrapped or sent
    to rework at a station."""

    detect: Probability
    false_reject: Probability = 0.0
    on_detect: Literal["scrap"] | ReworkAt = "scrap"


Policy = Literal["corrective", "preventive", "condition", "external"]


class MaintenanceSpec(Model):
    """How a machine is maintained: ``preventive`` by age (``every``, ``basis``), by its
    ``condition`` (a sensor's ``alarm`` calls the ``crew``), by an ``external`` agent's
    commands, or ``corrective`` only (repair after breakdown). Without ``policy``: preventive
    when ``every`` is given."""

    policy: Policy | None = None
    every: PositiveDuration | None = None
    basis: Literal["operating", "calendar"] = "operating"
    duration: Lasting | None = None
    alarm: Alarm | None = None
    crew: Identifier | None = None

    @model_validator(mode="after")
    def _what_each_policy_needs(self) -> MaintenanceSpec:
        policy = self.kind
        if policy == "preventive" and self.every is None:
            raise ValueError("preventive maintenance needs 'every' (the age that calls for it)")
        if policy == "condition" and self.alarm is None:
            raise ValueError("condition-based maintenance needs an 'alarm' (sensor, above)")
        if policy in ("preventive", "condition", "external") and self.duration is None:
            raise ValueError(f"{policy} maintenance needs its 'duration'")
        if policy != "preventive" and self.every is not None:
            raise ValueError(f"'every' is for preventive maintenance, not {policy}")
        if policy != "condition" and self.alarm is not None:
            raise ValueError(f"an 'alarm' is for condition-based maintenance, not {policy}")
        return self

    @property
    def kind(self) -> Policy:
        """The policy, given or implied."""
        if self.policy is not None:
            return self.policy
        return "preventive" if self.every is not None else "corrective"


def check_smart(
    links: list[str],
    edges: list[str],
    crews: list[str],
    stations: list[tuple[int, str, str | None, list[Sensor], MaintenanceSpec | None, bool]],
) -> None:
    """Every id that a station names exists: its link, its sensors' edge nodes, its crew,
    its alarm's sensor; sensors of wear need a machine that wears."""
    for k, sid, link, sensors, maintenance, wears in stations:
        here = ("stations", k)
        _known(link, links, (*here, "link"), f"station {sid!r} uses", "link", "network.links")
        seen: set[str] = set()
        for i, sensor in enumerate(sensors):
            if sensor.id in seen:
                raise FieldError((*here, "sensors", i, "id"), f"sensor {sensor.id!r} twice")
            seen.add(sensor.id)
            _known(
                sensor.edge,
                edges,
                (*here, "sensors", i, "edge"),
                f"sensor {sensor.id!r} uses",
                "edge node",
                "network.edge",
            )
            if not wears:
                raise FieldError(
                    (*here, "sensors", i, "measures"),
                    f"sensor {sensor.id!r} measures wear, but station {sid!r} has no "
                    "'condition' (wear) to measure",
                )
        if maintenance is None:
            continue
        _known(
            maintenance.crew,
            crews,
            (*here, "maintenance", "crew"),
            f"station {sid!r} calls",
            "crew",
            "crews",
        )
        if maintenance.alarm is not None and maintenance.alarm.sensor not in seen:
            shown = ", ".join(sorted(seen)) or "none"
            raise FieldError(
                (*here, "maintenance", "alarm", "sensor"),
                f"the alarm of station {sid!r} reads unknown sensor "
                f"{maintenance.alarm.sensor!r}; its sensors are: {shown}",
            )


def _known(
    name: str | None,
    known: list[str],
    path: tuple[str | int, ...],
    who: str,
    what: str,
    where: str,
) -> None:
    if name is not None and name not in known:
        shown = ", ".join(known) if known else f"none (give them in '{where}')"
        raise FieldError(path, f"{who} unknown {what} {name!r}; {what}s are: {shown}")
