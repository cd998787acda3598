"""The ``twin`` command line. The one place that composes engine, models and scenarios."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from twin.durations import parse_duration
from twin.errors import TwinError, UsageError
from twin.runner import default_workers

app = typer.Typer(
    help="shopfloor-twin: discrete-event digital twin of smart workshop lines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
if not out.is_terminal:
    out = Console(width=200)  # files and pipes get the whole table, unwrapped
err = Console(stderr=True, soft_wrap=True)

EXIT_USER = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


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


def _nonnegative(option: str, value: int | None) -> int | None:
    if value is not None and value < 0:
        raise UsageError(f"option {option}: must not be negative, got {value}")
    return value


def _positive(option: str, value: int | None) -> int | None:
    if value is not None and value < 1:
        raise UsageError(f"option {option}: must be at least 1, got {value}")
    return value


@app.command("run")
def run_command(
    scenario: Annotated[str, typer.Argument(help="Scenario file, or a bundled name (`demo`).")],
    reps: Annotated[int | None, typer.Option("--reps", help="Replications.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed.")] = None,
    horizon: Annotated[str | None, typer.Option(help="Simulated time per replication.")] = None,
    warmup: Annotated[str | None, typer.Option(help="Warm-up discarded from statistics.")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results JSON.")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Keep the run here.")] = None,
    trace: Annotated[
        Path | None, typer.Option(help="Parquet trace of replication 0's state changes.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Parallel processes (default: all cores).")
    ] = None,
) -> None:
    """Simulate a scenario and print its KPIs with 95% confidence intervals."""
    from scenarios.catalog import load_scenario
    from scenarios.experiment import run
    from scenarios.overrides import override
    from twin.report import print_summary

    try:
        changes: dict[str, Any] = {
            "replications": _positive("--reps", reps),
            "seed": _nonnegative("--seed", seed),
            "horizon": _duration("--horizon", horizon),
            "warmup": _duration("--warmup", warmup),
        }
        n_workers = _positive("--workers", workers) or default_workers()
        model = override(load_scenario(scenario), changes)
    except TwinError as exc:
        _user_error(exc)

    with _progress("run") as progress:
        task = progress.add_task(f"{model.name}: replications", total=model.replications)
        result = run(
            model,
            workers=n_workers,
            trace_path=str(trace) if trace else None,
            on_done=lambda *_: progress.advance(task),
        )
    if json_path is not None:
        result.write_json(json_path)
    if out_dir is not None:
        result.write_dir(out_dir)
    print_summary(out, result.summary())
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


def _progress(label: str) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


@app.command("compare")
def compare_command(
    scenario: Annotated[
        str, typer.Argument(help="Scenario file with retrofits, or a bundled name.")
    ],
    plan: Annotated[
        list[str] | None,
        typer.Option("--plan", help="A plan such as platform+predictive_maintenance (repeatable)."),
    ] = None,
    max_n: Annotated[
        int | None,
        typer.Option("--max-n", help="Default plans: at most K retrofits besides the core."),
    ] = None,
    reps: Annotated[int | None, typer.Option("--reps", help="Replications per plan.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed.")] = None,
    horizon: Annotated[str | None, typer.Option(help="Simulated time per replication.")] = None,
    warmup: Annotated[str | None, typer.Option(help="Warm-up discarded from statistics.")] = None,
    precision: Annotated[
        float | None,
        typer.Option(
            help="Add replications until each headline CI half-width is within this "
            "fraction of its mean."
        ),
    ] = None,
    max_reps: Annotated[int, typer.Option("--max-reps", help="Cap for --precision.")] = 200,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Store directory (default runs/<scenario>-<time>).")
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the comparison JSON here.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Local processes (default: all cores).")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address, e.g. tcp://127.0.0.1:8786.")
    ] = None,
) -> None:
    """Compare the baseline with "1+N" upgrade plans: gains, money, ranking, attribution."""
    from datetime import datetime

    from scenarios.catalog import load_scenario
    from scenarios.compare import run_compare
    from scenarios.overrides import override
    from scenarios.retrofits import default_plans, parse_plan
    from scenarios.store import Store, mark, model_key, output_dir, signature
    from twin.report import print_comparison

    try:
        if precision is not None and not 0 < precision < 1:
            raise UsageError(f"option --precision: must be between 0 and 1, got {precision}")
        if max_n is not None and max_n < 0:
            raise UsageError(f"option --max-n: must not be negative, got {max_n}")
        _positive("--max-reps", max_reps)
        n_workers = _positive("--workers", workers) or default_workers()
        model = override(
            load_scenario(scenario),
            {
                "replications": _positive("--reps", reps),
                "seed": _nonnegative("--seed", seed),
                "horizon": _duration("--horizon", horizon),
                "warmup": _duration("--warmup", warmup),
            },
        )
        if not model.retrofits:
            raise UsageError(f"scenario {model.name!r} has no retrofits to compare")
        plans = [parse_plan(model, p) for p in plan] if plan else default_plans(model, max_n)
        if not plans:
            raise UsageError("no plan satisfies the retrofits' requirements")
    except TwinError as exc:
        _user_error(exc)

    sig = signature("compare", [model_key(model), *(p.name for p in plans)], model.replications)
    if out_dir is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        directory, resumed = output_dir(Path("runs"), model.name, sig, stamp)
    else:
        directory, resumed = out_dir, (out_dir / "store.sqlite").exists()
    if resumed:
        err.print(f"resuming the experiment in {directory}", highlight=False)
    mark(directory, sig, False, sys.argv)
    with Store(directory / "store.sqlite") as store, _progress("compare") as progress:
        task = progress.add_task(f"{model.name}: {len(plans)} plans + baseline", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            comparison, batch = run_compare(
                model, plans, store, n_workers, scheduler, advance, precision, max_reps
            )
        except TwinError as exc:
            _user_error(exc)
    done = not batch.interrupted and not batch.errors
    doc = comparison.summary() if done else None
    if doc is not None:
        text = json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n"
        (directory / "comparison.json").write_text(text, encoding="utf-8")
        if json_path is not None:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(text, encoding="utf-8")
        print_comparison(out, doc)
    mark(directory, sig, done, sys.argv)
    err.print(
        f"{batch.ran} replications run, {batch.reused} reused from the store; "
        f"results in {directory}",
        highlight=False,
    )
    if batch.interrupted:
        err.print(
            "interrupted: finished replications are stored; run the same command again to resume"
        )
        raise typer.Exit(EXIT_INTERRUPTED)
    if batch.errors:
        for where, message in sorted(batch.errors.items()):
            err.print(f"replication {where} failed: {message}", highlight=False, markup=False)
        raise typer.Exit(EXIT_FAILED)


@app.command("scenarios")
def scenarios_command() -> None:
    """List the bundled scenarios."""
    from rich.table import Table

    from scenarios.catalog import bundled, describe

    table = Table("name", "description", box=None)
    for name, path in bundled().items():
        table.add_row(name, describe(path))
    out.print(table)


@app.command("validate")
def validate_command(
    scenario: Annotated[str, typer.Argument(help="Scenario file, or a bundled name.")],
) -> None:
    """Check a scenario file and say what it describes."""
    from scenarios.catalog import load_scenario

    try:
        model = load_scenario(scenario)
    except TwinError as exc:
        _user_error(exc)
    kind = "saturated" if model.saturated else "with arrivals"
    out.print(
        f"ok: {model.name!r}: {len(model.stations)} stations, {len(model.products)} products, "
        f"{kind}, {model.replications} replications",
        highlight=False,
    )


def main() -> None:
    """Entry point of the ``twin`` console script."""
    try:
        app()
    except UsageError as exc:  # pragma: no cover - raised before typer handles it
        err.print(f"error: {exc}", highlight=False)
        sys.exit(EXIT_USER)
