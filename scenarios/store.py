"""The experiment store: one SQLite row per (model, replication), written as results arrive.

A model is identified by a hash of its resolved scenario (minus the fields that do not
change what is simulated), so re-running a command resumes where it stopped and two plans
that lead to the same line share their replications.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from models.kpi import KPI_VERSION
from scenarios.schema import Scenario
from twin.checks import option_label
from twin.errors import UsageError
from twin.files import atomic_open, write_atomic

# Fields that do not change a replication's results.
_NOT_MODEL = ("name", "description", "replications", "retrofits", "economics", "layout")

SCHEMA = """
CREATE TABLE IF NOT EXISTS replications (
    model TEXT NOT NULL,
    replication INTEGER NOT NULL,
    plan TEXT NOT NULL,
    kpis TEXT NOT NULL,
    PRIMARY KEY (model, replication)
);
CREATE TABLE IF NOT EXISTS histories (
    model TEXT NOT NULL,
    replication INTEGER NOT NULL,
    history TEXT NOT NULL,
    PRIMARY KEY (model, replication)
);
"""


def model_key(scenario: Scenario) -> str:
    """A stable fingerprint of what ``scenario`` simulates (seed included), and of the
    version of the figures measured, so a store never mixes two versions."""
    data = scenario.model_dump(mode="json", exclude=set(_NOT_MODEL))
    text = json.dumps([KPI_VERSION, data], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class Store:
    """Replication results on disk; safe to interrupt at any point."""

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.path = Path(path)
        if read_only:  # a reader (a report) changes nothing, not even the schema
            uri = self.path.resolve().as_uri() + "?mode=ro"
            self._db = sqlite3.connect(uri, uri=True)
            self._db.execute("SELECT COUNT(*) FROM replications").fetchone()
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        # With WAL, NORMAL keeps the file consistent; a power cut may lose the last rows,
        # which a resumed run simply runs again.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def load(self, model: str) -> dict[int, dict[str, Any]]:
        """The finished replications of ``model``, by index."""
        rows = self._db.execute(
            "SELECT replication, kpis FROM replications WHERE model = ?", (model,)
        )
        return {rep: json.loads(kpis) for rep, kpis in rows}

    def put(
        self,
        model: str,
        replication: int,
        plan: str,
        kpis: dict[str, Any],
        history: Mapping[str, Any] | None = None,
    ) -> None:
        """Keep one finished replication, and its history over time if recorded (committed
        at once; a repeat is ignored)."""
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO replications VALUES (?, ?, ?, ?)",
                (model, replication, plan, json.dumps(kpis, sort_keys=True)),
            )
            if history is not None:
                text = json.dumps(history, allow_nan=False, separators=(",", ":"))
                self._db.execute(
                    "INSERT OR IGNORE INTO histories VALUES (?, ?, ?)", (model, replication, text)
                )

    def histories(self, model: str) -> dict[int, dict[str, Any]]:
        """The recorded histories of ``model``'s replications, by index (replications
        stored by an earlier version have none)."""
        try:
            rows = self._db.execute(
                "SELECT replication, history FROM histories WHERE model = ?", (model,)
            ).fetchall()
        except sqlite3.OperationalError:  # a read-only store made before histories were kept
            return {}
        return {rep: json.loads(text) for rep, text in rows}

    def export_csv(self, path: str | Path) -> Path:
        """Every stored replication as one CSV row: model, plan, replication, then the KPIs."""
        from twin.results import flatten

        rows = [
            {"model": model, "plan": plan, "replication": rep, **flatten(json.loads(kpis))}
            for model, rep, plan, kpis in self._db.execute(
                "SELECT model, replication, plan, kpis FROM replications ORDER BY plan, replication"
            )
        ]
        fields: list[str] = []
        for row in rows:
            fields += [k for k in row if k not in fields]
        with atomic_open(path, newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        return Path(path)

    def count(self) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM replications").fetchone()
        return int(row[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def signature(kind: str, keys: list[str], replications: int) -> str:
    """What identifies one experiment command: its kind, its models and their count."""
    text = json.dumps([kind, sorted(keys), replications])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def output_dir(root: Path, name: str, sig: str, stamp: str) -> tuple[Path, bool]:
    """The newest run of the same experiment under ``root``, finished or not, else a new one.

    Re-running a command (same scenario, seed and options) so resumes an interrupted run,
    or reuses a finished one without running its replications again. Returns the directory
    and whether it already existed.
    """
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in name).strip("-") or "run"
    if root.is_dir():
        for candidate in sorted(root.glob(f"{slug}-*"), reverse=True):
            marker = candidate / "experiment.json"
            try:
                info = json.loads(marker.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if info.get("signature") == sig:
                return candidate, True
    fresh, n = root / f"{slug}-{stamp}", 1
    while fresh.exists():  # another experiment started in the same second
        n += 1
        fresh = root / f"{slug}-{stamp}-{n}"
    return fresh, False


def mark(directory: Path, sig: str, complete: bool, command: list[str]) -> None:
    """Record which experiment a directory holds and whether it finished."""
    directory.mkdir(parents=True, exist_ok=True)
    info = {"signature": sig, "complete": complete, "command": command}
    write_atomic(directory / "experiment.json", json.dumps(info, indent=2) + "\n")


def finished(directory: Path) -> bool:
    """Whether ``directory`` holds an experiment that ran to its end."""
    try:
        info = json.loads((directory / "experiment.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(isinstance(info, dict) and info.get("complete"))


LOCK_NAME = ".lock"


@contextlib.contextmanager
def claim(directory: Path, option: str = "--out") -> Iterator[None]:
    """Hold ``directory`` for one command, or refuse if another process holds it.

    An OS lock (``flock``) on ``directory/.lock``: the system releases it when the holder
    ends, however it ends, so a lock is never left stale.
    """
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(
                f"{option_label(option)}: {directory} is in use by another twin process "
                f"(pid {_holder(fd)}); wait for it or choose another {option}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)


def _holder(fd: int) -> str:
    """The pid the holder wrote into the lock file, or '?' while it is still writing it."""
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return text if text.isdigit() else "?"
