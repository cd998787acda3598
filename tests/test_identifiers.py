"""Part identifiers: each part's history in Parquet with `twin run --out`, and `twin trace`."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from lines import invoke

from models.history import PartIds
from scenarios.experiment import run_replication
from scenarios.loader import loads
from scenarios.overrides import override
from scenarios.parts import COLUMNS

# Two products, a failing two-machine station, scrap, a batch station and rework back to
# the first station: every way a part moves on, is sent back or leaves.
LINE = """\
name: identified cell
seed: 11
horizon: 8h
warmup: 1h
replications: 2
identifiers: {prefix: "88.999.1", line: CELL1}
products:
  - {id: RING, route: [OD, ID, HEAT, INSPECT]}
  - {id: CUP, route: [OD, HEAT, INSPECT]}
arrivals:
  mix: {RING: 0.6, CUP: 0.4}
  interarrival: {dist: exponential, mean: 70s}
stations:
  - id: OD
    servers: 2
    process_time: {dist: exponential, mean: 100s}
    failures: {mtbf: {dist: exponential, mean: 2h}, mttr: {dist: exponential, mean: 10min}}
  - id: ID
    input_buffer: 2
    process_time: {dist: gamma, mean: 50s, cv: 0.3}
    scrap_rate: 0.03
  - id: HEAT
    batch: {size: 4, min: 2, max_wait: 5min}
    process_time: 3min
  - id: INSPECT
    input_buffer: 3
    process_time: 30s
    rework: {rate: 0.1, to: OD, max: 1}
"""
# The same line with a move of its own: a part leaves ID when it sets off, not on arrival.
MOVING = LINE + "transport:\n  moves:\n    - {from: ID, to: HEAT, time: 2min}\n"
ROUTES = {"RING": ["OD", "ID", "HEAT", "INSPECT"], "CUP": ["OD", "HEAT", "INSPECT"]}
WARMUP = 3600.0

Rows = dict[int, dict[int, list[dict[str, Any]]]]  # replication -> serial -> events


def _run(directory: Path, text: str, *options: str) -> dict[str, Any]:
    """`twin run --out` on ``text``; the results document."""
    directory.mkdir(parents=True, exist_ok=True)
    source = directory / "line.yaml"
    source.write_text(text, encoding="utf-8")
    out = directory / "run"
    result = invoke("run", str(source), "--out", str(out), *options)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads((out / "results.json").read_text())
    return doc


@pytest.fixture(scope="module", params=["direct", "moving"])
def kept(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A run of the line (and of the moving line) kept with --out on two workers: its run
    directory, results document and part history read back by part."""
    text = LINE if request.param == "direct" else MOVING
    base = tmp_path_factory.mktemp(request.param)
    doc = _run(base, text, "--workers", "2")
    table = pq.read_table(base / "run" / "parts")
    rows: Rows = defaultdict(lambda: defaultdict(list))
    for row in table.to_pylist():
        rows[row["replication"]][row["serial"]].append(row)
    return base / "run", doc, table, rows


def test_part_ids_are_prefix_line_and_six_digit_serial() -> None:
    """Ids read PREFIX/LINE.SERIAL with six digits, more once the serial needs them."""
    ids = PartIds("88.999.1", "CELL1")
    assert ids(0) == "88.999.1/CELL1.000000"
    assert ids(123) == "88.999.1/CELL1.000123"
    assert ids(1_234_567) == "88.999.1/CELL1.1234567"


def test_every_part_has_its_id_and_serials_count_from_zero(kept: Any) -> None:
    """Each row's id is its serial's; the serials of a replication are 0 .. created - 1."""
    _, doc, table, rows = kept
    assert table.schema.names == list(COLUMNS)
    ids = PartIds("88.999.1", "CELL1")
    for row in table.select(["part_id", "serial"]).to_pylist():
        assert row["part_id"] == ids(row["serial"])
    created = doc["line"]["parts"]["created"]["values"]
    assert sorted(rows) == [0, 1]
    for rep, parts in rows.items():
        assert sorted(parts) == list(range(int(created[rep])))


