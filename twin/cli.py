"""The ``twin`` command line. The one place that composes engine, models and scenarios.

Start-up matters here (shell completion runs the whole module on every tab): what a command
needs beyond typer and rich is imported inside it, and annotations are not postponed
(``from __future__ import annotations``), since typer would evaluate every command's
annotations from strings, at each invocation. Names imported for type checking only are
quoted.
"""

import json
import math
import os
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from twin import checks
from twin.durations import format_duration
from twin.errors import SimulationError, TwinError, UsageError
from twin.files import check_writable, write_all, write_atomic

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from bridges.agent import EdgeAgent
    from scenarios.batch import Batch
    from scenarios.schema import Scenario

app = typer.Typer(
    help="shopfloor-twin: discrete-event digital twin of smart workshop lines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _stdout_console() -> Console:
    """Standard output at the terminal's width, or ``COLUMNS`` when set.

    Files and pipes get 200 columns (whole tables, unwrapped) unless ``COLUMNS`` says otherwise.
    """
    # No emoji codes: "line.yaml:100:" must not print as a picture.
    console = Console(emoji=False)
    if console.is_terminal or os.environ.get("COLUMNS", "").strip().isdigit():
        return console
    return Console(width=200, emoji=False)


out = _stdout_console()  # made again for each invocation, see _main
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


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"twin {version('shopfloor-twin')}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """shopfloor-twin: discrete-event digital twin of smart workshop lines."""
    global out
    out = _stdout_console()  # the width of this invocation's terminal or COLUMNS


def _user_error(exc: TwinError) -> NoReturn:
    """Print each line of a user error (one per problem) as ``error: ...``; exit 2."""
    for line in str(exc).splitlines() or [""]:
        err.print(Text.assemble(("error:", "red"), " ", line), highlight=False)
    raise typer.Exit(EXIT_USER)


def _writable(option: str, path: Path | None, folder: bool = False) -> None:
    """Refuse an output path that cannot be what the option writes, before simulating."""
    check_writable(option, path, folder)


def _load(
    scenario: str, reps: int | None, seed: int | None, horizon: str | None, warmup: str | None
) -> "Scenario":
    """Load a scenario and apply the command-line overrides (``--warmup auto`` included)."""
    from scenarios.catalog import load_scenario
    from scenarios.overrides import override
    from scenarios.schema import MAX_REPLICATIONS

    auto = warmup is not None and warmup.strip().lower() == "auto"
    model = override(
        load_scenario(scenario),
        {
            "replications": checks.between(
                "--reps", reps, 1, MAX_REPLICATIONS, "replications per model"
            ),
            "seed": checks.between("--seed", seed, 0, checks.MAX_SEED, "a signed 64-bit integer"),
            "horizon": checks.duration("--horizon", horizon),
            "warmup": None if auto else checks.duration("--warmup", warmup),
        },
    )
    if auto:
        from scenarios.warmup import detect

        chosen = detect(model)
        err.print(f"warm-up chosen by MSER-5: {format_duration(chosen)}", highlight=False)
        model = override(model, {"warmup": chosen})
    return model


class _NoProgress:
    """The progress bar where none would show (standard error is not a terminal): the same
    calls, doing nothing, without loading rich's live display."""

    def __enter__(self) -> "_NoProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str, total: float | None = None) -> "TaskID":
        return cast("TaskID", 0)

    def advance(self, task: "TaskID", advance: float = 1) -> None:
        return None

    def update(self, task: "TaskID", **fields: Any) -> None:
        return None


def _progress() -> "Progress | _NoProgress":
    if not err.is_terminal:
        return _NoProgress()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
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
    commands: Annotated[
        Path | None,
        typer.Option(
            "--commands", help="Replay a live run's commands.json on replication 0 (no network)."
        ),
    ] = None,
) -> None:
    """Simulate a scenario and print its KPIs with 95% confidence intervals."""
    from scenarios.experiment import run
    from scenarios.overrides import override
    from scenarios.parts import PARTS_DIR, clear
    from scenarios.retrofits import apply, parse_plan
    from twin.report import print_summary

    try:
        n_workers = checks.workers("--workers", workers)
        model = _load(scenario, reps, seed, horizon, warmup)
        if plan is not None:
            chosen = parse_plan(model, plan)
            model = override(apply(model, chosen), {"name": f"{model.name} [{chosen.name}]"})
        applied = None
        if commands is not None:
            from scenarios.replay import load_commands  # the live run's modules: only here

            applied = load_commands(commands)
        if applied is not None and trace is not None:
            raise UsageError("options --commands and --trace: give one or the other")
        _writable("--json", json_path)
        _writable("--trace", trace)
        _writable("--out", out_dir, folder=True)
    except TwinError as exc:
        _user_error(exc)
    # With --out, each replication writes its parts' history (scenarios with identifiers).
    parts = str(out_dir / PARTS_DIR) if out_dir is not None else None
    if applied is not None:
        if parts is not None:
            clear(parts)  # a replayed run keeps no part history: none from an earlier run
        result = _replayed(override(model, {"replications": 1}), applied)
    else:
        with _progress() as progress:
            task = progress.add_task(
                f"{escape(model.name)}: replications", total=model.replications
            )
            result = run(
                model,
                workers=n_workers,
                trace_path=str(trace) if trace else None,
                on_done=lambda *_: progress.advance(task),
                record=out_dir is not None,
                parts_dir=parts,
            )
    doc = result.summary()
    print_summary(out, doc)
    writers = {str(json_path): partial(result.write_json, json_path)} if json_path else {}
    if out_dir is not None:
        writers[str(out_dir)] = partial(result.write_dir, out_dir)
    failed = write_all(writers)
    for problem in failed:
        err.print(f"error: could not write the results: {problem}", highlight=False, markup=False)
    if failed:
        raise typer.Exit(EXIT_FAILED)
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


