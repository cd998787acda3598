"""The benchmark line as an experienced SimPy user writes it by hand: the yardstick for
``twin run`` on ``bench/idiomatic_line.yaml``.

Ten single-machine stations in series, saturated (the first station never starves), one
process per machine, a ``simpy.Store`` of capacity 5 as the buffer in front of each station
after the first, ``timeout`` for work, failures and repairs:

- process times exponential, mean 1 s;
- failures in operating time: time between failures exponential with mean 100 s, consumed
  by work only; a failure inside a part's work interrupts it, and the rest of its work
  resumes after the repair;
- repairs exponential, mean 10 s;
- blocking after service: a finished part stays on its machine until ``yield
  store.put(part)`` finds a place in the next buffer.

Random numbers: one ``numpy.random.default_rng`` per machine, seeded from the run's seed
with ``SeedSequence.spawn``, one scalar draw per value. These are not the engine's streams,
so the two models agree statistically, not event for event.

Statistics, what a hand-written study keeps: parts leaving the last station after the
warm-up, and the lead times (from entering the first machine) of those that also entered
after it. Run it as a script to simulate one run and print them::

    python bench/idiomatic_simpy_line.py [--horizon SECONDS] [--seed N]
"""

from __future__ import annotations

import argparse
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

STATIONS = 10
BUFFER = 5
PROCESS_MEAN = 1.0
MTBF = 100.0
MTTR = 10.0
HORIZON = 100_000.0
WARMUP = 1_000.0
SEED = 2020


@dataclass
class Tally:
    """Parts finished after the warm-up, and the lead times of those that entered after it."""

    warmup: float
    finished: int = 0
    lead_times: list[float] = field(default_factory=list)

    def record(self, now: float, entered: float) -> None:
        if now >= self.warmup:
            self.finished += 1
            if entered >= self.warmup:
                self.lead_times.append(now - entered)


def machine(
    env: simpy.Environment,
    rng: np.random.Generator,
    inbox: simpy.Store | None,
    outbox: simpy.Store | None,
    tally: Tally,
) -> Generator[simpy.Event, Any, None]:
    """One machine: take a part (or a raw one at the first station), work, pass it on."""
    to_failure = rng.exponential(MTBF)
    while True:
        if inbox is None:
            entered = env.now  # saturated: a raw part is always there
        else:
            entered = yield inbox.get()
        work = rng.exponential(PROCESS_MEAN)
        while to_failure < work:  # the machine fails inside this part's work
            yield env.timeout(to_failure)
            work -= to_failure
            yield env.timeout(rng.exponential(MTTR))
            to_failure = rng.exponential(MTBF)
        yield env.timeout(work)
        to_failure -= work
        if outbox is None:
            tally.record(env.now, entered)
        else:
            yield outbox.put(entered)  # blocks the machine while the next buffer is full


def line(env: simpy.Environment, seed: int, warmup: float) -> Tally:
    """Build the line in ``env``; the returned tally fills in as it runs."""
    tally = Tally(warmup)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(STATIONS)]
    stores = [simpy.Store(env, capacity=BUFFER) for _ in range(STATIONS - 1)]
    inboxes: list[simpy.Store | None] = [None, *stores]
    outboxes: list[simpy.Store | None] = [*stores, None]
    for rng, inbox, outbox in zip(rngs, inboxes, outboxes, strict=True):
        env.process(machine(env, rng, inbox, outbox, tally))
    return tally


def simulate(horizon: float = HORIZON, seed: int = SEED, warmup: float = WARMUP) -> Tally:
    """One run of the line up to ``horizon`` seconds."""
    env = simpy.Environment()
    tally = line(env, seed, warmup)
    env.run(until=horizon)
    return tally


def throughput_per_hour(tally: Tally, horizon: float) -> float:
    return tally.finished * 3600.0 / (horizon - tally.warmup)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--horizon", type=float, default=HORIZON, help="simulated seconds")
    parser.add_argument("--warmup", type=float, default=WARMUP, help="simulated seconds")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    tally = simulate(args.horizon, args.seed, args.warmup)
    lead = sum(tally.lead_times) / len(tally.lead_times) if tally.lead_times else float("nan")
    print(
        f"throughput {throughput_per_hour(tally, args.horizon):.2f} parts/h, "
        f"mean lead time {lead:.2f} s, {tally.finished} parts after warm-up"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
