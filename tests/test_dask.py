"""Replications on a real Dask cluster (127.0.0.1): same results as local, clear errors."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from typer.testing import CliRunner

from scenarios.compare import run_compare
from scenarios.loader import loads
from scenarios.retrofits import default_plans
from scenarios.store import Store
from twin.cli import app
from twin.errors import UsageError
from twin.runner import run_tasks

distributed = pytest.importorskip("distributed")
T = TypeVar("T")

# The scheduler's diagnostics server moves to a free port when another test run holds 8787.
pytestmark = pytest.mark.filterwarnings("ignore:Port .* is already in use:UserWarning")

LINE = """\
name: dask line
seed: 21
horizon: 2h
replications: 4
economics: {margin_per_good_part: 10}
stations:
  - id: M1
    input_buffer: 0
    process_time: {dist: exponential, mean: 30s}
    failures: {mtbf: {dist: exponential, mean: 1h}, mttr: {dist: exponential, mean: 5min}}
  - id: M2
    input_buffer: 1
    process_time: {dist: gamma, mean: 28s, cv: 0.7}
retrofits:
  - id: repairs
    core: true
    changes: {stations.M1.failures.mttr: {scale: 0.5}}
  - id: buffer
    changes: {stations.M2.input_buffer: 4}
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two worker processes, one thread each, on the loopback interface."""
    local = distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    try:
        yield local
    finally:
        local.close(timeout=30)


def free_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def within(seconds: float, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, failing the test if it has not returned after ``seconds``."""
    box: dict[str, Any] = {}

    def call() -> None:
        try:
            box["result"] = fn(*args)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"{getattr(fn, '__name__', fn)} did not return within {seconds} s")
    if "error" in box:
        raise box["error"]
    return box["result"]  # type: ignore[no-any-return]


def compare_doc(path: Path, scheduler: str | None) -> dict[str, Any]:
    s = loads(LINE)
    with Store(path) as store:
        comparison, batch = run_compare(s, default_plans(s), store, 1, scheduler)
    assert not batch.errors and not batch.interrupted
    return json.loads(json.dumps(comparison.summary(), sort_keys=True))


def test_compare_on_a_cluster_equals_local(cluster: Any, tmp_path: Path) -> None:
    """A compare run on Dask workers gives the same document, to the bit, as one run locally."""
    local = compare_doc(tmp_path / "local.sqlite", None)
    remote = within(120, compare_doc, tmp_path / "dask.sqlite", cluster.scheduler_address)
    assert remote == local
    assert remote["plans"]["repairs+buffer"]["replications"] == 4


def test_tasks_run_on_the_cluster_workers(cluster: Any) -> None:
    """run_tasks with a scheduler runs the tasks in the worker processes, results by index."""
    address = cluster.scheduler_address
    ordered = within(60, run_tasks, abs, [(i, (-i,)) for i in range(8)], 1, None, address)
    where = within(60, run_tasks, os.getpid, [(i, ()) for i in range(4)], 1, None, address)
    assert ordered.results == {i: i for i in range(8)}
    assert not ordered.errors and not ordered.interrupted
    assert set(where.results) == set(range(4))
    assert os.getpid() not in set(where.results.values())


def test_unreachable_scheduler_is_a_usage_error() -> None:
    """A scheduler address where nothing listens raises UsageError naming the option."""
    address = f"tcp://127.0.0.1:{free_port()}"
    start = time.monotonic()
    with pytest.raises(UsageError) as info:
        within(40, run_tasks, abs, [(0, (-1,))], 1, None, address)
    assert time.monotonic() - start < 30  # the client's connection timeout is 10 s
    assert "--scheduler" in str(info.value)
    assert address in str(info.value)


def test_compare_command_with_unreachable_scheduler_exits_2(
    scenario_file: Callable[..., Path], tmp_path: Path
) -> None:
    """`twin compare --scheduler` to nowhere exits 2 naming the option, no traceback."""
    path = scenario_file(LINE, "line.yaml")
    address = f"tcp://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(
        app, ["compare", str(path), "--scheduler", address, "--out", str(tmp_path / "run")]
    )
    assert result.exit_code == 2, result.output
    assert "--scheduler" in result.stderr
    assert "Traceback" not in result.output


def test_sweep_command_with_unreachable_scheduler_exits_2(
    scenario_file: Callable[..., Path], tmp_path: Path
) -> None:
    """`twin sweep --scheduler` to nowhere exits 2 naming the option, no traceback."""
    path = scenario_file(LINE, "line.yaml")
    address = f"tcp://127.0.0.1:{free_port()}"
    args = ["sweep", str(path), "--param", "stations.M2.input_buffer=1,2"]
    result = CliRunner().invoke(
        app, [*args, "--scheduler", address, "--out", str(tmp_path / "run")]
    )
    assert result.exit_code == 2, result.output
    assert "--scheduler" in result.stderr
    assert "Traceback" not in result.output


def test_malformed_scheduler_address_is_a_usage_error() -> None:
    """A scheduler address that is not an address raises UsageError."""
    with pytest.raises(UsageError, match="--scheduler"):
        run_tasks(abs, [(0, (-1,))], scheduler="not-an-address")


@pytest.mark.parametrize("command", ["compare", "sweep"])
def test_command_with_malformed_scheduler_exits_2(
    command: str, scenario_file: Callable[..., Path], tmp_path: Path
) -> None:
    """`--scheduler not-an-address` exits 2, naming the option, no traceback."""
    path = scenario_file(LINE, "line.yaml")
    args = [command, str(path), "--scheduler", "not-an-address", "--out", str(tmp_path / "run")]
    if command == "sweep":
        args += ["--param", "stations.M2.input_buffer=1,2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "--scheduler" in result.stderr
    assert "Traceback" not in result.output
