"""One part's history as ``twin trace`` prints it: a table, or JSON.

Takes the events as plain rows ``(replication, t, where, what, detail)`` so that the engine
layer stays below the scenarios that read them from disk.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from twin.tables import print_table

Row = tuple[int, float, str, str, str]


def print_part(console: Console, part_id: str, where: str, events: Sequence[Row]) -> None:
    """A table of the part's events, replication by replication, each with its time and
    the time since the part was created in that replication."""
    reps = sorted({e[0] for e in events})
    which = "replication" if len(reps) == 1 else "replications"
    title = f"{part_id} in {where} ({which} {', '.join(str(r) for r in reps)})"
    table = Table(box=None)
    table.add_column("rep", justify="right")
    table.add_column("time (s)", justify="right")
    table.add_column("in line (s)", justify="right")
    for name in ("where", "what", "detail"):
        table.add_column(name, no_wrap=True)
    created: dict[int, float] = {}
    for rep, t, place, what, detail in events:
        since = t - created.setdefault(rep, t)
        table.add_row(
            str(rep), _seconds(t), _seconds(since), escape(place), escape(what), escape(detail)
        )
    console.print(escape(title), highlight=False, soft_wrap=True)  # one line: ids copy whole
    print_table(console, table)


def _seconds(t: float) -> str:
    return f"{t:,.1f}"


def to_json(part_id: str, serial: int, where: str, events: Sequence[Row]) -> str:
    """The part's events as one JSON document (times in full precision, seconds)."""
    doc: dict[str, Any] = {
        "part_id": part_id,
        "serial": serial,
        "run_dir": where,
        "events": [
            {"replication": r, "t": t, "where": w, "what": what, "detail": d}
            for r, t, w, what, d in events
        ],
    }
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"
