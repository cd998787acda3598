"""One replication run forward on demand, its changes handed over as they happen.

The 3D views draw a line at a sequence of moments: :class:`Simulation` runs the replication
up to each moment and returns the changes since the last one, so a movie of a long run
keeps no more than one frame's changes in memory. A baseline and a plan simulated with the
same seed and replication share their random numbers wherever they share components.
"""

from __future__ import annotations

import simpy

from scenarios.builder import build
from scenarios.schema import Scenario
from twin.changes import Change, Changes


class Simulation:
    """Replication ``replication`` of ``scenario``, advanced by :meth:`advance`."""

    def __init__(self, scenario: Scenario, replication: int = 0) -> None:
        self.scenario = scenario
        self.env = simpy.Environment()
        self._pending: list[Change] = []
        changes = Changes()
        changes.subscribe(self._pending.append)
        self.line = build(self.env, scenario, replication, changes)

    @property
    def now(self) -> float:
        return float(self.env.now)

    def advance(self, until: float) -> list[Change]:
        """Run up to ``until`` (at most the horizon), events at ``until`` included; the
        changes since the last call."""
        until = min(until, self.scenario.horizon)
        env = self.env
        while env.peek() <= until:
            env.step()
        out = self._pending[:]
        self._pending.clear()
        return out
