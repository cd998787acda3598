"""Many models x replications, run once each and kept in the store as they arrive.

Replication ``r`` of every model uses the same random streams wherever the models share a
component (common random numbers), so paired differences between models are meaningful.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scenarios.experiment import record_replication
from scenarios.figures import headline, neck_of
from scenarios.history import History
from scenarios.schema import Scenario
from scenarios.store import Store, model_key
from twin.runner import run_tasks
from twin.stats import summarize

KPIs = dict[str, Any]


@dataclass
class Batch:
    """Results by model name and replication, and how the run went."""

    results: dict[str, dict[int, KPIs]]
    ran: int = 0
    reused: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False
    replications: int = 0

    def complete(self, replications: int) -> bool:
        return not self.interrupted and all(
            len(reps) >= replications for reps in self.results.values()
        )


def evaluate(
    models: Mapping[str, Scenario],
    replications: int,
    store: Store,
    workers: int = 1,
    scheduler: str | None = None,
    on_done: Callable[[int, int], None] | None = None,
) -> Batch:
    """Run replications ``0..replications-1`` of every model that the store does not have.

    Each is recorded over time as well (``record_replication``); the store keeps both.
    ``on_done(finished, total)`` reports progress over the replications that had to run.
    """
    keys = {name: model_key(model) for name, model in models.items()}
    have = {key: store.load(key) for key in set(keys.values())}
    tasks: list[tuple[int, tuple[Any, ...]]] = []
    meta: list[tuple[str, str, int]] = []
    queued: set[tuple[str, int]] = set()
    for name, model in models.items():
        key = keys[name]
        for rep in range(replications):
            if rep in have[key] or (key, rep) in queued:
                continue
            queued.add((key, rep))
            meta.append((key, name, rep))
            tasks.append((len(tasks), (model, rep)))
    finished = 0

    def keep(index: int, result: tuple[KPIs, History] | None) -> None:
        nonlocal finished
        finished += 1
        key, name, rep = meta[index]
        if result is not None:
            kpis, history = result
            store.put(key, rep, name, kpis, history)
            have[key][rep] = kpis
        if on_done is not None:
            on_done(finished, len(tasks))

    outcome = run_tasks(record_replication, tasks, workers, keep, scheduler)
    batch = Batch(
        results={
            name: {r: have[keys[name]][r] for r in range(replications) if r in have[keys[name]]}
            for name in models
        },
        ran=len(outcome.results),
        reused=sum(len(v) for v in have.values()) - len(outcome.results),
        interrupted=outcome.interrupted,
    )
    for index, message in outcome.errors.items():
        _, name, rep = meta[index]
        batch.errors[f"{name}#{rep}"] = message
    return batch


def _precise(batch: Batch, target: float) -> int:
    """How many replications each model needs for every headline half-width <= target x mean.

    Returns 0 when all are precise enough already.
    """
    need = 0
    for reps in batch.results.values():
        figures = headline(neck_of(reps))
        for extract in figures.values():
            values = [extract(reps[r]) for r in sorted(reps)]
            summary = summarize(values)
            mean, half = summary["mean"], summary["ci95_halfwidth"]
            if mean is None or half is None or mean == 0:
                continue
            ratio = half / (target * abs(mean))
            if ratio > 1:
                need = max(need, math.ceil(len(values) * ratio * ratio))
    return need


def evaluate_models(
    models: Mapping[str, Scenario],
    replications: int,
    store: Store,
    workers: int = 1,
    scheduler: str | None = None,
    on_done: Callable[[int, int], None] | None = None,
    precision: float | None = None,
    max_replications: int = 200,
) -> Batch:
    """``evaluate``; with ``precision``, add replications until every headline half-width
    is within that fraction of its mean, or ``max_replications`` is reached."""
    n = replications
    ran = 0
    reused: int | None = None
    while True:
        batch = evaluate(models, n, store, workers, scheduler, on_done)
        ran += batch.ran
        reused = batch.reused if reused is None else reused
        batch.ran, batch.reused, batch.replications = ran, reused, n
        if precision is None or batch.interrupted or batch.errors or n >= max_replications:
            return batch
        need = _precise(batch, precision)
        if need == 0:
            return batch
        n = min(max_replications, max(need, n + 2))
