"""The ``twin`` command line. The one place that composes engine, models and scenarios."""

from __future__ import annotations

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
    out = Console(width=120)  # files and pipes get the whole table, unwrapped
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
            "seed": seed,
            "horizon": _duration("--horizon", horizon),
            "warmup": _duration("--warmup", warmup),
        }
        if seed is not None and seed < 0:
            raise UsageError(f"option --seed: must not be negative, got {seed}")
        n_workers = _positive("--workers", workers) or default_workers()
        model = override(load_scenario(scenario), changes)
    except TwinError as exc:
        _user_error(exc)

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    with progress:
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