def _walk(product: str, events: list[dict[str, Any]]) -> str:
    """Follow a part's events along its route; return how it ended (finish, scrap, or in
    the line). Fails at the first event its route does not allow."""
    route = ROUTES[product]
    assert [events[0][k] for k in ("where", "what", "detail")] == ["line", "create", product]
    step, i, n = 0, 1, len(events)
    while i < n:
        station = route[step]
        arrive = events[i]
        assert (arrive["where"], arrive["what"]) == (station, "arrive"), events
        if i + 1 == n:
            return "in line"
        start = events[i + 1]
        assert start["what"] == "start" and start["where"].startswith(f"{station}."), events
        if i + 2 == n:
            return "in line"
        done = events[i + 2]
        assert (done["where"], done["what"]) == (start["where"], "done"), events
        if i + 3 == n:
            return "in line"
        then = events[i + 3]
        if then["what"] in ("scrap", "finish"):
            assert i + 4 == n, events  # nothing after leaving the line
            if then["what"] == "finish":
                assert (then["where"], step) == ("line", len(route) - 1), events
            else:
                assert then["where"] == start["where"], events
            return str(then["what"])
        if then["what"] == "rework":
            assert then["where"] == start["where"], events
            step = max(k for k in range(step + 1) if route[k] == then["detail"])
            if route[step] != station:  # back to another station: it leaves for it
                if i + 4 == n:
                    return "in line"
                back = events[i + 4]
                assert (back["where"], back["what"], back["detail"]) == (
                    station,
                    "leave",
                    route[step],
                ), events
                i += 1
        else:
            assert (then["where"], then["what"]) == (station, "leave"), events
            assert then["detail"] == route[step + 1], events
            step += 1
        i += 4
    return "in line"


def test_each_history_follows_the_parts_route(kept: Any) -> None:
    """Per part: created, then at each station of its route arrive, start on one of its
    machines, done, and leave for the next one (or go back for rework, be scrapped, or
    finish), at times that never go back."""
    _, _, _, rows = kept
    endings: dict[str, int] = defaultdict(int)
    for parts in rows.values():
        for events in parts.values():
            times = [e["t"] for e in events]
            assert times == sorted(times)
            endings[_walk(events[0]["detail"], events)] += 1
            endings["rework"] += sum(e["what"] == "rework" for e in events)
    # The line did all of it: finished, scrapped, reworked and still in the line.
    assert min(endings["finish"], endings["scrap"], endings["rework"], endings["in line"]) > 0


def test_parts_created_are_finished_scrapped_or_in_the_line(kept: Any) -> None:
    """Counted from the history, created = finished + scrapped + in the system, each as the
    results count them."""
    _, doc, _, rows = kept
    parts = doc["line"]["parts"]
    for rep, history in rows.items():
        last = [events[-1]["what"] for events in history.values()]
        finished, scrapped = last.count("finish"), last.count("scrap")
        in_line = len(last) - finished - scrapped
        assert len(history) == finished + scrapped + in_line
        expected = [parts[k]["values"][rep] for k in ("created", "finished", "scrapped")]
        assert [len(history), finished, scrapped] == expected
        assert in_line == parts["in_system"]["values"][rep]


def test_lead_times_from_the_history_are_the_models(kept: Any) -> None:
    """The mean lead time of parts created after the warm-up and finished, from their
    first and last events, is the run's lead time."""
    _, doc, _, rows = kept
    for rep, history in rows.items():
        lead = [
            events[-1]["t"] - events[0]["t"]
            for events in history.values()
            if events[-1]["what"] == "finish" and events[0]["t"] >= WARMUP
        ]
        expected = doc["line"]["lead_time_s"]["mean"]["values"][rep]
        assert math.fsum(lead) / len(lead) == pytest.approx(expected, rel=1e-12)


def _reworked(rows: Rows) -> str:
    """The id of a part sent back for rework in replication 0 that then finished."""
    for events in rows[0].values():
        whats = [e["what"] for e in events]
        if "rework" in whats and whats[-1] == "finish":
            return str(events[0]["part_id"])
    raise AssertionError("no reworked part finished")


def test_trace_prints_a_parts_history(kept: Any) -> None:
    """`twin trace RUN_DIR ID` prints the part's events, each station and machine, rework
    included, for every replication."""
    run, _, _, rows = kept
    part_id = _reworked(rows)
    result = invoke("trace", str(run), part_id)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.splitlines()[0] == f"{part_id} in {run} (replications 0, 1)"
    serial = int(part_id.rsplit(".", 1)[1])
    for events in (rows[0][serial], rows[1][serial]):
        shown = [line.split() for line in text.splitlines()[2:]]
        for e in events:
            assert [e["where"], e["what"], *e["detail"].split()] in [s[3:] for s in shown]
    assert "rework" in text


