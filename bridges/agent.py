"""Edge agents: programs that watch a live line and act on it through its command door.

An agent observes every change the server streams (through a :class:`TwinClient` and its
mirror), decides, and acts by sending commands. Subclass :class:`EdgeAgent` and override
:meth:`EdgeAgent.decide`; :class:`MaintenanceAgent` is a complete example: condition-based
maintenance by operating hours, the rule a predictive-maintenance retrofit would run;
:class:`ConditionAgent` acts on sensor readings, for machines whose scenario leaves the
maintenance decision outside the model (``policy: external``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bridges.client import TwinClient
from twin.changes import Change


@dataclass(frozen=True)
class Action:
    """A command an agent wants sent: ``action`` on ``target`` with ``params``."""

    action: str
    target: str
    params: dict[str, Any]


class EdgeAgent:
    """Observe, decide, act. ``replies`` keeps the server's answer to every command sent.

    :meth:`run` registers the agent under ``name``. With a lock-step server (``twin serve
    --lockstep``), the agent's actions are held until the clock reaches the next barrier,
    sent there, and followed by "ready": the server applies them at the barrier's time and
    only then moves on, so a deterministic agent gives the same run every time.
    """

    def __init__(self, client: TwinClient, name: str | None = None) -> None:
        self.client = client
        self.name = name or f"{type(self).__name__}-{os.getpid()}-{id(self) % 10_000}"
        self.replies: list[dict[str, Any]] = []
        self.lockstep: float | None = None
        self._pending: list[Any] = []
        self._inbox: list[Change | float] = []  # changes, and barrier times, in stream order
        self._held: list[Action] = []

    def decide(self, change: Change) -> Iterable[Action]:
        """What to do about one change; the default does nothing."""
        return ()

    def tick(self, now: float) -> Iterable[Action]:
        """What to do now that the server's clock reads ``now`` (heard also from heartbeats,
        when the line is quiet; at each barrier in lock-step); the default does nothing."""
        return ()

    def run(self, until: float = 3600.0) -> None:
        """Sync, register, then handle every change until the run ends (or ``until`` wall
        seconds)."""
        client = self.client
        client.sync()
        client.listeners.append(self._inbox.append)
        client.barrier_listeners.append(self._inbox.append)
        self.lockstep = client.register(self.name).get("lockstep")
        deadline = time.monotonic() + until
        while not client.ended and time.monotonic() < deadline:
            client.poll(0.05)
            self._handle_inbox()
            if self.lockstep is None:
                self._send([*self._held, *self.tick(client.clock)])
                self._held.clear()
            if client.dropped_as_late:  # too slow at a barrier: join again
                client.dropped_as_late.clear()
                client.register(self.name)
            self._collect()
        end = time.monotonic() + 2.0  # replies still on their way when the run ended
        while self._pending and time.monotonic() < end:
            self.client.poll(0.05)
            self._collect()

    def _handle_inbox(self) -> None:
        inbox, self._inbox[:] = list(self._inbox), []
        for item in inbox:
            if isinstance(item, float):  # a barrier: act, then say so
                self._send([*self._held, *self.tick(item)])
                self._held.clear()
                self.client.ready(item)
            else:
                self._held.extend(self.decide(item))

    def _send(self, actions: Iterable[Action]) -> None:
        for action in actions:
            self._pending.append(self.client.command(action.action, action.target, **action.params))

    def _collect(self) -> None:
        done = [f for f in self._pending if f.done()]
        self.replies.extend(f.result() for f in done)
        self._pending = [f for f in self._pending if not f.done()]


class MaintenanceAgent(EdgeAgent):
    """Maintains each machine once it has worked ``every`` seconds since it was last renewed
    (by a maintenance or a repair), for ``duration`` seconds."""

    def __init__(
        self, client: TwinClient, every: float, duration: float, name: str | None = None
    ) -> None:
        super().__init__(client, name)
        self.every = every
        self.duration = duration
        self.worked: dict[str, float] = {}
        self.busy_since: dict[str, float] = {}
        self.asked: set[str] = set()

    def decide(self, change: Change) -> Iterable[Action]:
        scope, kind = change.scope, change.kind
        if kind == "repair" or (kind == "state" and change.value == "maintenance"):
            self.worked[scope] = 0.0
            self.asked.discard(scope)
        if kind != "state":
            return ()
        since = self.busy_since.pop(scope, None)
        if since is not None:
            self.worked[scope] = self.worked.get(scope, 0.0) + change.time - since
        if change.value == "busy":
            self.busy_since[scope] = change.time
        if self.worked.get(scope, 0.0) >= self.every and scope not in self.asked:
            self.asked.add(scope)
            return [Action("maintain", scope, {"duration": self.duration})]
        return ()


class ConditionAgent(EdgeAgent):
    """Condition-based maintenance from outside the model: the first reading above
    ``above`` in a machine's life (of sensor ``sensor``, or of any) asks for a maintenance
    of ``duration`` seconds. Readings reach it after their link's and edge node's delays;
    a life ends when the machine's maintenance ends or it is repaired."""

    def __init__(
        self,
        client: TwinClient,
        above: float,
        duration: float,
        sensor: str | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(client, name)
        self.above = above
        self.duration = duration
        self.sensor = sensor
        self.asked: set[str] = set()  # machines asked for in this life
        self.stopped: set[str] = set()  # machines in maintenance or down: readings wait

    def decide(self, change: Change) -> Iterable[Action]:
        kind, scope = change.kind, change.scope
        if kind == "reading":
            machine, _, sensor = scope.rpartition(".")
            if self.sensor not in (None, sensor) or machine in self.stopped | self.asked:
                return ()
            if float(change.value) > self.above:
                self.asked.add(machine)
                return [Action("maintain", machine, {"duration": self.duration})]
        elif kind == "state":
            if change.value in ("maintenance", "down"):
                self.stopped.add(scope)
            elif scope in self.stopped:  # maintained or repaired: a new life
                self.stopped.discard(scope)
                self.asked.discard(scope)
        return ()


@dataclass(frozen=True)
class Scheduled:
    """An action to take once the simulated clock reaches ``at`` seconds."""

    at: float
    action: Action


class TrainerAgent(EdgeAgent):
    """Plays a script: each action is sent as soon as the line's clock reaches its time
    (faults to inject, holds, speed changes, ...), as a trainer would in class."""

    def __init__(
        self, client: TwinClient, script: list[Scheduled], name: str | None = None
    ) -> None:
        super().__init__(client, name)
        self.script = sorted(script, key=lambda s: s.at)

    def tick(self, now: float) -> Iterable[Action]:
        due = [s for s in self.script if s.at <= now]
        self.script = self.script[len(due) :]
        return [s.action for s in due]