def _replayed(model: "Scenario", applied: list[dict[str, Any]]) -> Any:
    """Replication 0 with a live run's commands, as a run result; exit 1 if one fails."""
    from scenarios.experiment import RunResult
    from scenarios.replay import replay
    from twin.runner import Outcome

    try:
        kpis = replay(model, applied)
    except SimulationError as exc:
        err.print(f"error: {exc}", highlight=False, markup=False)
        raise typer.Exit(EXIT_FAILED) from None
    return RunResult(model, Outcome(1, {0: kpis}))


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
def _claimed(
    model: "Scenario", kind: str, names: list[str], out_dir: Path | None
) -> Iterator[tuple[Path, bool]]:
    """The store directory (the same experiment's, if one ran before) and whether it is
    new, held by this command until it ends so that a second command is refused, not run."""
    from scenarios.store import claim, finished, model_key, output_dir, signature

    sig = signature(kind, [model_key(model), *names], model.replications)
    if out_dir is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        directory, resumed = output_dir(Path("runs"), model.name, sig, stamp)
    else:
        directory, resumed = out_dir, (out_dir / "store.sqlite").exists()
    fresh = not directory.exists()
    with ExitStack() as stack:
        try:
            stack.enter_context(claim(directory))
        except OSError as exc:
            _user_error(UsageError(f"option --out: cannot write {directory}: {exc.strerror}"))
        except TwinError as exc:
            _user_error(exc)
        if resumed:
            again = "reusing the finished" if finished(directory) else "resuming the"
            err.print(f"{again} experiment in {directory}", highlight=False, markup=False)
        yield directory, fresh


