"""The building blocks of the scenario file format: identifiers, bounds, the base model
and the error that names a field."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from twin.distributions import Distribution, Real

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$", min_length=1, max_length=64)]
Probability = Annotated[Real, Field(ge=0.0, le=1.0)]
Money = Annotated[Real, Field(ge=0)]

# Bounds that keep a run finite in memory and time (docs/scenario-format.md, "Input limits").
MAX_SERVERS = 1000
MAX_REPLICATIONS = 10_000
MAX_EVENTS = 10**9
MAX_ITEMS = 1000  # stations, products, stations on a route
MAX_RETROFITS = 50


def _advances_time(dist: Any) -> Any:
    if dist.expected <= 0:
        raise ValueError(
            "must have a positive mean: with only zero durations the clock would never move "
            "and the run would not end"
        )
    return dist


# A distribution whose draws must, on average, move the clock forward.
Lasting = Annotated[Distribution, AfterValidator(_advances_time)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class FieldError(ValueError):
    """A cross-field problem, with the path (inside the scenario) of the field at fault."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path
