"""The plant network: links that carry readings from machines, and edge nodes that analyse
them.

A :class:`Link` delays each message by a latency drawn for it, loses it with probability
``loss``, and loses every message sent while it is down (an outage, when it has them). An
:class:`Edge` node analyses one reading at a time, ``1 / capacity`` seconds each, then
takes ``compute`` more before the result is known. :func:`deliver` sends one message over
a link and, when given, an edge node, and calls back when it arrives; it returns False at
once when the message is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy

Draw = Callable[[], float]


class Link:
    """A network link called ``id``."""

    def __init__(
        self,
        env: simpy.Environment,
        lid: str,
        latency: Draw,
        loss: float,
        uniform: Draw,
        outage: tuple[Draw, Draw] | None = None,
    ) -> None:
        self.env = env
        self.id = lid
        self.latency = latency
        self.loss = loss
        self.uniform = uniform
        self.up = True
        self.outages = 0
        if outage is not None:
            env.process(self._outages(*outage))

    def lost(self) -> bool:
        """Whether a message sent now is lost (the link is down, or by chance)."""
        if not self.up:
            return True
        return self.loss > 0.0 and self.uniform() < self.loss

    def _outages(self, between: Draw, length: Draw) -> Generator[Any, Any, None]:
        env = self.env
        while True:
            yield env.timeout(between())
            self.up = False
            self.outages += 1
            yield env.timeout(length())
            self.up = True


class Edge:
    """An edge node: ``1 / capacity`` seconds of the node per reading, one at a time in the
    order they reach it, then ``compute`` seconds of analysis (which do not hold the node).

    The node's service time is fixed, so a reading's turn is known when it reaches the node:
    it costs one event to get there and one to be analysed, not a queue of requests."""

    def __init__(self, env: simpy.Environment, eid: str, compute: float, capacity: float) -> None:
        self.env = env
        self.id = eid
        self.compute = compute
        self.service = 1.0 / capacity
        self.free_at = 0.0  # when the node has served every reading that reached it
        self.analysed = 0

    def take(self, done: Callable[[], None]) -> None:
        """A reading reaches the node now; ``done`` is called once it is analysed."""
        env = self.env
        now = env.now
        self.free_at = max(now, self.free_at) + self.service
        self.analysed += 1
        env.timeout(self.free_at - now + self.compute).callbacks.append(_call(done))


def _call(action: Callable[[], None]) -> Callable[[simpy.events.Event], None]:
    def callback(_: simpy.events.Event) -> None:
        action()

    return callback


def deliver(link: Link, edge: Edge | None, arrive: Callable[[], None]) -> bool:
    """Send a message now over ``link`` (and ``edge``): False if it is lost, else True, and
    ``arrive`` is called when it gets there."""
    if link.lost():
        return False
    delay = link.latency()
    if edge is None:
        if delay > 0.0:
            link.env.timeout(delay).callbacks.append(_call(arrive))
        else:
            arrive()
    else:
        link.env.timeout(delay).callbacks.append(_call(lambda: edge.take(arrive)))
    return True
