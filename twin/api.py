"""The Python API: ``load``, ``run``, ``compare`` and ``sweep`` for scripts and notebooks.

Each returns a typed report over the same results document the command line writes, with
``to_pandas()`` for tidy tables. A run that does not finish never returns quietly: a failed
replication raises :class:`~twin.errors.SimulationError` listing what failed, and Ctrl-C
propagates as ``KeyboardInterrupt`` unless ``run(..., allow_partial=True)`` asks to keep
the replications that finished. Like the command line, this module composes the layers.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scenarios.batch import Batch, evaluate_models
from scenarios.catalog import load_scenario
from scenarios.compare import run_compare
from scenarios.experiment import run as run_replications
from scenarios.overrides import override
from scenarios.parts import PARTS_DIR
from scenarios.retrofits import Plan, apply, default_plans, parse_plan
from scenarios.schema import MAX_REPLICATIONS, Scenario
from scenarios.store import Store, claim, mark, model_key, signature
from scenarios.sweep import Param, document, model_at, points, table, write_csv
from twin import checks
from twin.errors import SimulationError, UsageError
from twin.files import check_writable, write_atomic
from twin.reports import ComparisonReport, RunReport, SweepReport

ScenarioLike = Scenario | str | Path
Duration = str | float | None


def load(
    scenario: ScenarioLike,
    *,
    reps: int | None = None,
    seed: int | None = None,
    horizon: Duration = None,
    warmup: Duration = None,
) -> Scenario:
    """A scenario from a file, a bundled name (``"demo"``) or a scenario, with overrides.

    ``horizon`` and ``warmup`` take seconds or a duration such as ``"2h"``; ``warmup="auto"``
    picks the warm-up with MSER-5, like ``twin run --warmup auto``.
    """
    model = scenario if isinstance(scenario, Scenario) else load_scenario(str(scenario))
    auto = isinstance(warmup, str) and warmup.strip().lower() == "auto"
    model = override(
        model,
        {
            "replications": checks.between(
                "reps", reps, 1, MAX_REPLICATIONS, "replications per model"
            ),
            "seed": checks.between("seed", seed, 0, checks.MAX_SEED, "a signed 64-bit integer"),
            "horizon": checks.duration("horizon", horizon),
            "warmup": None if auto else checks.duration("warmup", warmup),
        },
    )
    if auto:
        from scenarios.warmup import detect

        model = override(model, {"warmup": detect(model)})
    return model


def run(
    scenario: ScenarioLike,
    *,
    reps: int | None = None,
    seed: int | None = None,
    horizon: Duration = None,
    warmup: Duration = None,
    plan: str | None = None,
    workers: int | None = None,
    trace: str | Path | None = None,
    out: str | Path | None = None,
    allow_partial: bool = False,
) -> RunReport:
    """Simulate the replications of a scenario and return their figures.

    ``plan`` simulates the line with retrofits applied (``"platform+smed"``); ``workers``
    local processes (default: all cores); ``trace`` writes replication 0's state changes
    as Parquet; ``out`` keeps results.json, replications.csv, scenario.yaml and the run's
    history over time (history.json, for ``twin report``) there, and with identifiers
    each part's history (parts/, for ``twin trace``).
    Raises SimulationError when a replication fails; an interrupt raises KeyboardInterrupt,
    or with ``allow_partial=True`` returns the finished replications (``complete`` False).
    """
    _not_while_bootstrapping("run")
    _writable("out", out, folder=True)
    _writable("trace", trace, folder=False)
    n_workers = checks.workers("workers", workers)
    model = load(scenario, reps=reps, seed=seed, horizon=horizon, warmup=warmup)
    if plan is not None:
        chosen = parse_plan(model, plan)
        model = override(apply(model, chosen), {"name": f"{model.name} [{chosen.name}]"})
    result = run_replications(
        model,
        n_workers,
        str(trace) if trace is not None else None,
        record=out is not None,
        parts_dir=str(Path(out) / PARTS_DIR) if out is not None else None,
    )
    outcome = result.outcome
    if outcome.interrupted and not (allow_partial and outcome.results):
        raise KeyboardInterrupt
    if outcome.errors and not (allow_partial and outcome.results):
        raise SimulationError(_failures(model.name, outcome.errors, outcome.total))
    if out is not None:
        result.write_dir(out)
    return RunReport.of(result.summary(), sorted(outcome.results))


def compare(
    scenario: ScenarioLike,
    plans: Sequence[str] | None = None,
    *,
    max_n: int | None = None,
    reps: int | None = None,
    seed: int | None = None,
    horizon: Duration = None,
    warmup: Duration = None,
    workers: int | None = None,
    scheduler: str | None = None,
    precision: float | None = None,
    max_reps: int = 200,
    out: str | Path | None = None,
) -> ComparisonReport:
    """Compare the baseline with "1+N" plans (default: every feasible plan, at most
    ``max_n`` retrofits besides the core) with common random numbers.

    With ``out``, replications are stored in that folder as they finish, with
    comparison.json at the end; calling again with the same ``out`` resumes an
    interrupted comparison. Without it, nothing is written.
    """
    _not_while_bootstrapping("compare")
    _check_precision(precision, max_reps)
    n_workers = checks.workers("workers", workers)
    checks.scheduler("scheduler", scheduler)
    model = load(scenario, reps=reps, seed=seed, horizon=horizon, warmup=warmup)
    if not model.retrofits:
        raise UsageError(f"scenario {model.name!r} has no retrofits to compare")
    chosen = _plans(
        model, plans, checks.between("max_n", max_n, 0, checks.MAX_MAX_N, "retrofits in one plan")
    )
    names = [p.name for p in chosen]
    with _store(model, "compare", names, out) as store:
        comparison, batch = run_compare(
            model, chosen, store, n_workers, scheduler, None, precision, max_reps
        )
        _check(model.name, batch, len(batch.results) * batch.replications)
        doc = comparison.summary()
        _finish(store, model, "compare", names, out, {"comparison.json": doc})
    return ComparisonReport.of(doc)


def sweep(
    scenario: ScenarioLike,
    parameters: Mapping[str, Sequence[Any]],
    *,
    reps: int | None = None,
    seed: int | None = None,
    horizon: Duration = None,
    warmup: Duration = None,
    workers: int | None = None,
    scheduler: str | None = None,
    precision: float | None = None,
    max_reps: int = 200,
    out: str | Path | None = None,
) -> SweepReport:
    """Run every combination of ``parameters`` (dotted path -> values), e.g.
    ``{"stations.M2.input_buffer": [0, 1, 2]}``, and tabulate the headline figures.

    ``out`` stores and resumes like :func:`compare` and adds sweep.json and sweep.csv.
    """
    _not_while_bootstrapping("sweep")
    _check_precision(precision, max_reps)
    n_workers = checks.workers("workers", workers)
    checks.scheduler("scheduler", scheduler)
    params = [_param(path, values) for path, values in parameters.items()]
    if not params:
        raise UsageError("argument parameters: give at least one path and its values")
    model = load(scenario, reps=reps, seed=seed, horizon=horizon, warmup=warmup)
    grid = points(params)
    models = {point.name: model_at(model, point) for point in grid}
    names = list(models)
    with _store(model, "sweep", names, out) as store:
        batch = evaluate_models(
            models, model.replications, store, n_workers, scheduler, None, precision, max_reps
        )
        _check(model.name, batch, len(models) * batch.replications)
        rows = table(model, grid, batch.results)
        doc = document(model, params, rows)
        _finish(store, model, "sweep", names, out, {"sweep.json": doc})
        if out is not None:
            write_csv(Path(out) / "sweep.csv", rows)
    return SweepReport.of(doc)


def _writable(name: str, path: str | Path | None, folder: bool) -> Path:
    """Refuse, before simulating, an output path that cannot be what the argument writes."""
    p = Path(path) if path is not None else Path()
    check_writable(name, Path(path) if path is not None else None, folder)
    return p


def _check_precision(precision: float | None, max_reps: int) -> None:
    checks.precision("precision", precision)
    checks.between("max_reps", max_reps, 2, MAX_REPLICATIONS, "replications per model")


def _param(path: str, values: Sequence[Any]) -> Param:
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise UsageError(f"argument parameters[{path!r}]: give a non-empty list of values")
    return Param(path, tuple(values))


def _plans(model: Scenario, plans: Sequence[str] | None, max_n: int | None) -> list[Plan]:
    if isinstance(plans, str):
        plans = [plans]
    chosen = [parse_plan(model, p) for p in plans] if plans else default_plans(model, max_n)
    if not chosen:
        raise UsageError("no plan satisfies the retrofits' requirements")
    return chosen


def _not_while_bootstrapping(name: str) -> None:
    """Refuse to start a run inside a process that is still importing the main module.

    That happens when a script without a ``__main__`` guard hands work to its own spawned
    processes: each of them re-runs the script, and would run the experiment again.
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise UsageError(
            f"twin.{name}() was called while a new process was starting up and importing "
            'the main script; put the calls under `if __name__ == "__main__":`'
        )


