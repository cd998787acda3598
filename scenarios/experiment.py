"""Replications of one scenario: run them, summarize them, keep them on disk."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import simpy
import yaml

from models.kpi import collect as collect  # re-exported for live runs
from models.kpi import sample as sample  # re-exported for live runs
from scenarios.builder import build
from scenarios.history import History, Recorder
from scenarios.schema import Scenario
from twin.changes import Changes
from twin.files import atomic_open, write_atomic
from twin.results import aggregate, flatten
from twin.runner import OnDone, Outcome, run_tasks

HISTORY_FILE = "history.json"


def run_replication(
    scenario: Scenario,
    replication: int,
    trace_path: str | None = None,
    parts_dir: str | None = None,
) -> dict[str, Any]:
    """Simulate one replication and return its KPIs (nested mappings of numbers). With
    ``parts_dir`` and a scenario with identifiers, the history of every part goes there
    (see :mod:`scenarios.parts`)."""
    return _simulate(scenario, replication, trace_path, False, parts_dir)[0]


def record_replication(
    scenario: Scenario,
    replication: int,
    trace_path: str | None = None,
    parts_dir: str | None = None,
) -> tuple[dict[str, Any], History]:
    """Simulate one replication; return its KPIs (the same as ``run_replication``'s, to the
    bit) and its history: KPIs sampled over time and the lead-time histogram."""
    kpis, history = _simulate(scenario, replication, trace_path, True, parts_dir)
    assert history is not None
    return kpis, history


def _simulate(
    scenario: Scenario,
    replication: int,
    trace_path: str | None,
    record: bool,
    parts_dir: str | None = None,
) -> tuple[dict[str, Any], History | None]:
    env = simpy.Environment()
    changes = Changes()
    writer = None
    if trace_path:
        from twin.trace import TraceWriter  # pyarrow loads only for a trace

        writer = TraceWriter(trace_path)
        changes.subscribe(writer)
    try:
        line = build(env, scenario, replication, changes)
        recorder = Recorder(line, scenario.horizon) if record else None
        env.run(until=scenario.horizon)
        history = recorder.history() if recorder is not None else None
        kpis = collect(line, env.now)
        if parts_dir is not None and line.history is not None:
            from scenarios.parts import write  # pyarrow loads only for a kept history

            write(parts_dir, replication, line.history)
        return kpis, history
    finally:
        if writer is not None:
            writer.close()


@dataclass
class RunResult:
    """The outcome of ``twin run``: every replication's KPIs and their summaries."""

    scenario: Scenario
    outcome: Outcome[dict[str, Any]]
    histories: dict[int, History] = field(default_factory=dict)

    @property
    def replications(self) -> list[dict[str, Any]]:
        return [self.outcome.results[i] for i in sorted(self.outcome.results)]

    @property
    def complete(self) -> bool:
        o = self.outcome
        return not o.interrupted and not o.errors and len(o.results) == o.total

    def summary(self) -> dict[str, Any]:
        """The results document: resolved scenario, seed, and every figure summarized."""
        reps = self.replications
        doc: dict[str, Any] = {
            "scenario": self.scenario.model_dump(mode="json"),
            "seed": self.scenario.seed,
            "replications": len(reps),
            "requested_replications": self.outcome.total,
            "complete": self.complete,
            "errors": {str(k): v for k, v in sorted(self.outcome.errors.items())},
        }
        if reps:
            doc.update(aggregate(reps))
        return doc

    def to_json(self) -> str:
        return json.dumps(self.summary(), indent=2, sort_keys=True, allow_nan=False) + "\n"

    def write_json(self, path: str | Path) -> Path:
        return write_atomic(path, self.to_json())

    def write_csv(self, path: str | Path) -> Path:
        """One row per replication, one column per figure (dotted names)."""
        rows = [
            {"replication": i, **flatten(self.outcome.results[i])}
            for i in sorted(self.outcome.results)
        ]
        with atomic_open(path, newline="") as fh:
            if rows:
                writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
        return Path(path)

    def write_dir(self, directory: str | Path) -> Path:
        """Keep the run: results.json, replications.csv and the resolved scenario.yaml, and
        history.json when the run was recorded over time."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        if self.histories:
            reps = {str(i): self.histories[i] for i in sorted(self.histories)}
            text = json.dumps({"replications": reps}, allow_nan=False, separators=(",", ":"))
            write_atomic(d / HISTORY_FILE, text + "\n")
        self.write_json(d / "results.json")
        self.write_csv(d / "replications.csv")
        resolved = self.scenario.model_dump(mode="json")
        text = yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True)
        write_atomic(d / "scenario.yaml", text)
        return d


def run(
    scenario: Scenario,
    workers: int = 1,
    trace_path: str | None = None,
    on_done: OnDone | None = None,
    record: bool = False,
    parts_dir: str | None = None,
) -> RunResult:
    """Run every replication of ``scenario``; the first one writes the trace if asked.
    ``record`` also keeps each replication's history (see ``record_replication``). With
    ``parts_dir``, each replication writes its parts' history there as it ends (only a
    scenario with identifiers has one); files a previous run left there are removed first."""
    if parts_dir is not None:
        from scenarios.parts import clear

        clear(parts_dir)
    # Only a line with identifiers keeps a history to write.
    parts = (parts_dir,) if parts_dir is not None and scenario.identifiers is not None else ()
    tasks = [
        (rep, (scenario, rep, trace_path if rep == 0 else None, *parts))
        for rep in range(scenario.replications)
    ]
    if not record:
        return RunResult(scenario, run_tasks(run_replication, tasks, workers, on_done))
    both = run_tasks(record_replication, tasks, workers, on_done)
    outcome: Outcome[dict[str, Any]] = Outcome(
        both.total,
        {i: kpis for i, (kpis, _) in both.results.items()},
        both.errors,
        both.interrupted,
    )
    return RunResult(scenario, outcome, {i: h for i, (_, h) in both.results.items()})
