"""Operators: pools of identical people that machines need to load, run or set up.

A :class:`Pool` is a SimPy resource of ``count`` operators, served first come, first
served, with the time-average number at work (after the warm-up) for its utilisation. A
station that needs one says how (:class:`Crew`): for the whole process time, or only for
the first ``load`` seconds of each part. An operator stays with the machine until that
work is done, through a failure or a break in between.
"""

from __future__ import annotations

from dataclasses import dataclass

import simpy

from twin.changes import Changes, ChangeSink
from twin.stats import TimeAverage


class Pool:
    """``count`` identical operators (or vehicles) called ``id``; the change stream has how
    many are at work (``level``) at ``scope``."""

    def __init__(
        self,
        env: simpy.Environment,
        pid: str,
        count: int,
        warmup: float,
        changes: ChangeSink | None = None,
        scope: str | None = None,
    ) -> None:
        self.env = env
        self.id = pid
        self.count = count
        self.scope = scope or f"operators.{pid}"
        self.changes = Changes() if changes is None else changes
        self.resource = simpy.Resource(env, capacity=count)
        self.at_work = TimeAverage(warmup)
        self._told(env.now)

    def request(self) -> simpy.resources.resource.Request:
        return self.resource.request()

    def seized(self) -> None:
        """An operator granted by :meth:`request` starts working."""
        now = self.env.now
        self.at_work.add(1.0, now)
        self._told(now)

    def release(self, request: simpy.resources.resource.Request) -> None:
        self.resource.release(request)
        now = self.env.now
        self.at_work.add(-1.0, now)
        self._told(now)

    @property
    def level(self) -> int:
        """How many are at work now."""
        return int(self.at_work.level)

    def _told(self, now: float) -> None:
        if self.changes.live:
            self.changes.record((now, self.scope, "level", -1, int(self.at_work.level)))

    def utilisation(self, now: float) -> float:
        """The share of the pool's time at work, after the warm-up."""
        return self.at_work.mean(now) / self.count


@dataclass(frozen=True)
class Crew:
    """What a station needs of a pool: an operator for each part's whole process time
    (``load`` None) or for its first ``load`` seconds."""

    pool: Pool
    load: float | None = None
