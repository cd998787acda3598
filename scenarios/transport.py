"""Transport in the scenario file: timed moves, AGV moves and conveyors."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from scenarios.fields import MAX_ITEMS, MAX_SERVERS, FieldError, Identifier, Model
from twin.distributions import Count, Distribution, Duration
from twin.units import Length, Speed


class _Pair(Model):
    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, populate_by_name=True
    )

    from_: Identifier = Field(alias="from")
    to: Identifier


class Move(_Pair):
    """The move from one station to another, when it differs from the default: a time, or
    a trip of ``distance`` by AGV."""

    time: Distribution | None = None
    agv: bool = False
    distance: Length | None = None

    @model_validator(mode="after")
    def _time_or_agv(self) -> Move:
        if self.agv and self.distance is None:
            raise ValueError("an AGV move needs its 'distance' (e.g. 40m)")
        if self.agv and self.time is not None:
            raise ValueError("give an AGV move a 'distance', not a 'time'")
        if not self.agv and self.distance is not None:
            raise ValueError("a 'distance' is for an AGV move: add 'agv: true', or give a 'time'")
        if not self.agv and self.time is None:
            raise ValueError("give the move a 'time', or make it an AGV move (agv: true, distance)")
        return self


class Agv(Model):
    """The fleet of automated guided vehicles and how they move."""

    fleet: Annotated[Count, Field(ge=1, le=MAX_SERVERS)]
    speed: Speed
    load: Duration = 0.0
    unload: Duration = 0.0


class ConveyorSpec(_Pair):
    """An accumulating conveyor of ``capacity`` parts between two stations."""

    length: Length
    speed: Speed
    capacity: Annotated[Count, Field(ge=1, le=100_000)]


class Transport(Model):
    """Moving parts between stations: ``time`` for every move, unless ``moves`` (a time of
    its own, or an AGV trip) or ``conveyors`` say otherwise for a pair of stations."""

    time: Distribution | None = None  # none: moves take no time
    agv: Agv | None = None
    moves: Annotated[list[Move], Field(max_length=MAX_ITEMS)] = []
    conveyors: Annotated[list[ConveyorSpec], Field(max_length=MAX_ITEMS)] = []

    @model_validator(mode="after")
    def _one_way_a_pair(self) -> Transport:
        seen: dict[tuple[str, str], str] = {}
        links: list[tuple[str, int, _Pair]] = [("moves", i, m) for i, m in enumerate(self.moves)]
        links += [("conveyors", i, c) for i, c in enumerate(self.conveyors)]
        for kind, i, link in links:
            pair = (link.from_, link.to)
            if pair in seen:
                raise FieldError(
                    (kind, i),
                    f"{pair[0]} -> {pair[1]} is given twice (first in {seen[pair]}): one way "
                    "a pair",
                )
            seen[pair] = f"{kind}[{i}]"
            if isinstance(link, Move) and link.agv and self.agv is None:
                raise FieldError(
                    (kind, i, "agv"), "an AGV move needs the fleet: give transport.agv"
                )
        return self
