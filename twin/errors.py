"""The exception tree of shopfloor-twin.

Every error a user can cause derives from :class:`TwinError`::

    TwinError
    ├── ScenarioError      a scenario file is unreadable or invalid (names file, line, field)
    ├── UsageError         a command-line value is invalid (names the option)
    └── SimulationError    a run failed while simulating (names the replication)

User-facing commands print each line of ``str(error)`` (one per problem) as
``error: LINE`` and exit with code 2; no traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class TwinError(Exception):
    """Root of every error shopfloor-twin raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a scenario: where it is and what is wrong."""

    field: str
    message: str
    line: int | None = None

    def render(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line is not None else source
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class ScenarioError(TwinError):
    """A scenario file could not be read or failed validation."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(p.render(source) for p in problems))


class UsageError(TwinError):
    """A command-line option or argument has an invalid value."""


class SimulationError(TwinError):
    """A replication failed while it ran."""
