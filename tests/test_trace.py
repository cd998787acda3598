"""The Parquet trace: one row per state change, written in batches, read back whole."""

from __future__ import annotations

import itertools
import json
import math
import tracemalloc
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import simpy
from typer.testing import CliRunner

from models.station import STATES
from scenarios.builder import build
from scenarios.experiment import run_replication
from scenarios.schema import Scenario
from twin.changes import Change, Changes
from twin.cli import app
from twin.trace import TraceRecord, TraceWriter, read_trace

# Two servers, setups, failures of both bases, scrap, blocking: every kind of row.
LINE = """\
name: traced
seed: 5
horizon: 2h
replications: 2
products:
  - id: A
    route: [M1, M2]
  - id: B
    route: [M1, M2]
arrivals:
  mix: {A: 0.5, B: 0.5}
  interarrival: {dist: exponential, mean: 40s}
stations:
  - id: M1
    servers: 2
    process_time: {dist: exponential, mean: 70s}
    setup: {time: 20s}
    failures:
      mtbf: {dist: exponential, mean: 20min}
      mttr: {dist: exponential, mean: 3min}
      basis: calendar
  - id: M2
    input_buffer: 1
    process_time: {dist: triangular, low: 20s, mode: 30s, high: 50s}
    scrap_rate: 0.1
    failures:
      mtbf: {dist: exponential, mean: 15min}
      mttr: 2min
"""

COLUMNS = ["time", "entity", "kind", "part", "value"]


