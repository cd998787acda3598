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

# The engine's resolution: a shorter non-zero duration would make a run crawl at tiny steps.
RESOLUTION = 0.001
# The longest duration a scenario may give (100 years): a horizon longer than that is a typo.
LONGEST = 100 * 365.25 * 86400.0

_PATTERN = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([a-z]*)\s*$")


def parse_duration(value: object) -> float:
    """Return ``value`` in seconds; raise ``ValueError`` naming the accepted forms."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration, got {_shown(value)}")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            seconds = math.inf
    elif isinstance(value, str):
        match = _PATTERN.match(value)
        if match is None or match.group(2) not in UNITS | {"": 1.0}:
            units = ", ".join(UNITS)
            raise ValueError(
                f"invalid duration {_shown(value)}: use a number of seconds or a number with a "
                f"unit ({units}), e.g. '90s', '5min', '2h'"
            )
        seconds = float(match.group(1)) * UNITS.get(match.group(2), 1.0)
    else:
        raise ValueError(f"expected a duration, got {type(value).__name__} {_shown(value)}")
    if not math.isfinite(seconds):
        raise ValueError(f"duration must be finite, got {_shown(value)}")
    if seconds < 0:
        raise ValueError(f"duration must not be negative, got {_shown(value)}")
    if 0 < seconds < RESOLUTION:
        raise ValueError(
            f"duration {_shown(value)} is shorter than the engine's resolution of 1ms: use 0 or at "
            "least 1ms"
        )
    if seconds > LONGEST:
        raise ValueError(f"duration {_shown(value)} is longer than 100 years: too long to simulate")
    return seconds


def _shown(value: object) -> str:
    """``value`` for a message, cut short (a number with thousands of digits would flood it)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**20:
        return "a number of more than 20 digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def format_duration(seconds: float) -> str:
    """Render seconds in the largest unit that keeps the number readable."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"