@contextmanager
def _experiment(
    model: "Scenario", kind: str, names: list[str], directory: Path, fresh: bool
) -> Iterator[tuple[Any, Any]]:
    """The store and a progress callback; a new directory where nothing ran is removed."""
    import shutil
    import sqlite3

    from scenarios.store import Store, mark, model_key, signature

    sig = signature(kind, [model_key(model), *names], model.replications)
    empty = False
    try:
        mark(directory, sig, False, sys.argv)
        with Store(directory / "store.sqlite") as store, _progress() as progress:
            task = progress.add_task(f"{escape(model.name)}: {kind}", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            try:
                yield store, advance
            except BaseException:
                empty = store.count() == 0
                raise
    except (OSError, sqlite3.Error) as exc:
        err.print(
            f"error: could not keep the results in {directory}: {exc}; the replications "
            "stored so far are kept: run the same command again to resume",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(EXIT_FAILED) from None
    finally:
        if fresh and empty:
            # Nothing ran (a bad scheduler, say): leave no half-made run behind.
            shutil.rmtree(directory, ignore_errors=True)


def _close(
    directory: Path,
    model: "Scenario",
    kind: str,
    names: list[str],
    batch: "Batch",
    failed: list[str],
) -> None:
    """Mark the directory, say what ran and what could not be written, and exit non-zero if
    the batch is unfinished or a file is missing."""
    from scenarios.store import Store, mark, model_key, signature

    done = not batch.interrupted and not batch.errors and not failed
    sig = signature(kind, [model_key(model), *names], model.replications)

    def export() -> None:
        with Store(directory / "store.sqlite") as store:
            store.export_csv(directory / "replications.csv")

    failed = failed + write_all(
        {
            str(directory / "replications.csv"): export,
            str(directory / "experiment.json"): lambda: mark(directory, sig, done, sys.argv),
        }
    )
    err.print(
        f"{batch.ran} replications run, {batch.reused} reused from the store; "
        f"results in {directory}",
        highlight=False,
        markup=False,
    )
    for problem in failed:
        err.print(f"error: could not write {problem}", highlight=False, markup=False)
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
    if failed:
        err.print(
            "the replications are stored; run the same command again once the files can be written",
            highlight=False,
        )
        raise typer.Exit(EXIT_FAILED)


def _write(doc: dict[str, Any], *paths: Path | None) -> list[str]:
    """Write ``doc`` as JSON to each path, atomically; say which could not be written."""
    text = json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n"
    return write_all({str(p): partial(write_atomic, p, text) for p in paths if p is not None})


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
        _writable("--out", out_dir or Path("runs"), folder=True)
        checks.between("--max-n", max_n, 0, checks.MAX_MAX_N, "retrofits in one plan")
        n_workers = checks.workers("--workers", workers)
        checks.scheduler("--scheduler", scheduler)
        model = _load(scenario, reps, seed, horizon, warmup)
        if not model.retrofits:
            raise UsageError(f"scenario {model.name!r} has no retrofits to compare")
        plans = [parse_plan(model, p) for p in plan] if plan else default_plans(model, max_n)
        if not plans:
            raise UsageError("no plan satisfies the retrofits' requirements")
    except TwinError as exc:
        _user_error(exc)
    names = [p.name for p in plans]
    with _claimed(model, "compare", names, out_dir) as (directory, fresh):
        with _experiment(model, "compare", names, directory, fresh) as (store, advance):
            try:
                comparison, batch = run_compare(
                    model, plans, store, n_workers, scheduler, advance, precision, max_reps
                )
            except TwinError as exc:
                _user_error(exc)
        failed: list[str] = []
        if not batch.interrupted and not batch.errors:
            doc = comparison.summary()
            print_comparison(out, doc)
            failed = _write(doc, directory / "comparison.json", json_path)
        _close(directory, model, "compare", names, batch, failed)


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
    from scenarios.sweep import document, model_at, parse_param, points, table, write_csv
    from twin.report import print_sweep

    try:
        _check_precision(precision, max_reps)
        _writable("--json", json_path)
        _writable("--out", out_dir or Path("runs"), folder=True)
        n_workers = checks.workers("--workers", workers)
        checks.scheduler("--scheduler", scheduler)
        params = [parse_param(p) for p in param]
        _grid_size(params)
        model = _load(scenario, reps, seed, horizon, warmup)
        grid = points(params)
        models = {point.name: model_at(model, point) for point in grid}
    except TwinError as exc:
        _user_error(exc)
    names = list(models)
    with _claimed(model, "sweep", names, out_dir) as (directory, fresh):
        with _experiment(model, "sweep", names, directory, fresh) as (store, advance):
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
        failed: list[str] = []
        if not batch.interrupted and not batch.errors:
            rows = table(model, grid, batch.results)
            doc = document(model, params, rows)
            print_sweep(out, doc)
            failed = _write(doc, directory / "sweep.json", json_path)
            csv_path = directory / "sweep.csv"
            failed += write_all({str(csv_path): partial(write_csv, csv_path, rows)})
        _close(directory, model, "sweep", names, batch, failed)


def _check_precision(precision: float | None, max_reps: int) -> None:
    # The scenario format's own limit: a narrower CI than that buys needs a longer horizon,
    # not more replications.
    from scenarios.schema import MAX_REPLICATIONS

    checks.precision("--precision", precision)
    checks.between("--max-reps", max_reps, 2, MAX_REPLICATIONS, "replications per model")


def _grid_size(params: list[Any]) -> None:
    """Refuse a sweep grid too large to run before building any of its points."""
    sizes = [len(p.values) for p in params]
    if math.prod(sizes) > checks.MAX_POINTS:
        shape = " x ".join(str(n) for n in sizes)
        raise UsageError(
            f"option --param: the grid has {math.prod(sizes):,} points ({shape}); "
            f"at most {checks.MAX_POINTS:,}: sweep fewer values or fewer parameters"
        )


@app.command("report")
def report_command(
    run_dir: Annotated[
        Path, typer.Argument(metavar="RUN_DIR", help="A directory kept by run/compare/sweep --out.")
    ],
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out", help="The HTML file (default RUN_DIR/report.html); charts beside it."
        ),
    ] = None,
) -> None:
    """Write one self-contained HTML report of a kept run, with its charts as PNG files."""
    from viz.report import write

    try:
        _writable("--out", out_path)
        written = write(run_dir, out_path)
    except TwinError as exc:
        _user_error(exc)
    except OSError as exc:
        err.print(f"error: could not write the report: {exc}", highlight=False, markup=False)
        raise typer.Exit(EXIT_FAILED) from None
    err.print(
        f"report written to {written.html} ({len(written.charts)} charts beside it)",
        highlight=False,
        markup=False,
    )


@app.command("trace")
def trace_command(
    run_dir: Annotated[
        Path, typer.Argument(metavar="RUN_DIR", help="A directory kept by `twin run --out`.")
    ],
    part_id: Annotated[
        str, typer.Argument(metavar="PART_ID", help="A part's id, e.g. 88.999.1/CELL1.000123.")
    ],
    replication: Annotated[
        int | None,
        typer.Option("--replication", help="Only this replication (default: every one)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the events as JSON instead of a table.")
    ] = False,
) -> None:
    """Print the history of one part of a kept run: stations, machines, times, outcomes."""
    from scenarios.parts import read_part
    from twin.partview import print_part, to_json

    try:
        found = read_part(run_dir, part_id, replication)
    except TwinError as exc:
        _user_error(exc)
    where = str(found.run_dir)
    if as_json:
        sys.stdout.write(to_json(found.part_id, found.serial, where, found.events))
    else:
        print_part(out, found.part_id, where, found.events)


@app.command("scenarios")
def scenarios_command() -> None:
    """List the bundled scenarios."""
    from rich.table import Table

    from scenarios.catalog import bundled, describe
    from twin.tables import print_table

    table = Table("name", "description", box=None)
    for name, path in bundled().items():
        table.add_row(escape(name), escape(describe(path)))
    print_table(out, table)


