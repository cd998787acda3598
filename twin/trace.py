"""The Parquet trace: a subscriber of the change stream that keeps every change on disk.

A trace row is one change: ``(time, entity, kind, part, value)``, the entity being the
change's scope and the value its text. Rows are buffered and written to Parquet in batches,
so a trace of a long run keeps memory flat.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from twin.changes import Change

SCHEMA = pa.schema(
    [
        ("time", pa.float64()),
        ("entity", pa.string()),
        ("kind", pa.string()),
        ("part", pa.int64()),
        ("value", pa.string()),
    ]
)


class TraceRecord(NamedTuple):
    """One state change of one entity. ``part`` is -1 when no part is involved."""

    time: float
    entity: str
    kind: str
    part: int
    value: str


class TraceWriter:
    """Appends changes to a Parquet file, ``batch`` rows at a time (subscribe it to a
    :class:`~twin.changes.Changes`)."""

    def __init__(self, path: str | Path, batch: int = 65536) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._batch = batch
        self._rows: list[TraceRecord] = []
        self._writer = pq.ParquetWriter(self.path, SCHEMA)
        self.written = 0

    def __call__(self, change: Change) -> None:
        time, scope, kind, part, value = change
        self._rows.append(TraceRecord(time, scope, kind, part, str(value)))
        if len(self._rows) >= self._batch:
            self.flush()

    def flush(self) -> None:
        if not self._rows:
            return
        columns = list(zip(*self._rows, strict=True))
        arrays = [pa.array(c, type=f.type) for c, f in zip(columns, SCHEMA, strict=True)]
        table = pa.Table.from_arrays(arrays, schema=SCHEMA)
        self._writer.write_table(table)
        self.written += len(self._rows)
        self._rows.clear()

    def close(self) -> None:
        self.flush()
        self._writer.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_trace(path: str | Path) -> list[TraceRecord]:
    """Read a whole trace back (for tests and small runs)."""
    table = pq.read_table(path)
    return [TraceRecord(**row) for row in table.to_pylist()]
