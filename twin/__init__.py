"""shopfloor-twin's engine: durations, distributions, random streams, statistics, runs.

The Python API (``twin.load``, ``twin.run``, ``twin.compare``, ``twin.sweep`` and their
reports) is imported on first use, so that importing an engine module such as
``twin.durations`` does not import the scenarios and models above it; so are the names
that need numpy or pydantic, so that the command line starts without them when a
command does not simulate (``twin --version``, ``--help``, shell completion).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from twin.durations import format_duration, parse_duration
from twin.errors import Problem, ScenarioError, SimulationError, TwinError, UsageError

if TYPE_CHECKING:
    from twin.api import compare, load, run, sweep
    from twin.distributions import DIST_NAMES, Distribution
    from twin.figure import Figure
    from twin.reports import ComparisonReport, RunReport, SweepReport
    from twin.stats import StateClock, Tally, TimeAverage, summarize
    from twin.streams import Sampler, Streams
    from twin.trace import TraceRecord, TraceWriter, read_trace

# Name -> module it is imported from when first asked for (PEP 562).
_LAZY = {
    # numpy and pydantic load with the first of these.
    "DIST_NAMES": "twin.distributions",
    "Distribution": "twin.distributions",
    "StateClock": "twin.stats",
    "Tally": "twin.stats",
    "TimeAverage": "twin.stats",
    "summarize": "twin.stats",
    "Sampler": "twin.streams",
    "Streams": "twin.streams",
    "load": "twin.api",
    "run": "twin.api",
    "compare": "twin.api",
    "sweep": "twin.api",
    "Figure": "twin.figure",
    "RunReport": "twin.reports",
    "ComparisonReport": "twin.reports",
    "SweepReport": "twin.reports",
    # Parquet (pyarrow) loads only for a trace.
    "TraceRecord": "twin.trace",
    "TraceWriter": "twin.trace",
    "read_trace": "twin.trace",
}

__all__ = [
    "DIST_NAMES",
    "ComparisonReport",
    "Distribution",
    "Figure",
    "Problem",
    "RunReport",
    "Sampler",
    "ScenarioError",
    "SimulationError",
    "StateClock",
    "Streams",
    "SweepReport",
    "Tally",
    "TimeAverage",
    "TraceRecord",
    "TraceWriter",
    "TwinError",
    "UsageError",
    "compare",
    "format_duration",
    "load",
    "parse_duration",
    "read_trace",
    "run",
    "summarize",
    "sweep",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'twin' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
