"""The benchmark line written by hand in plain SimPy: the baseline ``twin run`` is timed against.

Same semantics as the project's engine for a saturated serial line of single-machine
stations:

- each station has a ``simpy.Resource`` of capacity input buffer + 1 whose slots are the
  *places* at the station, and a ``simpy.Store`` as its input queue;
- the feeder takes a place at the first station as soon as one is free (saturated line);
- a machine takes a part, works on it, and keeps it (blocked) until it holds a place at the
  next station (blocking after service), then frees its own place and passes the part on;
- failures count operating time: the time to failure is consumed by work only, and a
  failure that falls inside a part's work pauses it for the repair time.

Random numbers: one numpy ``Generator`` per (station, purpose), seeded with ``SeedSequence``
the way the engine seeds its streams. By default values are drawn in blocks of 256
(``rng.exponential(mean, 256).tolist()``, then served one at a time): the fast way to use
numpy from Python, so the baseline is not flattered. ``block=False`` draws one scalar per
call (``rng.exponential(mean)``), the way most hand-written models do; numpy fills a block
with the same sequence as successive scalar calls, so both give the same values. With the
same seeds and the same order of events, both models follow the engine's sample path, and
the benchmark can check that they agree exactly.

The only statistics kept are what a hand-written study would keep: parts finished after
the warm-up, and the count and sum of the lead times of those that also entered after it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

BLOCK = 256


@dataclass(frozen=True)
class StationSpec:
    """One station: a single machine with exponential process times and failures."""

    id: str
    buffer: int
    process_mean: float
    mtbf_mean: float
    mttr_mean: float


def _key(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


def _rng(seed: int, replication: int, component: str, purpose: str) -> np.random.Generator:
    seq = np.random.SeedSequence(seed, spawn_key=(replication, _key(component), _key(purpose)))
    return np.random.Generator(np.random.PCG64(seq))


def exponentials(mean: float, rng: np.random.Generator, block: bool) -> Callable[[], float]:
    """Exponential draws from ``rng``: ``BLOCK`` at a time, or one per call."""
    if not block:
        return lambda: float(rng.exponential(mean))
    values: list[float] = []
    i = 0

    def draw() -> float:
        nonlocal values, i
        if i == len(values):
            values = rng.exponential(mean, BLOCK).tolist()
            i = 0
        value = values[i]
        i += 1
        return value

    return draw


class RawLine:
    """The line, its counters, and the processes that move parts."""

    def __init__(
        self,
        env: simpy.Environment,
        stations: Sequence[StationSpec],
        seed: int,
        replication: int,
        warmup: float,
        block: bool = True,
    ) -> None:
        self.env = env
        self.warmup = warmup
        self.finished = 0
        self.lead_count = 0
        self.lead_sum = 0.0
        self.gates = [simpy.Resource(env, capacity=s.buffer + 1) for s in stations]
        self.queues = [simpy.Store(env) for _ in stations]
        for i, s in enumerate(stations):

            def stream(mean: float, purpose: str, sid: str = s.id) -> Callable[[], float]:
                return exponentials(mean, _rng(seed, replication, sid, purpose), block)

            process = stream(s.process_mean, "process:part")
            mtbf = stream(s.mtbf_mean, "mtbf")
            mttr = stream(s.mttr_mean, "mttr")
            env.process(self.machine(i, process, mtbf, mttr))
        env.process(self.feeder())

    def throughput_per_hour(self, now: float) -> float:
        return self.finished * 3600.0 / (now - self.warmup)

    def lead_time_mean(self) -> float:
        return self.lead_sum / self.lead_count if self.lead_count else float("nan")

    def feeder(self) -> Generator[Any, Any, None]:
        gate, queue, env = self.gates[0], self.queues[0], self.env
        while True:
            token = gate.request()
            yield token
            queue.put((env.now, token))

    def machine(
        self,
        i: int,
        process: Callable[[], float],
        mtbf: Callable[[], float],
        mttr: Callable[[], float],
    ) -> Generator[Any, Any, None]:
        env = self.env
        gate, queue = self.gates[i], self.queues[i]
        last = i == len(self.gates) - 1
        nxt_gate = None if last else self.gates[i + 1]
        nxt_queue = None if last else self.queues[i + 1]
        warmup = self.warmup
        ttf = mtbf()
        while True:
            created, token = yield queue.get()
            work = process()
            while work > ttf:
                yield env.timeout(ttf)
                work -= ttf
                yield env.timeout(mttr())
                ttf = mtbf()
            ttf -= work
            yield env.timeout(work)
            if nxt_gate is None or nxt_queue is None:
                gate.release(token)
                if env.now >= warmup:
                    self.finished += 1
                    if created >= warmup:
                        self.lead_count += 1
                        self.lead_sum += env.now - created
                continue
            place = nxt_gate.request()
            yield place
            gate.release(token)
            nxt_queue.put((created, place))
