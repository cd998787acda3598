"""Scenario files: the format, loading with clear errors, building and running lines."""

from scenarios.builder import build
from scenarios.catalog import bundled, load_scenario, resolve
from scenarios.experiment import RunResult, run, run_replication
from scenarios.loader import load, loads
from scenarios.overrides import override
from scenarios.schema import Scenario

__all__ = [
    "RunResult",
    "Scenario",
    "build",
    "bundled",
    "load",
    "load_scenario",
    "loads",
    "override",
    "resolve",
    "run",
    "run_replication",
]
