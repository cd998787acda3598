"""Distances and speeds: a number (metres, metres per second) or a string with a unit
(``40m``, ``1.2km``, ``0.2m/s``, ``30m/min``, ``3.6km/h``)."""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import BeforeValidator, Field

LENGTHS: dict[str, float] = {"mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0}
TIMES: dict[str, float] = {"s": 1.0, "min": 60.0, "h": 3600.0}
SPEEDS: dict[str, float] = {
    f"{length}/{time}": LENGTHS[length] / TIMES[time] for length in LENGTHS for time in TIMES
}
LONGEST = 100_000.0  # metres: a line longer than 100 km is a typo

_PATTERN = re.compile(r"^\s*((?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([a-z/]*)\s*$")


def _parse(value: object, units: dict[str, float], what: str, example: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a {what}, got {str(value).lower()}")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        match = _PATTERN.match(value)
        if match is None or match.group(2) not in units:
            shown = value if len(value) <= 40 else value[:37] + "..."
            raise ValueError(
                f"invalid {what} {shown!r}: use a number or a number with a unit "
                f"({', '.join(units)}), e.g. {example!r}"
            )
        number = float(match.group(1)) * units[match.group(2)]
    else:
        raise ValueError(f"expected a {what}, got {type(value).__name__}")
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"a {what} must be finite and above 0, got {value!r}")
    return number


def parse_length(value: object) -> float:
    """``value`` in metres (a plain number is metres)."""
    metres = _parse(value, LENGTHS, "distance", "40m")
    if metres > LONGEST:
        raise ValueError(f"a distance of {metres:g} m is longer than 100 km: too long")
    return metres


def parse_speed(value: object) -> float:
    """``value`` in metres per second (a plain number is m/s)."""
    speed = _parse(value, SPEEDS, "speed", "1m/s")
    if speed < 1e-4:
        raise ValueError(f"a speed of {speed:g} m/s is below 0.1 mm/s: too slow to simulate")
    return speed


Length = Annotated[float, BeforeValidator(parse_length), Field(gt=0)]
Speed = Annotated[float, BeforeValidator(parse_speed), Field(gt=0)]
