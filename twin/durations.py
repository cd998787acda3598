"""Durations: a number of seconds, or a string with a unit (``90s``, ``5min``, ``2h``, ``1d``)."""

from __future__ import annotations

import math
import re

UNITS: dict[str, float] = {
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}

_PATTERN = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([a-z]*)\s*$")


def parse_duration(value: object) -> float:
    """Return ``value`` in seconds; raise ``ValueError`` naming the accepted forms."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _PATTERN.match(value)
        if match is None or match.group(2) not in UNITS | {"": 1.0}:
            units = ", ".join(UNITS)
            raise ValueError(
                f"invalid duration {value!r}: use a number of seconds or a number with a unit "
                f"({units}), e.g. '90s', '5min', '2h'"
            )
        seconds = float(match.group(1)) * UNITS.get(match.group(2), 1.0)
    else:
        raise ValueError(f"expected a duration, got {type(value).__name__} {value!r}")
    if not math.isfinite(seconds):
        raise ValueError(f"duration must be finite, got {value!r}")
    if seconds < 0:
        raise ValueError(f"duration must not be negative, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """Render seconds in the largest unit that keeps the number readable."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"
