"""Small lines shared by the tests, as YAML text, and the way the tests call the command line.

Each builder takes what a test depends on (seed, horizon, replications, the retrofit
catalog) as arguments, so the test still shows what it simulates; what stays fixed is in
the builder's docstring. A catalog is given as the YAML items under ``retrofits:``.
"""

from __future__ import annotations

from typer.testing import CliRunner, Result

from twin.cli import app


def invoke(*args: str) -> Result:
    """`twin ARGS` run in this process, its output captured."""
    return CliRunner().invoke(app, list(args))


def _header(
    name: str, seed: int | None, horizon: int | str, warmup: int | str | None, replications: int
) -> str:
    seed_line = "" if seed is None else f"seed: {seed}\n"
    warmup_line = "" if warmup is None else f"warmup: {warmup}\n"
    return (
        f"name: {name}\n{seed_line}horizon: {horizon}\n{warmup_line}replications: {replications}\n"
    )


def _retrofits(catalog: str) -> str:
    return f"retrofits:\n{catalog}" if catalog else ""


def two_station(
    *,
    name: str,
    seed: int,
    horizon: int | str,
    replications: int,
    warmup: int | str | None = None,
    retrofits: str = "",
) -> str:
    """Two equal exponential machines (mean 1 s), M1 then M2, with no place between them.

    A saturated line of known throughput: (B + 2)/(B + 3) parts/s with B places before M2,
    so 2/3 as it stands and 7/8 with a buffer of 5.
    """
    stations = (
        "stations:\n"
        "  - id: M1\n"
        "    input_buffer: 0\n"
        "    process_time: {dist: exponential, mean: 1}\n"
        "  - id: M2\n"
        "    input_buffer: 0\n"
        "    process_time: {dist: exponential, mean: 1}\n"
    )
    return _header(name, seed, horizon, warmup, replications) + stations + _retrofits(retrofits)


def priced_pair(
    *,
    name: str,
    seed: int,
    horizon: int | str,
    replications: int,
    margin: int,
    retrofits: str,
) -> str:
    """An unreliable M1 (exponential 60 s, failing about hourly for about 10 min) feeding
    M2 (exponential 55 s) with no place between them, each good part earning ``margin``."""
    body = (
        f"economics: {{margin_per_good_part: {margin}}}\n"
        "stations:\n"
        "  - id: M1\n"
        "    input_buffer: 0\n"
        "    process_time: {dist: exponential, mean: 60s}\n"
        "    failures: {mtbf: {dist: exponential, mean: 1h},"
        " mttr: {dist: exponential, mean: 10min}}\n"
        "  - id: M2\n"
        "    input_buffer: 0\n"
        "    process_time: {dist: exponential, mean: 55s}\n"
    )
    return _header(name, seed, horizon, None, replications) + body + _retrofits(retrofits)


def machines(
    *ids: str,
    name: str,
    horizon: int | str,
    replications: int,
    seed: int | None = None,
) -> str:
    """Exponential machines (mean 1 s) in series, buffers left to their default, and one
    retrofit, ``bigger``, that gives the last machine a second server."""
    last = ids[-1]
    body = f"retrofits:\n  - {{id: bigger, changes: {{stations.{last}.servers: 2}}}}\nstations:\n"
    for sid in ids:
        body += f"  - id: {sid}\n    process_time: {{dist: exponential, mean: 1}}\n"
    return _header(name, seed, horizon, None, replications) + body


def one_machine(
    *, name: str, horizon: int | str, replications: int, seed: int | None = None
) -> str:
    """One exponential machine ``M`` (mean 1 s); the retrofit ``bigger`` gives it a second
    server. The smallest line the commands accept, for tests of options and files."""
    return machines("M", name=name, horizon=horizon, replications=replications, seed=seed)
