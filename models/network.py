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
    """An edge node: ``1 / capacity`` seconds of the node per reading, one at a time, then
    ``compute`` seconds of analysis."""

    def __init__(self, env: simpy.Environment, eid: str, compute: float, capacity: float) -> None:
        self.env = env
        self.id = eid
        self.compute = compute
        self.service = 1.0 / capacity
        self.node = simpy.Resource(env, capacity=1)
        self.analysed = 0

    def analyse(self) -> Generator[Any, Any, None]:
        with self.node.request() as turn:
            yield turn
            yield self.env.timeout(self.service)
        self.analysed += 1
        if self.compute > 0.0:
            yield self.env.timeout(self.compute)


def deliver(link: Link, edge: Edge | None, arrive: Callable[[], None]) -> bool:
    """Send a message now over ``link`` (and ``edge``): False if it is lost, else True, and
    ``arrive`` is called when it gets there."""
    if link.lost():
        return False
    link.env.process(_carry(link, edge, arrive))
    return True


def _carry(link: Link, edge: Edge | None, arrive: Callable[[], None]) -> Generator[Any, Any, None]:
    delay = link.latency()
    if delay > 0.0:
        yield link.env.timeout(delay)
    if edge is not None:
        yield from edge.analyse()
    arrive()
