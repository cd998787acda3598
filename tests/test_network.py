"""Links lose messages by chance and during outages, delay them by their latency, and edge
nodes queue and analyse them."""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from models.network import Edge, Link, deliver


def _uniform(seed: int) -> Any:
    rng = np.random.default_rng(seed)
    return lambda: float(rng.random())


def _send_every(
    env: simpy.Environment, link: Link, edge: Edge | None, every: float, n: int
) -> tuple[list[float], list[float]]:
    sent: list[float] = []
    arrived: list[float] = []

    def sender() -> Generator[Any, Any, None]:
        for _ in range(n):
            yield env.timeout(every)
            if deliver(link, edge, lambda: arrived.append(env.now)):
                sent.append(env.now)

    env.process(sender())
    env.run(until=every * (n + 1))  # an outage process never ends by itself
    return sent, arrived


def test_a_lossy_link_loses_its_share_of_messages() -> None:
    """Loss 0.03 over 20,000 messages: the share lost is 0.03 within 3 binomial errors."""
    env = simpy.Environment()
    link = Link(env, "wifi", lambda: 0.04, 0.03, _uniform(1))
    sent, arrived = _send_every(env, link, None, 1.0, 20_000)
    lost = 1 - len(sent) / 20_000
    assert abs(lost - 0.03) < 3 * math.sqrt(0.03 * 0.97 / 20_000)
    assert len(arrived) == len(sent)


def test_an_outage_loses_every_message_sent_while_the_link_is_down() -> None:
    """Down for 2 min after every 8 h up (constant), a message a minute for a day: the two
    outages (from 8:00 and from 16:02) each lose the messages sent at their first two
    minutes; the others arrive 5 ms after they were sent."""
    env = simpy.Environment()
    link = Link(env, "wifi", lambda: 0.005, 0.0, _uniform(2), (lambda: 8 * 3600.0, lambda: 120.0))
    sent, arrived = _send_every(env, link, None, 60.0, 24 * 60)
    assert link.outages == 2
    minutes = {round(t / 60) for t in sent}
    assert set(range(1, 24 * 60 + 1)) - minutes == {480, 481, 962, 963}
    assert all(abs(a - s - 0.005) < 1e-9 for s, a in zip(sent, arrived, strict=True))


def test_an_edge_node_queues_readings_and_adds_its_compute_time() -> None:
    """Capacity 10 readings/s (0.1 s each, one at a time) and 50 ms of compute: readings
    sent together come out 0.1 s apart, each 0.15 s after its turn began."""
    env = simpy.Environment()
    link = Link(env, "wired", lambda: 0.0, 0.0, _uniform(3))
    edge = Edge(env, "edge1", compute=0.05, capacity=10.0)
    arrived: list[float] = []
    for _ in range(3):
        deliver(link, edge, lambda: arrived.append(env.now))
    env.run()
    assert np.allclose(arrived, [0.15, 0.25, 0.35])
    assert edge.analysed == 3
