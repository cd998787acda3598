"""Condition monitoring: sensors that read a machine's wear, and the condition-based
maintenance policy that acts on what reaches it.

A :class:`Sensor` reads the true wear plus Gaussian noise every ``every`` and sends the
reading over its machine's link (and edge node); a machine without a link sends nothing.
What arrives goes to whoever listens (:attr:`Sensor.listeners`): the condition policy, and
the change stream as a ``reading`` at the scope ``MACHINE.SENSOR``.

:class:`ConditionPolicy` raises an alarm on the first reading above its level in a life of
the machine, and calls a technician of its crew: the technician comes when free, takes
``response`` to reach the machine, orders the maintenance (the machine stops after its
current part) and stays until it is done. An alarm is *true* when the machine's real wear
was above the level when the reading was taken, *false* otherwise; a breakdown with no
alarm in its life is a *missed* one.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from models.network import Edge, Link, deliver
from models.operators import Pool

if TYPE_CHECKING:
    from models.station import Machine

Draw = Callable[[], float]


@dataclass(frozen=True)
class Reading:
    """What a sensor read, when, and what it should have read."""

    sensor: str
    value: float
    true: float
    taken: float
    life: int  # the machine's renewals when it was taken


Listener = Callable[[Reading], None]


class Sensor:
    """A sensor ``id`` on ``machine``, read every ``every`` seconds."""

    def __init__(
        self,
        machine: Machine,
        sid: str,
        every: float,
        noise: float,
        normal: Draw,
        link: Link | None,
        edge: Edge | None,
    ) -> None:
        self.machine = machine
        self.id = sid
        self.scope = f"{machine.scope}.{sid}"
        self.measures = "wear"
        self.every = every
        self.noise = noise
        self.normal = normal
        self.link = link
        self.edge = edge
        self.listeners: list[Listener] = []
        self.sent = self.lost = self.arrived = self.late = 0
        if link is not None:  # a machine without a link sends nothing
            machine.env.process(self._run())

    def _run(self) -> Generator[Any, Any, None]:
        env = self.machine.env
        warmup = self.machine.clock.start
        link = self.link
        assert link is not None
        while True:
            yield env.timeout(self.every)
            true = self.machine.wear_now()
            value = true + self.noise * self.normal() if self.noise > 0 else true
            reading = Reading(self.id, value, true, env.now, self.machine.renewals)
            counted = env.now >= warmup
            self.sent += counted
            if not deliver(link, self.edge, partial(self._arrive, reading)):
                self.lost += counted

    def _arrive(self, reading: Reading) -> None:
        env = self.machine.env
        if reading.taken >= self.machine.clock.start:
            self.arrived += 1
            self.late += env.now - reading.taken > self.every
        changes = self.machine.station.line.changes
        if changes.live:
            changes.event((env.now, self.scope, "reading", -1, round(reading.value, 6)))
        for listener in self.listeners:
            listener(reading)


class ConditionPolicy:
    """Maintenance of ``machine`` when a reading of its alarm sensor exceeds ``above``."""

    def __init__(
        self,
        machine: Machine,
        sensor: Sensor,
        above: float,
        duration: Draw,
        crew: Pool | None,
        response: Draw,
    ) -> None:
        self.machine = machine
        self.above = above
        self.duration = duration
        self.crew = crew
        self.response = response
        self.called = -1  # the life (machine.renewals) in which the last alarm was raised
        self.true = self.false = self.missed = 0
        sensor.listeners.append(self._heard)
        machine.on_breakdown.append(self._broke)

    def _heard(self, reading: Reading) -> None:
        machine = self.machine
        if reading.value <= self.above or self.called == machine.renewals or machine.down:
            return
        if reading.life != machine.renewals:
            return  # taken before the last renewal: it says nothing of this life
        self.called = machine.renewals
        changes = machine.station.line.changes
        if changes.live:
            changes.event((machine.env.now, machine.scope, "alarm", -1, round(reading.value, 6)))
        if reading.taken >= machine.clock.start:
            if reading.true > self.above:
                self.true += 1
            else:
                self.false += 1
        machine.env.process(self._call(machine.renewals))

    def _broke(self) -> None:
        """A breakdown: missed, if no alarm was raised in this life."""
        machine = self.machine
        if self.called != machine.renewals and machine.env.now >= machine.clock.start:
            self.missed += 1

    def _call(self, life: int) -> Generator[Any, Any, None]:
        machine = self.machine
        env = machine.env
        crew = self.crew
        staff = None
        if crew is not None:
            staff = crew.request()
            yield staff
            crew.seized()
        yield env.timeout(self.response())
        if machine.renewals == life and not machine.down and machine.maintenance is None:
            done = env.event()

            def renewed() -> None:
                done.succeed()

            machine.on_renewal.append(renewed)
            machine.maintain(self.duration())
            yield done
        if crew is not None and staff is not None:
            crew.release(staff)
