"""Checks of the values a user hands to a command (options) or to the Python API (arguments).

One home for each rule, so ``twin compare --workers 0`` and ``twin.compare(workers=0)``
refuse the same values with the same reason. A name that starts with ``--`` is an option
(``option --reps: ...``); any other is an argument (``argument reps: ...``). Upper bounds
exist because a huge value must be refused, not allocated.
"""

from __future__ import annotations

from twin.durations import parse_duration
from twin.errors import UsageError
from twin.runner import default_workers

MAX_SEED = 2**63 - 1  # stored and exchanged as a signed 64-bit integer
MAX_MAX_N = 64  # retrofits in one plan
MAX_POINTS = 10_000  # points of a sweep grid
WORKERS_PER_CORE = 4


def option_label(name: str) -> str:
    """``--json`` -> ``option --json``; ``out`` -> ``argument out``."""
    return f"option {name}" if name.startswith("--") else f"argument {name}"


def at_least(name: str, value: int | None, low: int) -> int | None:
    """``value`` (or ``None``) if it is a whole number of at least ``low``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{option_label(name)}: expected a whole number, got {value!r}")
    if value < low:
        raise UsageError(f"{option_label(name)}: must be at least {low}, got {_short(value)}")
    return value


def between(name: str, value: int | None, low: int, high: int, why: str) -> int | None:
    """``value`` if it lies in [low, high]; else a UsageError naming it and the reason."""
    at_least(name, value, low)
    if value is not None and value > high:
        raise UsageError(
            f"{option_label(name)}: must be at most {high:,} ({why}), got {_short(value)}"
        )
    return value


def duration(name: str, value: str | float | None) -> float | None:
    """Seconds from a duration (``"2h"``, ``90``), or ``None``."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"{option_label(name)}: {exc}") from None


def workers(name: str, value: int | None) -> int:
    """The local processes to use: the value within a few per core, else all cores."""
    cores = default_workers()
    high = WORKERS_PER_CORE * cores
    why = f"{WORKERS_PER_CORE} per core on this machine's {cores}"
    return between(name, value, 1, high, why) or cores


def precision(name: str, value: float | None) -> float | None:
    """A target relative CI half-width, strictly between 0 and 1."""
    if value is not None and not 0 < value < 1:
        raise UsageError(f"{option_label(name)}: must be between 0 and 1, got {value}")
    return value


def scheduler(name: str, address: str | None) -> str | None:
    """A Dask scheduler address of the form [PROTOCOL://]HOST:PORT, checked before running."""
    if address is None:
        return None
    protocol, sep, rest = address.rpartition("://")
    host, colon, port = rest.rpartition(":")
    ok_protocol = not sep or protocol in {"tcp", "tls", "ucx", "ws", "wss"}
    if not (ok_protocol and colon and host and port.isdigit() and 0 < int(port) < 65536):
        raise UsageError(
            f"{option_label(name)}: expected [tcp://]HOST:PORT, e.g. tcp://127.0.0.1:8786, "
            f"got {address!r}"
        )
    return address


def _short(value: int) -> str:
    text = str(value)
    return text if len(text) <= 24 else f"{text[:10]}...({len(text)} digits)"