MAX_SAMPLES = 1_000_000  # kpi/ messages in one served run


@app.command("serve")
def serve_command(
    scenario: ScenarioArg,
    plan: Annotated[
        str | None, typer.Option("--plan", help="Serve the line with these retrofits.")
    ] = None,
    seed: Seed = None,
    horizon: Horizon = None,
    speed: Annotated[
        float | None, typer.Option(help="Simulated seconds per wall second (default: fast).")
    ] = None,
    fast: Annotated[bool, typer.Option("--fast", help="As fast as possible (default).")] = False,
    lockstep: Annotated[
        str | None, typer.Option(help="Advance this much simulated time at a time, e.g. 1min.")
    ] = None,
    wait: Annotated[int, typer.Option(help="Hold the clock at 0 until N subscribers.")] = 0,
    agents: Annotated[
        int, typer.Option(help="With --lockstep: hold the clock at 0 until N agents registered.")
    ] = 0,
    agent_timeout: Annotated[
        str, typer.Option(help="With --lockstep: how long an agent may take at a barrier.")
    ] = "10s",
    pub: Annotated[str, typer.Option(help="Stream (XPUB) address.")] = "tcp://127.0.0.1:5556",
    ctl: Annotated[str, typer.Option(help="Control (ROUTER) address.")] = "tcp://127.0.0.1:5557",
    codec: Annotated[str, typer.Option(help="Body encoding: json or msgpack.")] = "json",
    batch: Annotated[
        bool | None,
        typer.Option(
            "--batch/--no-batch",
            help="State changes in batches, on state/*/ (default: only when as fast as possible).",
        ),
    ] = None,
    kpi_every: Annotated[
        str | None,
        typer.Option(
            help="Simulated time between two kpi/ messages "
            "(default: 1min with --speed, else 1/200 of the horizon)."
        ),
    ] = None,
    curve: Annotated[
        Path | None,
        typer.Option(help="Key directory (`twin keys init`): CurveZMQ, listed clients only."),
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Keep the run here.")] = None,
) -> None:
    """Run replication 0 live: stream its changes over ZeroMQ and take commands
    (docs/protocol.md)."""
    from bridges.server import MAX_AGENTS, Settings
    from scenarios.overrides import override
    from scenarios.retrofits import apply, parse_plan

    try:
        if speed is not None and fast:
            raise UsageError("options --speed and --fast: give one, not both")
        if speed is not None and not (0 < speed < float("inf")):
            raise UsageError(f"option --speed: must be a positive number, got {speed}")
        if codec not in ("json", "msgpack"):
            raise UsageError(f"option --codec: json or msgpack, got {codec!r}")
        checks.between("--wait", wait, 0, 1000, "subscribers")
        step = checks.duration("--lockstep", lockstep)
        if step == 0:
            raise UsageError("option --lockstep: must be a positive duration")
        checks.between("--agents", agents, 0, MAX_AGENTS, "agents")
        if agents and step is None:
            raise UsageError("option --agents: only with --lockstep (agents are waited for there)")
        patience = checks.duration("--agent-timeout", agent_timeout)
        if not patience:
            raise UsageError("option --agent-timeout: must be a positive duration")
        sampling = checks.duration("--kpi-every", kpi_every)
        if sampling == 0:
            raise UsageError("option --kpi-every: must be a positive duration")
        _writable("--out", out_dir, folder=True)
        model = _load(scenario, None, seed, horizon, None)
        if sampling and model.horizon / sampling > MAX_SAMPLES:
            raise UsageError(
                f"option --kpi-every: {kpi_every} gives more than {MAX_SAMPLES:,} kpi/ messages "
                f"over the horizon; give at least {model.horizon / MAX_SAMPLES:g} s"
            )
        if plan is not None:
            chosen = parse_plan(model, plan)
            model = override(apply(model, chosen), {"name": f"{model.name} [{chosen.name}]"})
        settings = Settings(pub=pub, ctl=ctl, codec="msgpack" if codec == "msgpack" else "json")
        settings.speed, settings.lockstep, settings.wait = speed, step, wait
        settings.kpi_every, settings.batch = sampling, batch
        settings.agents, settings.agent_timeout, settings.on_late = agents, patience, _late
        settings.curve = curve
        server = _bind(model, settings)
    except TwinError as exc:
        _user_error(exc)
    for name, address in (("--pub", server.pub_address), ("--ctl", server.ctl_address)):
        if curve is None and not _loopback(address):
            err.print(
                f"warning: option {name}: {address} is reachable from other machines and "
                "the bridge sends in the clear",
                highlight=False,
                markup=False,
            )
    err.print(
        f"serving {model.name!r}: stream {server.pub_address}, control {server.ctl_address}",
        highlight=False,
        markup=False,
    )
    try:
        kpis = server.run()
    except KeyboardInterrupt:
        err.print("interrupted: death sent, run stopped", highlight=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    _keep_served(model, kpis, server.applied, out_dir)


def _late(t: float, names: list[str]) -> None:
    err.print(
        f"warning: lock-step: {', '.join(names)} did not say ready within --agent-timeout "
        f"at t = {t:g} s; dropped (an agent may register again)",
        highlight=False,
        markup=False,
    )


def _bind(model: "Scenario", settings: Any) -> Any:
    """The server, its sockets bound; an address in use or malformed is a usage error."""
    import zmq

    from bridges.server import Server

    try:
        return Server(model, settings)
    except zmq.ZMQError as exc:
        raise UsageError(f"option --pub/--ctl: cannot bind: {exc}") from None


def _loopback(address: str) -> bool:
    host = address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


def _keep_served(
    model: "Scenario", kpis: dict[str, Any], applied: list[dict[str, Any]], out_dir: Path | None
) -> None:
    """Print the served run's tables; with --out, keep what `twin run --out` keeps, and the
    commands it applied (commands.json)."""
    from scenarios.experiment import RunResult
    from twin.report import print_summary
    from twin.runner import Outcome

    result = RunResult(model.model_copy(update={"replications": 1}), Outcome(1, {0: kpis}))
    print_summary(out, result.summary())
    if out_dir is not None:
        try:
            result.write_dir(out_dir)
            write_atomic(out_dir / "commands.json", json.dumps(applied, indent=2) + "\n")
        except OSError as exc:
            err.print(f"error: could not write the results: {exc}", highlight=False, markup=False)
            raise typer.Exit(EXIT_FAILED) from None


# Options of the commands that follow a live run.
Connect = Annotated[str, typer.Option(help="The server's stream address.")]
Control = Annotated[
    str | None,
    typer.Option(help="The server's control address (default: the stream's port + 1)."),
]
Until = Annotated[str, typer.Option(help="Give up after this much wall time.")]
Key = Annotated[
    Path | None,
    typer.Option(help="With a --curve server: this client's NAME.key_secret."),
]
ServerKey = Annotated[
    Path | None,
    typer.Option(help="With a --curve server: the server's public certificate (server.key)."),
]

keys_app = typer.Typer(help="CurveZMQ keys for `twin serve --curve` (docs/live.md).")
app.add_typer(keys_app, name="keys")


@keys_app.command("init")
def keys_init_command(
    keydir: Annotated[Path, typer.Argument(help="The key directory to create.")],
) -> None:
    """Write the server's certificate (KEYDIR/server.key, KEYDIR/server.key_secret)."""
    from bridges.keys import init_keys

    try:
        public = init_keys(keydir)
    except TwinError as exc:
        _user_error(exc)
    err.print(
        f"wrote {public} (give it to clients) and its secret {public}_secret (keep it here)",
        highlight=False,
        markup=False,
    )


@keys_app.command("add")
def keys_add_command(
    keydir: Annotated[Path, typer.Argument(help="The key directory (`twin keys init`).")],
    name: Annotated[str, typer.Argument(help="The client's name.")],
    role: Annotated[str, typer.Option(help="viewer, agent or trainer.")] = "viewer",
) -> None:
    """Write a client's certificate with its role (KEYDIR/clients/NAME.key and .key_secret);
    a server started after this lets it in."""
    from bridges.keys import add_client

    try:
        secret = add_client(keydir, name, role)
    except TwinError as exc:
        _user_error(exc)
    err.print(
        f"wrote {secret}: give it to {name!r} ({role}) with {keydir / 'server.key'}",
        highlight=False,
        markup=False,
    )


agent_app = typer.Typer(help="Example edge agents for a live run (`twin serve`).")
app.add_typer(agent_app, name="agent")


@agent_app.command("maintenance")
def maintenance_agent_command(
    connect: Connect = "tcp://127.0.0.1:5556",
    control: Control = None,
    every: Annotated[str, typer.Option(help="Maintain after this much work, e.g. 8h.")] = "8h",
    duration: Annotated[str, typer.Option(help="How long a maintenance lasts.")] = "30min",
    until: Until = "1d",
    key: Key = None,
    server_key: ServerKey = None,
) -> None:
    """Maintain each machine once it has worked EVERY since it was last renewed."""
    from bridges.agent import MaintenanceAgent

    try:
        work = checks.duration("--every", every)
        stop = checks.duration("--duration", duration)
        patience = checks.duration("--until", until)
        if not work or not stop or not patience:
            raise UsageError("options --every, --duration and --until must be positive")
        client = _client(connect, control, key, server_key)
    except TwinError as exc:
        _user_error(exc)
    with client:
        _run_maintainer(MaintenanceAgent(client, every=work, duration=stop), patience)


def _run_maintainer(agent: "EdgeAgent", patience: float) -> None:
    """Run a maintaining agent until the run ends (or ``patience``), then say how many of
    its maintenances were applied and refused."""
    with _following():
        agent.run(until=patience)
    applied = sum(1 for r in agent.replies if r.get("ok"))
    err.print(
        f"{applied} maintenances applied, {len(agent.replies) - applied} refused",
        highlight=False,
    )


@agent_app.command("condition")
def condition_agent_command(
    above: Annotated[float, typer.Option(help="Ask for maintenance on a reading above this.")],
    connect: Connect = "tcp://127.0.0.1:5556",
    control: Control = None,
    sensor: Annotated[
        str | None, typer.Option(help="Act on this sensor's readings only (default: any).")
    ] = None,
    duration: Annotated[str, typer.Option(help="How long a maintenance lasts.")] = "45min",
    until: Until = "1d",
    key: Key = None,
    server_key: ServerKey = None,
) -> None:
    """Maintain a machine on the first sensor reading above ABOVE in its life (for
    machines whose scenario says `maintenance: {policy: external}`)."""
    from bridges.agent import ConditionAgent

    try:
        if not math.isfinite(above):
            raise UsageError(f"option --above must be a finite number, not {above}")
        stop = checks.duration("--duration", duration)
        patience = checks.duration("--until", until)
        if not stop or not patience:
            raise UsageError("options --duration and --until must be positive")
        client = _client(connect, control, key, server_key)
    except TwinError as exc:
        _user_error(exc)
    with client:
        _run_maintainer(ConditionAgent(client, above=above, duration=stop, sensor=sensor), patience)


@agent_app.command("trainer")
def trainer_agent_command(
    script: Annotated[Path, typer.Option(help="The fault script (YAML), see docs/cli.md.")],
    connect: Connect = "tcp://127.0.0.1:5556",
    control: Control = None,
    until: Until = "1d",
    key: Key = None,
    server_key: ServerKey = None,
) -> None:
    """Inject the faults of a script into a live run, each at its simulated time."""
    from bridges.agent import Action, Scheduled, TrainerAgent
    from scenarios.script import load_script

    try:
        plan = load_script(script)
        patience = checks.duration("--until", until) or 0.0
        client = _client(connect, control, key, server_key)
    except TwinError as exc:
        _user_error(exc)
    steps = [
        Scheduled(at, Action(c["action"], c["target"], dict(c.get("params") or {})))
        for at, c in plan
    ]
    with client:
        agent = TrainerAgent(client, steps)
        with _following():
            agent.run(until=patience)
    for reply in agent.replies:
        if not reply.get("ok"):
            reason = "; ".join(reply.get("reasons", []))
            err.print(f"refused: {reply.get('code')}: {reason}", highlight=False, markup=False)
    applied = sum(1 for r in agent.replies if r.get("ok"))
    err.print(f"{applied} of {len(steps)} scripted actions applied", highlight=False)


@contextmanager
def _following() -> Iterator[None]:
    """A server that does not answer is exit 1, Ctrl-C exit 130, both without a traceback."""
    from bridges.client import SyncError

    try:
        yield
    except SyncError as exc:
        err.print(f"error: {exc}", highlight=False, markup=False)
        raise typer.Exit(EXIT_FAILED) from None
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_INTERRUPTED) from None


def _client(connect: str, control: str | None, key: Path | None, server_key: Path | None) -> Any:
    """A client of a live server at these addresses, with keys when they are given."""
    from bridges.client import TwinClient
    from bridges.keys import client_keys

    if (key is None) != (server_key is None):
        raise UsageError("options --key and --server-key: give both (for a --curve server)")
    keys = None if key is None or server_key is None else client_keys(key, server_key)
    return TwinClient(connect, control or _next_port(connect), curve=keys)


def _next_port(address: str) -> str:
    """``tcp://host:5556`` -> ``tcp://host:5557``: the control socket beside the stream."""
    head, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(f"option --connect: expected tcp://HOST:PORT, got {address!r}")
    return f"{head}:{int(port) + 1}"


@app.command("watch")
def watch_command(
    connect: Connect = "tcp://127.0.0.1:5556",
    control: Control = None,
    until: Until = "1d",
    key: Key = None,
    server_key: ServerKey = None,
) -> None:
    """A live dashboard of a served line: machines coloured by state, buffers, latest
    events (joins late from a snapshot). Without a terminal it prints the last view."""
    from rich.live import Live

    try:
        patience = checks.duration("--until", until) or 0.0
        client = _client(connect, control, key, server_key)
    except TwinError as exc:
        _user_error(exc)
    events: list[str] = []
    with client:
        client.listeners.append(lambda c: _note_event(events, c))
        with _following():
            client.sync()
            end = time.monotonic() + patience
            with Live(_dashboard(client, events), console=out, auto_refresh=False) as live:
                while not client.ended and time.monotonic() < end:
                    if client.poll(0.25):
                        live.update(_dashboard(client, events), refresh=True)
                live.update(_dashboard(client, events), refresh=True)


def _note_event(events: list[str], change: Any) -> None:
    # Part flow and levels are in the tables above; these are the happenings worth a line.
    flow = ("state", "level", "create", "arrive", "start", "finish", "scrap", "move", "reading")
    if change.kind not in flow:
        events.append(f"{change.time:10.0f} s  {change.scope} {change.kind} {change.value}")
        del events[:-8]


def _dashboard(client: Any, events: list[str]) -> Any:
    """The view: one row per machine (its state in its colour), buffers, recent events."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from twin.colours import colour

    levels = client.mirror.levels
    machines = Table("machine", "state", title=f"t = {client.mirror.time:,.0f} s", box=None)
    for (scope, kind), value in sorted(levels.items()):
        if kind == "state":
            machines.add_row(Text(scope), Text(f"■ {value}", style=colour(value)))
    buffers = Table("buffer", "parts", box=None)
    # Every buffer the birth names, empty ones too (a mirror holds the ones with parts).
    entities = (client.birth or {}).get("entities", [])
    named = {e["scope"] for e in entities if e.get("kind") == "buffer"}
    for scope in sorted(named | {scope for scope, kind in levels if kind == "level"}):
        buffers.add_row(Text(scope), str(levels.get((scope, "level"), 0)))
    summary = Text(f"{len(client.mirror.parts)} parts in the line")
    if client.kpis:
        k = client.kpis
        rate = k.get("throughput_per_hour")
        shown = "–" if rate is None else f"{rate:.1f}"
        summary.append(
            f"; {k.get('good', 0):,.0f} good and {k.get('scrapped', 0):,.0f} scrapped so far; "
            f"throughput {shown} good parts/h (at t = {k.get('t', 0):,.0f} s)"
        )
    recent = Text("\n".join(events) or "no events yet")
    return Group(machines, buffers, summary, recent)


# -- pictures and movies (docs/visual.md) ---------------------------------------------------

Plan = Annotated[
    str | None, typer.Option("--plan", help="Show the line with these retrofits (a plan).")
]


def _planned(model: "Scenario", plan: str | None) -> "Scenario":
    from scenarios.overrides import override
    from scenarios.retrofits import apply, parse_plan

    if plan is None:
        return model
    chosen = parse_plan(model, plan)
    return override(apply(model, chosen), {"name": f"{model.name} [{chosen.name}]"})


def _moment(option: str, value: str, model: "Scenario") -> float:
    """A simulated time within the run's horizon."""
    seconds = checks.duration(option, value) or 0.0
    if seconds > model.horizon:
        raise UsageError(
            f"option {option}: {value} is after the end of the run "
            f"({format_duration(model.horizon)}); give a longer --horizon"
        )
    return seconds


def _rendering() -> None:
    """Exit 1 with the reason when nothing can render offscreen here."""
    from viz.offscreen import RenderingUnavailable, check

    try:
        check()
    except RenderingUnavailable as exc:
        err.print(f"error: {exc}", highlight=False, markup=False)
        raise typer.Exit(EXIT_FAILED) from None


@app.command("render")
def render_command(
    scenario: ScenarioArg,
    at: Annotated[str, typer.Option("--at", help="The simulated moment to show, e.g. 2h.")],
    out_path: Annotated[Path, typer.Option("--out", help="The picture to write (.png).")],
    plan: Plan = None,
    seed: Seed = None,
    horizon: Horizon = None,
) -> None:
    """Draw the line in 3D at one moment of replication 0 (a PNG picture)."""
    from scenarios.layout import layout
    from scenarios.playback import Simulation
    from viz.movie import write_png
    from viz.plant import plant
    from viz.play import Playback
    from viz.scene import Scene

    try:
        model = _planned(_load(scenario, None, seed, horizon, None), plan)
        moment = _moment("--at", at, model)
        if out_path.suffix.lower() != ".png":
            raise UsageError(f"option --out: {out_path.name}: a picture is .png")
        _writable("--out", out_path)
    except TwinError as exc:
        _user_error(exc)
    _rendering()
    floor = layout(model)
    means = plant(model, floor)
    play = Playback(floor, plant=means)
    play.apply(Simulation(model).advance(moment))
    scene = Scene(floor, model.name, plant=means)
    image = scene.image(play.frame(moment))
    scene.close()
    write_png(out_path, image)
    err.print(f"wrote {out_path} (t = {format_duration(moment)})", highlight=False, markup=False)


@app.command("animate")
def animate_command(
    scenario: ScenarioArg,
    out_path: Annotated[Path, typer.Option("--out", help="The movie to write (.mp4 or .gif).")],
    start: Annotated[str, typer.Option("--from", help="Simulated time of the first frame.")] = "0",
    end: Annotated[
        str | None, typer.Option("--to", help="Simulated time of the end (default: the horizon).")
    ] = None,
    fps: Annotated[float, typer.Option(help="Frames per movie second.")] = 10.0,
    speed: Annotated[
        float | None,
        typer.Option(help="Simulated seconds per movie second (default: a 20-second movie)."),
    ] = None,
    trace: Annotated[
        Path | None, typer.Option(help="Replay this Parquet trace of `twin run --trace`.")
    ] = None,
    compare: Annotated[
        str | None,
        typer.Option("--compare", help="Show this plan beside the baseline, e.g. platform+smed."),
    ] = None,
    plan: Plan = None,
    seed: Seed = None,
    horizon: Horizon = None,
) -> None:
    """A movie of replication 0, replayed from its changes; with --compare, the baseline and
    a plan side by side on the same random numbers."""
    from scenarios.layout import layout
    from scenarios.playback import Simulation
    from viz.movie import MovieWriter, TraceSource, check_movie_path, frames, moments, transit
    from viz.plant import plant

    try:
        model = _planned(_load(scenario, None, seed, horizon, None), plan)
        first = _moment("--from", start, model)
        last = model.horizon if end is None else _moment("--to", end, model)
        if last <= first:
            raise UsageError(f"options --from and --to: {end} is not after {start}")
        if not 0 < fps <= 60:
            raise UsageError(f"option --fps: between 0 and 60 frames per second, got {fps:g}")
        if speed is not None and not 0 < speed < float("inf"):
            raise UsageError(f"option --speed: must be a positive number, got {speed:g}")
        pace = speed if speed is not None else (last - first) / 20.0
        times = moments(first, last, fps, pace)
        if trace is not None and compare is not None:
            raise UsageError("options --trace and --compare: give one or the other")
        if plan is not None and compare is not None:
            raise UsageError("options --plan and --compare: give one or the other")
        check_movie_path("--out", out_path)
        _writable("--out", out_path)
        lines: list[Any] = []
        floor = layout(model)
        if trace is not None:
            lines.append((TraceSource(trace), floor, model.name, plant(model, floor)))
        else:
            title = "baseline" if compare else model.name
            lines.append((Simulation(model), floor, title, plant(model, floor)))
        if compare is not None:
            other = _planned(model, compare)
            beside = layout(other)
            lines.append((Simulation(other), beside, compare, plant(other, beside)))
    except TwinError as exc:
        _user_error(exc)
    _rendering()
    with MovieWriter(out_path, fps) as movie, _progress() as progress:
        task = progress.add_task("frames", total=len(times))
        for image in frames(lines, times, transit(fps, pace)):
            movie.append(image)
            progress.advance(task)
    err.print(
        f"wrote {out_path}: {movie.count} frames, {movie.count / fps:.1f} s "
        f"({format_duration(first)} to {format_duration(last)} at {pace:g}x)",
        highlight=False,
        markup=False,
    )


@app.command("view")
def view_command(
    connect: Connect = "tcp://127.0.0.1:5556",
    control: Control = None,
    until: Until = "1d",
    scenario: Annotated[
        str | None,
        typer.Option("--scenario", help="The served scenario, for its floor plan (layout:)."),
    ] = None,
    out_path: Annotated[
        Path | None,
        typer.Option("--out", help="Write a movie (.mp4, .gif) or a folder of PNG frames."),
    ] = None,
    fps: Annotated[float, typer.Option(help="Pictures per wall second.")] = 2.0,
    key: Key = None,
    server_key: ServerKey = None,
) -> None:
    """A live 3D view of a served line (joins late from a snapshot). With no display, or
    with --out, it writes the pictures instead of showing them."""
    from scenarios.layout import layout
    from viz.live import follow, mirrored_layout
    from viz.movie import FORMATS, MovieWriter, write_png
    from viz.plant import plant
    from viz.scene import Scene

    try:
        patience = checks.duration("--until", until) or 0.0
        if not 0 < fps <= 30:
            raise UsageError(f"option --fps: between 0 and 30 pictures per second, got {fps:g}")
        model = None if scenario is None else _load(scenario, None, None, None, None)
        window = out_path is None and bool(os.environ.get("DISPLAY"))
        if out_path is None and not window:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            out_path = Path("runs") / f"view-{stamp}"
        movie = out_path is not None and out_path.suffix.lower() in FORMATS
        _writable("--out", out_path, folder=not movie)
    except TwinError as exc:
        _user_error(exc)
    if not window:
        _rendering()
    written = 0
    waiting = min(10.0, max(patience, 0.5))  # for the server's first message and snapshot
    with ExitStack() as stack:
        # With the scenario at hand the scene is built before connecting: a server that
        # waits for its viewer starts its clock at once.
        if model is not None:
            floor = layout(model)
            scene = Scene(floor, model.name, window=window, plant=plant(model, floor))
            stack.callback(scene.close)
        try:
            client = stack.enter_context(_client(connect, control, key, server_key))
        except TwinError as exc:
            _user_error(exc)
        client.timeout = waiting
        stack.enter_context(_following())
        client.sync()
        if model is None:
            name = str((client.birth or {}).get("scenario", ""))
            scene = Scene(mirrored_layout(client.mirror.levels), name, window=window)
            stack.callback(scene.close)
        writer = stack.enter_context(MovieWriter(out_path, fps)) if movie and out_path else None
        if window:
            scene.plotter.show(interactive_update=True, auto_close=False)
        elif not movie and out_path is not None:
            out_path.mkdir(parents=True, exist_ok=True)
        for _, image in follow(client, scene, until=patience, fps=fps):
            if window:
                scene.plotter.update()
            elif writer is not None:
                writer.append(image)
            elif out_path is not None:
                write_png(out_path / f"frame-{written:05d}.png", image)
            written += 1
    if not window:
        err.print(f"wrote {written} pictures to {out_path}", highlight=False, markup=False)


@app.command("schema")
def schema_command(
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write the schema to this file.")
    ] = None,
) -> None:
    """Print the JSON Schema of scenario files (for editors: see docs/scenario-format.md)."""
    from scenarios.jsonschema import schema_text

    try:
        _writable("--out", out_path)
    except TwinError as exc:
        _user_error(exc)
    if out_path is None:
        sys.stdout.write(schema_text())
        return
    write_atomic(out_path, schema_text())
    err.print(f"wrote {out_path}", highlight=False, markup=False)


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
        soft_wrap=True,  # one line, whatever the width: scripts grep it
    )


def main() -> None:
    """Entry point of the ``twin`` console script."""
    app()
