"""The experiment store: rows kept as they arrive, and interrupted sweeps that resume."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from lines import two_station
from typer.testing import CliRunner

from scenarios.batch import evaluate
from scenarios.loader import loads
from scenarios.overrides import override
from scenarios.store import Store, mark, model_key, output_dir, signature
from twin.cli import app

# Replications of a fraction of a second each: long enough to stop a sweep in the middle.
SWEPT = two_station(name="swept line", seed=4, horizon=5000, replications=6)
PARAM = "stations.M2.input_buffer=0,3"
TOTAL = 2 * 6
RAN = re.compile(r"(\d+) replications run, (\d+) reused")

KPIS = {"line": {"throughput_per_hour": 12.5, "wip": 3.0}, "stations": {}}


def sweep_args(scenario: Path, out: Path) -> list[str]:
    return ["sweep", str(scenario), "--param", PARAM, "--out", str(out), "--workers", "1"]


def stored(db: Path) -> int:
    """Rows in the store, read without disturbing the process that writes it."""
    if not db.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM replications").fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet, or busy: ask again


def keys(db: Path) -> list[tuple[str, int]]:
    with closing(sqlite3.connect(db)) as conn:
        return sorted(conn.execute("SELECT model, replication FROM replications").fetchall())


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "swept.yaml"
    path.write_text(SWEPT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def fresh_dir(swept: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same sweep, run without interruption in its own directory."""
    out = tmp_path_factory.mktemp("fresh") / "run"
    result = CliRunner().invoke(app, sweep_args(swept, out))
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def fresh(fresh_dir: Path) -> dict[str, Any]:
    return json.loads((fresh_dir / "sweep.json").read_text())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupted_sweep_resumes_and_loses_nothing(
    sig: signal.Signals, swept: Path, fresh: dict[str, Any], tmp_path: Path
) -> None:
    """Stop `twin sweep` mid-way, run it again: every row once, results as a fresh run."""
    out = tmp_path / "run"
    db = out / "store.sqlite"
    twin = str(Path(sys.executable).with_name("twin"))
    cmd = [twin, *sweep_args(swept, out)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while (done := stored(db)) < 2:
            assert proc.poll() is None, "the sweep ended before it could be interrupted"
            assert time.monotonic() < deadline, "no rows stored within 60 s"
            time.sleep(0.02)
        os.killpg(proc.pid, sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    if sig == signal.SIGINT:
        assert proc.returncode == 130, stderr
        assert "interrupted" in stderr
        assert "Traceback" not in stderr
    else:
        assert proc.returncode == -signal.SIGKILL
    kept = stored(db)
    assert done <= kept < TOTAL
    assert json.loads((out / "experiment.json").read_text())["complete"] is False
    assert not (out / "sweep.json").exists()

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"resuming the experiment in {out}" in again.stderr
    match = RAN.search(again.stderr)
    assert match is not None, again.stderr
    ran, reused = int(match.group(1)), int(match.group(2))
    assert reused == kept
    assert ran == TOTAL - kept
    rows = keys(db)
    assert len(rows) == len(set(rows)) == TOTAL
    assert {rep for _, rep in rows} == set(range(6))
    assert len({model for model, _ in rows}) == 2
    assert json.loads((out / "experiment.json").read_text())["complete"] is True
    assert json.loads((out / "sweep.json").read_text()) == fresh


def test_rerun_of_a_finished_sweep_runs_nothing(
    swept: Path, fresh_dir: Path, fresh: dict[str, Any], tmp_path: Path
) -> None:
    """A finished sweep run again reuses every replication and gives the same document."""
    out = tmp_path / "run"
    shutil.copytree(fresh_dir, out)
    (out / "sweep.json").unlink()
    again = CliRunner().invoke(app, sweep_args(swept, out))
    assert again.exit_code == 0, again.output
    match = RAN.search(again.stderr)
    assert match is not None, again.stderr
    assert (int(match.group(1)), int(match.group(2))) == (0, TOTAL)
    assert json.loads((out / "sweep.json").read_text()) == fresh


def test_interrupted_evaluate_resumes(swept: Path, tmp_path: Path) -> None:
    """evaluate() cut after 3 replications keeps them; the next call runs only the rest."""
    s = override(loads(swept.read_text()), {"horizon": 1000})
    models = {"a": s, "b": override(s, {"seed": 5})}

    def stop(finished: int, total: int) -> None:
        if finished == 3:
            raise KeyboardInterrupt

    with Store(tmp_path / "store.sqlite") as store:
        cut = evaluate(models, 4, store, on_done=stop)
        assert cut.interrupted
        assert not cut.complete(4)
        assert store.count() == 3
        resumed = evaluate(models, 4, store)
        assert (resumed.ran, resumed.reused) == (5, 3)
        assert resumed.complete(4)
        assert store.count() == 8
    with Store(tmp_path / "other.sqlite") as store:
        whole = evaluate(models, 4, store)
    assert (whole.ran, whole.reused) == (8, 0)
    assert json.loads(json.dumps(resumed.results)) == json.loads(json.dumps(whole.results))


# -- the store ------------------------------------------------------------------------------


def test_store_put_load_count(tmp_path: Path) -> None:
    """Rows go in by (model, replication), come back by replication, and survive a reopen."""
    path = tmp_path / "deep" / "store.sqlite"
    with Store(path) as store:
        assert store.load("m") == {}
        store.put("m", 0, "baseline", KPIS)
        store.put("m", 2, "baseline", {**KPIS, "x": 1})
        store.put("n", 0, "plan", KPIS)
        assert store.count() == 3
        assert store.load("m") == {0: KPIS, 2: {**KPIS, "x": 1}}
    with Store(path) as store:
        assert store.count() == 3
        assert store.load("n") == {0: KPIS}


def test_store_ignores_a_duplicate(tmp_path: Path) -> None:
    """Putting the same (model, replication) again keeps the first row, and only one."""
    with Store(tmp_path / "store.sqlite") as store:
        store.put("m", 1, "baseline", KPIS)
        store.put("m", 1, "other", {"line": {"throughput_per_hour": -1.0}})
        assert store.count() == 1
        assert store.load("m") == {1: KPIS}
    with closing(sqlite3.connect(tmp_path / "store.sqlite")) as conn:
        assert conn.execute("SELECT plan FROM replications").fetchall() == [("baseline",)]
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("INSERT INTO replications VALUES ('m', 1, 'x', '{}')")


def test_store_exports_csv(tmp_path: Path) -> None:
    """Every stored row becomes a CSV line with model, plan, replication and flat KPIs."""
    with Store(tmp_path / "store.sqlite") as store:
        store.put("m", 0, "baseline", KPIS)
        store.put("m", 1, "baseline", KPIS)
        path = store.export_csv(tmp_path / "replications.csv")
    lines = path.read_text().splitlines()
    assert lines[0].split(",")[:3] == ["model", "plan", "replication"]
    assert "line.throughput_per_hour" in lines[0]
    assert len(lines) == 3


def test_model_key_is_what_is_simulated(swept: Path) -> None:
    """The key ignores names, counts, prices and catalogs; it follows seed and line changes."""
    s = loads(swept.read_text())
    key = model_key(s)
    assert model_key(loads(swept.read_text())) == key
    assert model_key(override(s, {"name": "renamed", "replications": 99})) == key
    assert model_key(override(s, {"economics": {"margin_per_good_part": 5}})) == key
    assert model_key(override(s, {"seed": 5})) != key
    assert model_key(override(s, {"horizon": 20000})) != key
    data = s.model_dump(mode="json")
    data["stations"][1]["input_buffer"] = 3
    assert model_key(type(s).model_validate(data)) != key


def test_model_key_follows_the_version_of_the_figures(
    swept: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replications measured with other KPI definitions are not reused from a store."""
    import scenarios.store

    s = loads(swept.read_text())
    key = model_key(s)
    monkeypatch.setattr(scenarios.store, "KPI_VERSION", scenarios.store.KPI_VERSION + 1)
    assert model_key(s) != key


def test_output_dir_resumes_the_newest_run(tmp_path: Path) -> None:
    """Without --out, the newest directory of the same experiment is reused, finished or not."""
    sig, other = signature("sweep", ["k"], 8), signature("sweep", ["k"], 9)
    assert sig != other
    mark(tmp_path / "line-20240101-000000", sig, False, [])
    mark(tmp_path / "line-20240102-000000", sig, False, [])
    mark(tmp_path / "line-20240104-000000", other, False, [])
    found, resumed = output_dir(tmp_path, "line", sig, "20250101-000000")
    assert (found.name, resumed) == ("line-20240102-000000", True)
    mark(tmp_path / "line-20240103-000000", sig, True, [])
    found, resumed = output_dir(tmp_path, "line", sig, "20250101-000000")
    assert (found.name, resumed) == ("line-20240103-000000", True)
    found, resumed = output_dir(tmp_path, "line", signature("compare", ["k"], 8), "20250101-1")
    assert (found, resumed) == (tmp_path / "line-20250101-1", False)


def test_compare_resumes_through_the_cli(
    scenario_file: Callable[..., Path], tmp_path: Path
) -> None:
    """A compare whose store already holds some rows runs only the missing ones."""
    text = two_station(
        name="swept line",
        seed=4,
        horizon=1000,
        replications=6,
        retrofits="  - id: buffer\n    changes: {stations.M2.input_buffer: 3}\n",
    )
    path = scenario_file(text, "cmp.yaml")
    out = tmp_path / "run"
    s = loads(text)
    with Store(out / "store.sqlite") as store:
        evaluate({"baseline": s}, 6, store)
    result = CliRunner().invoke(app, ["compare", str(path), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    match = RAN.search(result.stderr)
    assert match is not None, result.stderr
    assert (int(match.group(1)), int(match.group(2))) == (6, 6)
    assert "resuming" in result.stderr