@pytest.fixture
def traced(scenario_file: Callable[..., Path], tmp_path: Path) -> dict[str, Any]:
    """`twin run --trace` on the line above, with its results JSON."""
    path = scenario_file(LINE)
    trace = tmp_path / "sub" / "trace.parquet"
    out = tmp_path / "results.json"
    result = CliRunner().invoke(
        app,
        ["run", str(path), "--workers", "1", "--trace", str(trace), "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    return {"trace": trace, "doc": json.loads(out.read_text())}


def test_trace_has_the_documented_columns(traced: dict[str, Any]) -> None:
    """The trace is Parquet with columns time, entity, kind, part, value."""
    schema = pq.read_schema(traced["trace"])
    assert schema.names == COLUMNS
    assert [schema.field(c).type for c in COLUMNS] == [
        pa.float64(),
        pa.string(),
        pa.string(),
        pa.int64(),
        pa.string(),
    ]
    assert pq.read_table(traced["trace"]).num_rows > 100


def test_trace_times_do_not_decrease(traced: dict[str, Any]) -> None:
    """Rows are in time order, within the simulated horizon."""
    times = pq.read_table(traced["trace"]).column("time").to_pylist()
    assert times[0] >= 0.0
    assert all(a <= b for a, b in itertools.pairwise(times))
    assert times[-1] <= 7200.0


def test_machine_states_match_the_kpis(traced: dict[str, Any]) -> None:
    """Time in each state, summed from the trace, is replication 0's state split."""
    records = read_trace(traced["trace"])
    spent: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(STATES, 0.0))
    current: dict[str, tuple[str, float]] = {}
    for r in records:
        if r.kind != "state":
            continue
        assert r.value in STATES
        assert r.part == -1
        if r.entity in current:
            state, since = current[r.entity]
            spent[r.entity][state] += r.time - since
        else:
            assert (r.time, r.value) == (0.0, "starved")  # every machine starts idle
        current[r.entity] = (r.value, r.time)
    for entity, (state, since) in current.items():
        spent[entity][state] += 7200.0 - since
    assert sorted(current) == ["M1.0", "M1.1", "M2.0"]
    stations = traced["doc"]["stations"]
    for sid, machines in (("M1", ["M1.0", "M1.1"]), ("M2", ["M2.0"])):
        for state in STATES:
            seconds = sum(spent[m][state] for m in machines)
            fraction = stations[sid]["states"][state]["values"][0]
            assert seconds / (7200.0 * len(machines)) == pytest.approx(fraction, abs=1e-9)
    assert stations["M1"]["states"]["down"]["values"][0] > 0
    assert stations["M1"]["states"]["setup"]["values"][0] > 0


def test_a_machine_takes_a_part_only_when_it_holds_none(traced: dict[str, Any]) -> None:
    """A machine takes its next part (``start``) once its last one has left it: starved
    before, or at once after the last one (still busy, or blocked until that moment), or
    down waiting for its repair."""
    state: dict[str, str] = {}
    holds: dict[str, int] = {}  # machine -> the part on it
    on: dict[int, str] = {}  # part -> the machine it is on
    starts = 0
    for r in read_trace(traced["trace"]):
        if r.kind == "state":
            state[r.entity] = r.value
        elif r.kind in ("create", "arrive", "move", "start", "finish", "scrap"):
            machine = on.pop(r.part, None)
            if machine is not None:
                del holds[machine]
            if r.kind == "start":
                starts += 1
                assert state[r.entity] in ("starved", "busy", "blocked", "down"), r
                assert r.entity not in holds, r
                holds[r.entity], on[r.part] = r.part, r.entity
    assert starts > 0


def test_part_rows_follow_each_part(traced: dict[str, Any]) -> None:
    """Each part is created once, then arrives and starts, and leaves at most once."""
    created: dict[int, float] = {}
    left: set[int] = set()
    counts = {"create": 0, "finish": 0, "scrap": 0}
    for r in read_trace(traced["trace"]):
        if r.kind in ("state", "level", "fail", "repair"):
            continue
        assert r.part >= 0
        assert r.value in ("A", "B")
        assert r.part not in left, r
        if r.kind == "create":
            assert r.part not in created
            created[r.part] = r.time
        else:
            assert r.part in created, r
            assert r.time >= created[r.part]
        if r.kind in ("finish", "scrap"):
            left.add(r.part)
        if r.kind in counts:
            counts[r.kind] += 1
    parts = traced["doc"]["line"]["parts"]
    assert counts["create"] == parts["created"]["values"][0]
    assert counts["finish"] == parts["finished"]["values"][0]
    assert counts["scrap"] == parts["scrapped"]["values"][0]
    assert counts["scrap"] > 0


def test_small_batches_write_many_row_groups(
    scenario: Callable[[str], Scenario], tmp_path: Path
) -> None:
    """With a tiny batch the trace is written in many row groups and reads back complete."""
    model = scenario(LINE)
    whole = tmp_path / "whole.parquet"
    run_replication(model, 0, str(whole))
    small = tmp_path / "small.parquet"
    env = simpy.Environment()
    changes = Changes()
    with TraceWriter(small, batch=10) as writer:
        changes.subscribe(writer)
        build(env, model, 0, changes)
        env.run(until=model.horizon)
    expected = read_trace(whole)
    assert writer.written == len(expected)
    assert pq.ParquetFile(small).metadata.num_row_groups == math.ceil(len(expected) / 10)
    assert read_trace(small) == expected


def test_writer_round_trips_records(tmp_path: Path) -> None:
    """Records written in batches read back in order, equal field by field."""
    path = tmp_path / "t.parquet"
    rows = [TraceRecord(i * 0.5, f"M{i % 3}", "state", i - 1, STATES[i % 5]) for i in range(95)]
    with TraceWriter(path, batch=10) as writer:
        for row in rows:
            writer(Change(*row))
    assert pq.ParquetFile(path).metadata.num_row_groups == 10
    assert read_trace(path) == rows


def test_empty_trace_is_a_valid_file(tmp_path: Path) -> None:
    """A trace with no rows is still a readable Parquet file with the columns."""
    path = tmp_path / "empty.parquet"
    TraceWriter(path).close()
    assert read_trace(path) == []
    assert pq.read_schema(path).names == COLUMNS


def _peak(batch: int, path: Path, rows: int) -> int:
    tracemalloc.start()
    try:
        with TraceWriter(path, batch=batch) as writer:
            for i in range(rows):
                writer(Change(float(i), "M1.0", "state", i, "busy"))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_batches_keep_memory_flat(tmp_path: Path) -> None:
    """Writing in batches holds a batch, not the whole trace, in memory."""
    rows = 50_000
    batched = _peak(1_000, tmp_path / "a.parquet", rows)
    buffered = _peak(rows, tmp_path / "b.parquet", rows)
    assert batched * 5 < buffered
    assert len(read_trace(tmp_path / "a.parquet")) == rows