def test_trace_json_is_the_parts_rows(kept: Any) -> None:
    """`twin trace --json` gives the part's rows as kept, in order, with full-precision
    times; `--replication` keeps one replication."""
    run, _, _, rows = kept
    part_id = _reworked(rows)
    serial = int(part_id.rsplit(".", 1)[1])
    result = invoke("trace", str(run), part_id, "--json", "--replication", "1")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["part_id"], doc["serial"], doc["run_dir"]) == (part_id, serial, str(run))
    keys = ("replication", "t", "where", "what", "detail")
    assert doc["events"] == [{k: e[k] for k in keys} for e in rows[1][serial]]


def test_trace_refuses_an_unknown_id(kept: Any) -> None:
    """An id that no replication has is refused (exit 2), naming it, the run directory and
    the ids the run does have."""
    run, doc, _, _ = kept
    for part_id in ("88.999.1/CELL1.999999", "88.999.2/CELL1.000001", "CELL1"):
        result = invoke("trace", str(run), part_id)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(f"error: part {part_id} is not in {run}")
        last = int(doc["line"]["parts"]["created"]["values"][0]) - 1
        assert f"88.999.1/CELL1.000000 to 88.999.1/CELL1.{last:06d}" in result.stderr


def test_trace_refuses_a_replication_the_run_does_not_have(kept: Any) -> None:
    """--replication outside the run is refused, saying which replications there are."""
    run, _, _, _ = kept
    result = invoke("trace", str(run), "88.999.1/CELL1.000001", "--replication", "2")
    assert result.exit_code == 2, result.output
    assert "has no replication 2 (it has 0, 1)" in result.stderr


def test_without_identifiers_no_history_and_the_same_figures(kept: Any, tmp_path: Path) -> None:
    """Without `identifiers` the run writes no history, `twin trace` says why, and every
    figure is the same to the bit as with them: the history draws no random number."""
    _, doc, _, _ = kept
    text = LINE if doc["scenario"]["transport"] is None else MOVING
    plain = text.replace('identifiers: {prefix: "88.999.1", line: CELL1}\n', "")
    bare = _run(tmp_path, plain, "--workers", "1")
    assert bare["line"] == doc["line"]
    assert bare["stations"] == doc["stations"]
    assert bare["scenario"]["identifiers"] is None
    run = tmp_path / "run"
    assert not (run / "parts").exists()
    result = invoke("trace", str(run), "88.999.1/CELL1.000001")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {run}: no part history")
    assert "no `identifiers`" in result.stderr


def test_the_history_is_kept_only_with_identifiers() -> None:
    """In process too: a line without identifiers keeps no history, and its KPIs are those
    of the line with them."""
    model = loads(LINE, "line.yaml")
    plain = override(model, {"identifiers": None})
    assert run_replication(plain, 0) == run_replication(model, 0)


def test_a_new_run_replaces_the_kept_history(tmp_path: Path) -> None:
    """A second run into the same directory leaves only its own history: fewer replications
    leave fewer files, and a run without identifiers leaves none."""
    short = LINE.replace("horizon: 8h", "horizon: 2h")
    _run(tmp_path, short, "--workers", "1")
    parts = tmp_path / "run" / "parts"
    assert sorted(p.name for p in parts.iterdir()) == [
        "replication-0000.parquet",
        "replication-0001.parquet",
    ]
    _run(tmp_path, short, "--workers", "1", "--reps", "1")
    assert sorted(p.name for p in parts.iterdir()) == ["replication-0000.parquet"]
    _run(tmp_path, short.replace("identifiers:", "# identifiers:"), "--workers", "1")
    assert not parts.exists()


def test_trace_refuses_a_missing_directory(tmp_path: Path) -> None:
    """A run directory that does not exist is refused, named."""
    result = invoke("trace", str(tmp_path / "nowhere"), "88.999.1/CELL1.000001")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {tmp_path / 'nowhere'}: no such directory")


def test_trace_refuses_a_damaged_history(tmp_path: Path) -> None:
    """A history file that is not Parquet is refused (exit 2), naming the folder."""
    parts = tmp_path / "run" / "parts"
    parts.mkdir(parents=True)
    (parts / "replication-0000.parquet").write_bytes(b"not a parquet file")
    result = invoke("trace", str(tmp_path / "run"), "88.999.1/CELL1.000001")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {parts}: cannot read the part history")
