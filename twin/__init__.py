"""shopfloor-twin's engine: durations, distributions, random streams, statistics, runs."""

from twin.distributions import DIST_NAMES, Distribution
from twin.durations import format_duration, parse_duration
from twin.errors import Problem, ScenarioError, SimulationError, TwinError, UsageError
from twin.stats import StateClock, Tally, TimeAverage, summarize
from twin.streams import Sampler, Streams
from twin.trace import TraceRecord, TraceWriter, read_trace

__all__ = [
    "DIST_NAMES",
    "Distribution",
    "Problem",
    "Sampler",
    "ScenarioError",
    "SimulationError",
    "StateClock",
    "Streams",
    "Tally",
    "TimeAverage",
    "TraceRecord",
    "TraceWriter",
    "TwinError",
    "UsageError",
    "format_duration",
    "parse_duration",
    "read_trace",
    "summarize",
]
