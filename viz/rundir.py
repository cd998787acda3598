"""Reading what ``twin run``, ``twin compare`` and ``twin sweep`` kept with ``--out``.

A run directory holds ``results.json`` (a run), ``comparison.json`` or ``sweep.json`` (with
the experiment store ``store.sqlite``). :func:`read` returns what a report draws: the
document the command printed, and the models to look at closely (the run; the baseline and
the best plan; the sweep's points of lowest and highest throughput), each with its
replications summarized and its histories over time. Anything missing or unreadable is a
:class:`~twin.errors.UsageError` naming the file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from scenarios.experiment import HISTORY_FILE
from scenarios.retrofits import Plan, apply
from scenarios.schema import Scenario
from scenarios.store import Store, model_key
from scenarios.sweep import Point, model_at
from scenarios.validation import validate
from twin.errors import TwinError, UsageError
from twin.results import aggregate

Kind = Literal["run", "compare", "sweep"]
DOCUMENTS: dict[str, Kind] = {
    "comparison.json": "compare",
    "sweep.json": "sweep",
    "results.json": "run",
}
STORE = "store.sqlite"


@dataclass(frozen=True)
class Model:
    """One simulated line of the directory: its label, its summary document (the shape of
    ``results.json``) and the histories of its replications (empty when not recorded)."""

    label: str
    doc: Mapping[str, Any]
    histories: Sequence[Mapping[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class RunDir:
    """What a report reads from one run directory."""

    path: Path
    kind: Kind
    doc: Mapping[str, Any]
    models: list[Model]

    @property
    def name(self) -> str:
        return str(self.doc["scenario"]["name"])


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it: {exc.strerror}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{path}: not valid JSON ({exc}); the file is damaged") from None


def _field(doc: Any, path: Path, *keys: str) -> None:
    """Refuse a document without the fields a report reads."""
    missing = [k for k in keys if not isinstance(doc, dict) or k not in doc]
    if missing:
        raise UsageError(
            f"{path}: not a twin results document (no {', '.join(missing)}); "
            "was it written by this version of twin?"
        )


def read(directory: Path) -> RunDir:
    """The run kept in ``directory`` (see the module doc)."""
    if not directory.is_dir():
        what = "not a directory" if directory.exists() else "no such directory"
        raise UsageError(f"{directory}: {what} (give a directory written by --out)")
    for name, kind in DOCUMENTS.items():
        path = directory / name
        if path.exists():
            doc = _json(path)
            if kind == "run":
                return _run(directory, path, doc)
            return _experiment(directory, path, doc, kind)
    raise UsageError(
        f"{directory}: not a run directory: it holds no {', '.join(DOCUMENTS)} "
        "(written by twin run, twin compare or twin sweep with --out)"
    )


def _run(directory: Path, path: Path, doc: Any) -> RunDir:
    _field(doc, path, "scenario", "replications", "line", "stations")
    histories: list[Mapping[str, Any]] = []
    recorded = directory / HISTORY_FILE
    if recorded.exists():
        data = _json(recorded)
        reps = data.get("replications") if isinstance(data, dict) else None
        if not isinstance(reps, dict):
            raise UsageError(f"{recorded}: no replications in it; the file is damaged")
        histories = [reps[k] for k in sorted(reps, key=int)]
        _histories(recorded, histories)
    label = str(doc["scenario"]["name"])
    doc = {**doc, "stations": _in_line_order(doc["stations"], doc["scenario"])}
    return RunDir(directory, "run", doc, [Model(label, doc, histories)])


def _in_line_order(stations: Mapping[str, Any], scenario: Mapping[str, Any]) -> dict[str, Any]:
    """The stations as the scenario lists them (the documents are written with sorted keys)."""
    order = [s["id"] for s in scenario.get("stations", []) if isinstance(s, dict) and "id" in s]
    known = [sid for sid in order if sid in stations]
    return {sid: stations[sid] for sid in [*known, *(s for s in stations if s not in known)]}


def _histories(where: Path | str, histories: list[Any]) -> None:
    for h in histories:
        if not isinstance(h, dict) or not {"t", "series", "lead_time", "warmup_s"} <= set(h):
            raise UsageError(f"{where}: a replication's history is incomplete; it is damaged")


def _scenario(path: Path, doc: Mapping[str, Any]) -> Scenario:
    try:
        return validate(doc["scenario"], f"{path} (scenario)")
    except TwinError as exc:
        raise UsageError(f"{path}: its scenario is not valid: {exc}") from None


def _experiment(directory: Path, path: Path, doc: Any, kind: Kind) -> RunDir:
    if kind == "compare":
        _field(doc, path, "scenario", "plans", "baseline", "ranking", "best")
    else:
        _field(doc, path, "scenario", "parameters", "points")
    scenario = _scenario(path, doc)
    wanted = _compared(scenario, doc) if kind == "compare" else _swept(scenario, doc)
    store = directory / STORE
    if not store.exists():
        raise UsageError(f"{store}: missing; the replications of {path.name} are kept there")
    try:
        with Store(store, read_only=True) as db:
            models = [_model(db, store, *w) for w in wanted]
    except sqlite3.Error as exc:
        raise UsageError(f"{store}: cannot read it ({exc}); the file is damaged") from None
    return RunDir(directory, kind, doc, models)


Wanted = tuple[str, Scenario, int]
"""A model to show: its label, its scenario and how many replications the document used."""


def _compared(scenario: Scenario, doc: Mapping[str, Any]) -> list[Wanted]:
    """The baseline and the best plan."""
    wanted = [("baseline", scenario, int(doc["baseline"]["replications"]))]
    best = doc.get("best")
    if best:
        plan = doc["plans"][best]
        model = apply(scenario, Plan(tuple(plan["retrofits"])))
        wanted.append((f"best plan: {best}", model, int(plan["replications"])))
    return wanted


def _swept(scenario: Scenario, doc: Mapping[str, Any]) -> list[Wanted]:
    """The points of lowest and highest mean throughput (one point: that one)."""
    rows = [r for r in doc["points"] if r["throughput_per_hour"]["mean"] is not None]
    if not rows:
        return []
    ranked = sorted(rows, key=lambda r: r["throughput_per_hour"]["mean"])
    chosen = [("lowest throughput", ranked[0]), ("highest throughput", ranked[-1])]
    if ranked[0] is ranked[-1]:
        chosen = chosen[1:]
    return [
        (
            f"{what}: {row['point']}",
            model_at(scenario, Point(tuple(row["settings"].items()))),
            int(row["replications"]),
        )
        for what, row in chosen
    ]


def _model(db: Store, store: Path, label: str, scenario: Scenario, n: int) -> Model:
    """The first ``n`` replications of ``scenario`` in the store, those the document used
    (a store may hold more, run for another command)."""
    key = model_key(scenario)
    reps = {r: kpis for r, kpis in db.load(key).items() if r < n}
    if not reps:
        raise UsageError(
            f"{store}: no replications of {label} (stored by another version of twin?); "
            "run the same command again to complete the store"
        )
    summary: dict[str, Any] = {
        "scenario": {"name": label},
        "replications": len(reps),
        **aggregate([reps[r] for r in sorted(reps)]),
    }
    summary["stations"] = _in_line_order(summary["stations"], scenario.model_dump(mode="json"))
    histories = db.histories(key)
    recorded = [histories[r] for r in sorted(histories) if r in reps]
    _histories(store, recorded)
    return Model(label, summary, recorded)
