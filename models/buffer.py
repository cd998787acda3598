"""A station's input side: its places (:class:`Gate`) and the parts waiting for a machine
(:class:`Queue`).

Both serve first come, first served, as a ``simpy.Resource`` and a ``simpy.Store`` would,
but a place that is free and a part that is there are taken at once, without an event:
events are spent only on waiting. A part handed to a machine that waits for one is its
own from that moment, so no other machine can take it before the waiting one resumes.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import simpy

if TYPE_CHECKING:
    from models.part import Part


class Gate:
    """``capacity`` places: ``free`` ones, and the requests waiting for one (``queue``).

    A free place and a waiting request never coexist: a place given back goes to the
    oldest request at once.
    """

    __slots__ = ("capacity", "env", "free", "queue")

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.env = env
        self.capacity = capacity
        self.free = capacity
        self.queue: deque[simpy.Event] = deque()

    def take(self) -> bool:
        """Take a place if one is free now."""
        if self.free:
            self.free -= 1
            return True
        return False

    def wait(self) -> simpy.Event:
        """An event that succeeds when a place is given to it, after the older requests."""
        event = simpy.Event(self.env)
        self.queue.append(event)
        return event

    def release(self) -> None:
        """Give a place back: to the oldest waiting request, else it is free."""
        if self.queue:
            self.queue.popleft().succeed()
        else:
            self.free += 1

    @property
    def count(self) -> int:
        """Places held now."""
        return self.capacity - self.free


class Queue:
    """The parts in an input buffer (``items``, oldest first) and the machines waiting for
    one (``takers``, oldest first)."""

    __slots__ = ("env", "items", "takers")

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.items: deque[Part] = deque()
        self.takers: deque[simpy.Event] = deque()

    def put(self, part: Part) -> None:
        """Hand ``part`` to the machine that has waited longest, or queue it."""
        if self.takers:
            self.takers.popleft().succeed(part)
        else:
            self.items.append(part)

    def wait(self) -> simpy.Event:
        """An event whose value is the next part put to it."""
        event = simpy.Event(self.env)
        self.takers.append(event)
        return event

    def withdraw(self, event: simpy.Event) -> bool:
        """Stop waiting with ``event``, unless a part was handed to it already."""
        if event.triggered:
            return False
        self.takers.remove(event)
        return True
