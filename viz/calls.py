"""Alarms and technicians, kept from the change stream for a 3D view.

A condition policy's ``alarm`` at a machine calls a technician of its crew; the alarm
stands until the machine's maintenance ends (its state leaves ``maintenance``) or a repair
renews it. Meanwhile the crew's ``level`` (``crews.<id>``: technicians at work) says how
many are out. A crew serves its calls first come, first served, as the model's does: a
technician who becomes free goes to the oldest call not yet served, even one renewed by a
repair meanwhile (he finds nothing to do and comes back). He is *on the way* until the
machine's ``maintain`` order (he has arrived; the machine stops after its part), then at
the machine until he is done.

Which technician comes back when the level falls is not in the stream: the one whose call
is over (maintenance done, or a machine renewed meanwhile), else one who found his machine
down, else the one out longest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from twin.changes import Change, Value

CREW = "crews."  # the scope of a crew's level: crews.<crew>
UNKNOWN = ""  # a technician out on a call the view did not see (it joined late)


class Technician(NamedTuple):
    """A technician of ``crew`` called by ``machine``: on the way there (``coming``), or
    at the machine (waiting for its part to finish, then maintaining it)."""

    machine: str
    crew: str
    coming: bool


@dataclass
class _Alarm:
    crew: str | None
    arrived: bool = False  # the technician has ordered the maintenance


class Calls:
    """The alarms standing and the technicians out, advanced by :meth:`change`; ``callers``
    maps each machine with a condition policy to the crew its alarms call (None: none)."""

    def __init__(self, callers: Mapping[str, str | None]) -> None:
        self.callers = dict(callers)
        self.alarms: dict[str, _Alarm] = {}  # machine -> its standing alarm, oldest first
        self.waiting: dict[str, list[str]] = {}  # crew -> machines calling, none sent yet
        self.out: dict[str, list[str]] = {}  # crew -> the machine each technician went to
        self.states: dict[str, str] = {}

    def change(self, change: Change) -> None:
        """Apply one change (changes come in time order)."""
        _, scope, kind, _, value = change
        if kind == "alarm":
            crew = self.callers.get(scope)
            self.alarms.pop(scope, None)
            self.alarms[scope] = _Alarm(crew)
            if crew is not None:
                self.waiting.setdefault(crew, []).append(scope)
        elif kind == "maintain" and scope in self.alarms:
            self.alarms[scope].arrived = True
        elif kind == "repair":
            self.alarms.pop(scope, None)
        elif kind == "state":
            was, self.states[scope] = self.states.get(scope), str(value)
            if was == "maintenance" and value != "maintenance":
                self.alarms.pop(scope, None)
        elif kind == "level" and scope.startswith(CREW):
            self.level(scope.removeprefix(CREW), value)

    def level(self, crew: str, value: Value) -> None:
        """``value`` technicians of ``crew`` at work: those sent since go to the oldest
        calls waiting; those back are taken off their calls."""
        count = int(float(value))  # a trace keeps values as text
        waiting = self.waiting.setdefault(crew, [])
        out = self.out.setdefault(crew, [])
        while len(out) < count:
            out.append(waiting.pop(0) if waiting else UNKNOWN)
        while len(out) > count:
            out.remove(min(out, key=self._done_first))

    def _done_first(self, machine: str) -> int:
        if machine not in self.alarms:
            return 0
        if self.states.get(machine) == "down":
            return 1
        return 2 if machine == UNKNOWN else 3

    def sync(self, levels: Mapping[tuple[str, str], Value]) -> None:
        """Take a mirror's state: its machine states and crew levels (the alarms and calls
        before it are not in a mirror: technicians out then are on unknown calls)."""
        for (scope, kind), value in levels.items():
            if kind == "state":
                self.states[scope] = str(value)
            elif kind == "level" and scope.startswith(CREW):
                self.level(scope.removeprefix(CREW), value)

    def technicians(self) -> tuple[Technician, ...]:
        """Each technician out on a standing alarm: on the way, or at the machine."""
        out: dict[str, Technician] = {}
        for crew, machines in self.out.items():
            for machine in machines:
                alarm = self.alarms.get(machine)
                if alarm is not None and alarm.crew == crew:
                    here = alarm.arrived or self.states.get(machine) == "maintenance"
                    out[machine] = Technician(machine, crew, not here)
        return tuple(out.values())