def _failures(name: str, errors: Mapping[Any, str], total: int) -> str:
    """One line per distinct error, naming the replications it hit."""
    by_message: dict[str, list[str]] = {}
    for where, message in sorted(errors.items(), key=lambda item: str(item[0])):
        by_message.setdefault(message, []).append(str(where))
    lines = [f"replications {', '.join(w)}: {m}" for m, w in by_message.items()]
    return f"{len(errors)} of {total} replications of {name!r} failed:\n" + "\n".join(lines)


def _check(name: str, batch: Batch, total: int) -> None:
    if batch.errors:
        raise SimulationError(_failures(name, batch.errors, total))
    if batch.interrupted:
        raise KeyboardInterrupt


@contextmanager
def _store(model: Scenario, kind: str, names: list[str], out: str | Path | None) -> Iterator[Store]:
    """The experiment's store: in memory, or ``out/store.sqlite`` (resumed when present)."""
    if out is None:
        with Store(":memory:") as store:
            yield store
        return
    folder = _writable("out", out, folder=True)
    with claim(folder, "out"):
        sig = signature(kind, [model_key(model), *names], model.replications)
        mark(folder, sig, False, [f"twin.{kind}({model.name!r})"])
        with Store(folder / "store.sqlite") as store:
            yield store


def _finish(
    store: Store,
    model: Scenario,
    kind: str,
    names: list[str],
    out: str | Path | None,
    docs: Mapping[str, Mapping[str, Any]],
) -> None:
    """Mark a finished experiment's folder complete and write its documents there."""
    if out is None:
        return
    folder = Path(out)
    store.export_csv(folder / "replications.csv")
    for file, doc in docs.items():
        text = json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n"
        write_atomic(folder / file, text)
    sig = signature(kind, [model_key(model), *names], model.replications)
    mark(folder, sig, True, [f"twin.{kind}({model.name!r})"])
