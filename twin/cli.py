"""The ``twin`` command line. The one place that composes engine, models and scenarios."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from twin.durations import format_duration, parse_duration
from twin.errors import TwinError, UsageError
from twin.runner import default_workers

if TYPE_CHECKING:
    from scenarios.batch import Batch
    from scenarios.schema import Scenario

app = typer.Typer(
    help="shopfloor-twin: discrete-event digital twin of smart workshop lines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# No emoji codes: "line.yaml:100:" must not print as a picture.
out = Console(emoji=False)
if not out.is_terminal:
    out = Console(width=200, emoji=False)  # files and pipes get the whole table, unwrapped
err = Console(stderr=True, soft_wrap=True, emoji=False)

EXIT_USER = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130

# Options shared by the commands.
ScenarioArg = Annotated[
    str, typer.Argument(metavar="SCENARIO", help="Scenario file, or a bundled name (`demo`).")
]
Reps = Annotated[int | None, typer.Option("--reps", help="Replications.")]
Seed = Annotated[int | None, typer.Option("--seed", help="Random seed.")]
Horizon = Annotated[str | None, typer.Option(help="Simulated time per replication, e.g. 8h.")]
Warmup = Annotated[
    str | None, typer.Option(help="Warm-up discarded from statistics, e.g. 30min, or 'auto'.")
]
Workers = Annotated[int | None, typer.Option(help="Local processes (default: all cores).")]
Scheduler = Annotated[
    str | None, typer.Option(help="Dask scheduler address, e.g. tcp://127.0.0.1:8786.")
]
Precision = Annotated[
    float | None,
    typer.Option(
        help="Add replications until each headline CI half-width is within this "
        "fraction of its mean (e.g. 0.02)."
    ),
]
MaxReps = Annotated[int, typer.Option("--max-reps", help="Replication cap for --precision.")]
StoreDir = Annotated[
    Path | None, typer.Option("--out", help="Store directory (default runs/<scenario>-<time>).")
]
JsonPath = Annotated[Path | None, typer.Option("--json", help="Also write the JSON here.")]


def _user_error(exc: TwinError) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
    raise typer.Exit(EXIT_USER)


def _duration(option: str, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"option {option}: {exc}") from None


def _writable(option: str, path: Path | None, folder: bool = False) -> None:
    """Refuse an output path that cannot be what the option writes, before simulating."""
    if path is None:
        return
    if folder and path.exists() and not path.is_dir():
        raise UsageError(f"option {option}: {path} exists and is not a folder")
    if not folder and path.is_dir():
        raise UsageError(f"option {option}: {path} is a folder; give a file name")
    parent = path if folder else path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"option {option}: cannot create {path}: {parent} is not a folder")


def _at_least(option: str, value: int | None, low: int) -> int | None:
    if value is not None and value < low:
        raise UsageError(f"option {option}: must be at least {low}, got {value}")
    return value


def _load(
    scenario: str, reps: int | None, seed: int | None, horizon: str | None, warmup: str | None
) -> Scenario:
    """Load a scenario and apply the command-line overrides (``--warmup auto`` included)."""
    from scenarios.catalog import load_scenario
    from scenarios.overrides import override

    auto = warmup is not None and warmup.strip().lower() == "auto"
    model = override(
        load_scenario(scenario),
        {
            "replications": _at_least("--reps", reps, 1),
            "seed": _at_least("--seed", seed, 0),
            "horizon": _duration("--horizon", horizon),
            "warmup": None if auto else _duration("--warmup", warmup),
        },
    )
    if auto:
        from scenarios.warmup import detect

        chosen = detect(model)
        err.print(f"warm-up chosen by MSER-5: {format_duration(chosen)}", highlight=False)
        model = override(model, {"warmup": chosen})
    return model


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


@app.command("run")
def run_command(
    scenario: ScenarioArg,
    reps: Reps = None,
    seed: Seed = None,
    horizon: Horizon = None,
    warmup: Warmup = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results JSON.")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Keep the run here.")] = None,
    trace: Annotated[
        Path | None, typer.Option(help="Parquet trace of replication 0's state changes.")
    ] = None,
    workers: Workers = None,
    plan: Annotated[
        str | None,
        typer.Option("--plan", help="Simulate the line with these retrofits, e.g. platform+smed."),
    ] = None,
) -> None:
    """Simulate a scenario and print its KPIs with 95% confidence intervals."""
    from scenarios.experiment import run
    from scenarios.overrides import override
    from scenarios.retrofits import apply, parse_plan
    from twin.report import print_summary

    try:
        n_workers = _at_least("--workers", workers, 1) or default_workers()
        model = _load(scenario, reps, seed, horizon, warmup)
        if plan is not None:
            chosen = parse_plan(model, plan)
            model = override(apply(model, chosen), {"name": f"{model.name} [{chosen.name}]"})
        _writable("--json", json_path)
        _writable("--trace", trace)
        _writable("--out", out_dir, folder=True)
    except TwinError as exc:
        _user_error(exc)
    with _progress() as progress:
        task = progress.add_task(f"{escape(model.name)}: replications", total=model.replications)
        result = run(
            model,
            workers=n_workers,
            trace_path=str(trace) if trace else None,
            on_done=lambda *_: progress.advance(task),
        )
    doc = result.summary()
    print_summary(out, doc)
    try:
        if json_path is not None:
            result.write_json(json_path)
        if out_dir is not None:
            result.write_dir(out_dir)
    except OSError as exc:
        err.print(f"error: could not write the results: {exc}", highlight=False, markup=False)
        raise typer.Exit(EXIT_FAILED) from None
    stuck = [v for v in doc.get("line", {}).get("deadlocked", {}).get("values", []) if v]
    if stuck:
        err.print(
            f"warning: the line deadlocked in {len(stuck)} of {doc['replications']} replications "
            "(stations blocked in a cycle on a route that revisits them); give one station on "
            "the loop more input buffer",
            highlight=False,
        )
    _warn_unstable(doc)
    outcome = result.outcome
    if outcome.interrupted:
        err.print(
            f"interrupted: {len(outcome.results)} of {outcome.total} replications finished; "
            "the results above and any files written cover those only",
            highlight=False,
        )
        raise typer.Exit(EXIT_INTERRUPTED)
    if outcome.errors:
        for index, message in sorted(outcome.errors.items()):
            err.print(f"replication {index} failed: {message}", highlight=False, markup=False)
        raise typer.Exit(EXIT_FAILED)


def _warn_unstable(doc: dict[str, Any]) -> None:
    """Say so when WIP is still climbing at the horizon (more arrivals than capacity)."""
    line = doc.get("line") or {}
    wip = (line.get("wip") or {}).get("mean")
    end = ((line.get("parts") or {}).get("in_system") or {}).get("mean")
    if wip is not None and end is not None and end > 1.5 * wip + 20:
        err.print(
            f"warning: {end:.0f} parts are in the line at the horizon against {wip:.1f} on "
            "average: WIP is still growing, so arrivals may exceed capacity; the figures then "
            "depend on the horizon",
            highlight=False,
        )


@contextmanager
def _experiment(
    model: Scenario, kind: str, names: list[str], out_dir: Path | None
) -> Iterator[tuple[Path, Any, Progress, Any]]:
    """The store directory (resumed when the same experiment was cut short) and a progress bar."""
    from scenarios.store import Store, mark, model_key, output_dir, signature

    sig = signature(kind, [model_key(model), *names], model.replications)
    if out_dir is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        directory, resumed = output_dir(Path("runs"), model.name, sig, stamp)
    else:
        directory, resumed = out_dir, (out_dir / "store.sqlite").exists()
    if resumed:
        err.print(f"resuming the experiment in {directory}", highlight=False, markup=False)
    fresh = not directory.exists()
    mark(directory, sig, False, sys.argv)
    empty = False
    try:
        with Store(directory / "store.sqlite") as store, _progress() as progress:
            task = progress.add_task(f"{escape(model.name)}: {kind}", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            try:
                yield directory, store, progress, advance
            except BaseException:
                empty = store.count() == 0
                raise
    finally:
        if fresh and empty:
            # Nothing ran (a bad scheduler, say): leave no half-made run behind.
            shutil.rmtree(directory, ignore_errors=True)


def _close(directory: Path, model: Scenario, kind: str, names: list[str], batch: Batch) -> None:
    """Mark the directory, say what ran, and exit non-zero if the batch is unfinished."""
    from scenarios.store import mark, model_key, signature

    done = not batch.interrupted and not batch.errors
    from scenarios.store import Store

    with Store(directory / "store.sqlite") as store:
        store.export_csv(directory / "replications.csv")
    mark(directory, signature(kind, [model_key(model), *names], model.replications), done, sys.argv)
    err.print(
        f"{batch.ran} replications run, {batch.reused} reused from the store; "
        f"results in {directory}",
        highlight=False,
        markup=False,
    )
    if batch.interrupted:
        err.print(
            "interrupted: finished replications are stored; run the same command again to resume",
            highlight=False,
        )
        raise typer.Exit(EXIT_INTERRUPTED)
    if batch.errors:
        for where, message in sorted(batch.errors.items()):
            err.print(f"replication {where} failed: {message}", highlight=False, markup=False)
        raise typer.Exit(EXIT_FAILED)


def _write(doc: dict[str, Any], *paths: Path | None) -> None:
    text = json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n"
    for path in paths:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")


@app.command("compare")
def compare_command(
    scenario: ScenarioArg,
    plan: Annotated[
        list[str] | None,
        typer.Option("--plan", help="A plan such as platform+predictive_maintenance (repeatable)."),
    ] = None,
    max_n: Annotated[
        int | None,
        typer.Option("--max-n", help="Default plans: at most K retrofits besides the core."),
    ] = None,
    reps: Reps = None,
    seed: Seed = None,
    horizon: Horizon = None,
    warmup: Warmup = None,
    precision: Precision = None,
    max_reps: MaxReps = 200,
    out_dir: StoreDir = None,
    json_path: JsonPath = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
) -> None:
    """Compare the baseline with "1+N" upgrade plans: gains, money, ranking, attribution."""
    from scenarios.compare import run_compare
    from scenarios.retrofits import default_plans, parse_plan
    from twin.report import print_comparison

    try:
        _check_precision(precision, max_reps)
        _writable("--json", json_path)
        _writable("--out", out_dir, folder=True)
        _at_least("--max-n", max_n, 0)
        n_workers = _at_least("--workers", workers, 1) or default_workers()
        model = _load(scenario, reps, seed, horizon, warmup)
        if not model.retrofits:
            raise UsageError(f"scenario {model.name!r} has no retrofits to compare")
        plans = [parse_plan(model, p) for p in plan] if plan else default_plans(model, max_n)
        if not plans:
            raise UsageError("no plan satisfies the retrofits' requirements")
    except TwinError as exc:
        _user_error(exc)
    names = [p.name for p in plans]
    with _experiment(model, "compare", names, out_dir) as (directory, store, _, advance):
        try:
            comparison, batch = run_compare(
                model, plans, store, n_workers, scheduler, advance, precision, max_reps
            )
        except TwinError as exc:
            _user_error(exc)
    if not batch.interrupted and not batch.errors:
        doc = comparison.summary()
        _write(doc, directory / "comparison.json", json_path)
        print_comparison(out, doc)
    _close(directory, model, "compare", names, batch)


@app.command("sweep")
def sweep_command(
    scenario: ScenarioArg,
    param: Annotated[
        list[str],
        typer.Option("--param", help="PATH=V1,V2,... e.g. stations.M2.input_buffer=0,1,2,5"),
    ],
    reps: Reps = None,
    seed: Seed = None,
    horizon: Horizon = None,
    warmup: Warmup = None,
    precision: Precision = None,
    max_reps: MaxReps = 200,
    out_dir: StoreDir = None,
    json_path: JsonPath = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
) -> None:
    """Run a full factorial over scenario parameters and tabulate the headline KPIs."""
    from scenarios.batch import evaluate_models
    from scenarios.sweep import model_at, parse_param, points, table, write_csv
    from twin.report import print_sweep

    try:
        _check_precision(precision, max_reps)
        _writable("--json", json_path)
        _writable("--out", out_dir, folder=True)
        n_workers = _at_least("--workers", workers, 1) or default_workers()
        params = [parse_param(p) for p in param]
        model = _load(scenario, reps, seed, horizon, warmup)
        grid = points(params)
        models = {point.name: model_at(model, point) for point in grid}
    except TwinError as exc:
        _user_error(exc)
    names = list(models)
    with _experiment(model, "sweep", names, out_dir) as (directory, store, _, advance):
        try:
            batch = evaluate_models(
                models,
                model.replications,
                store,
                n_workers,
                scheduler,
                advance,
                precision,
                max_reps,
            )
        except TwinError as exc:
            _user_error(exc)
    if not batch.interrupted and not batch.errors:
        rows = table(model, grid, batch.results)
        doc = {
            "scenario": model.model_dump(mode="json"),
            "seed": model.seed,
            "parameters": {p.path: list(p.values) for p in params},
            "points": rows,
        }
        _write(doc, directory / "sweep.json", json_path)
        write_csv(directory / "sweep.csv", rows)
        print_sweep(out, doc)
    _close(directory, model, "sweep", names, batch)


def _check_precision(precision: float | None, max_reps: int) -> None:
    if precision is not None and not 0 < precision < 1:
        raise UsageError(f"option --precision: must be between 0 and 1, got {precision}")
    _at_least("--max-reps", max_reps, 2)


@app.command("scenarios")
def scenarios_command() -> None:
    """List the bundled scenarios."""
    from rich.table import Table

    from scenarios.catalog import bundled, describe

    table = Table("name", "description", box=None)
    for name, path in bundled().items():
        table.add_row(escape(name), escape(describe(path)))
    out.print(table)


@app.command("validate")
def validate_command(scenario: ScenarioArg) -> None:
    """Check a scenario file and say what it describes."""
    from scenarios.catalog import load_scenario

    try:
        model = load_scenario(scenario)
    except TwinError as exc:
        _user_error(exc)
    kind = "saturated" if model.saturated else "with arrivals"
    out.print(
        f"ok: {model.name!r}: {len(model.stations)} stations, {len(model.products)} products, "
        f"{len(model.retrofits)} retrofits, {kind}, {model.replications} replications",
        highlight=False,
        markup=False,
    )


def main() -> None:
    """Entry point of the ``twin`` console script."""
    app()
