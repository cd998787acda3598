"""Per-part history on disk.

A run kept with ``--out`` whose scenario has ``identifiers`` gets a folder ``parts/`` with
one Parquet file per replication, ``replication-0000.parquet`` and on, each written by the
process that ran the replication as soon as it ends (written whole or not at all). Every
file has the same columns, so the folder reads as one table (``pyarrow.parquet.read_table``
on the folder). Rows are grouped by part (serial ascending), each part's events in the
order they happened. pyarrow is imported only here and only when used.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from models.history import History

if TYPE_CHECKING:
    import pyarrow as pa

PARTS_DIR = "parts"
COLUMNS = ("replication", "part_id", "serial", "t", "where", "what", "detail")
# Rows per row group: its serial and part_id ranges let a look-up skip the other groups.
ROW_GROUP = 65536


def file_of(directory: Path, replication: int) -> Path:
    return directory / f"replication-{replication:04d}.parquet"


def schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("replication", pa.int64()),
            ("part_id", pa.string()),
            ("serial", pa.int64()),
            ("t", pa.float64()),
            ("where", pa.string()),
            ("what", pa.string()),
            ("detail", pa.string()),
        ]
    )


def table(replication: int, history: History) -> pa.Table:
    """The rows of one replication's history: grouped by part, in order within a part."""
    import numpy as np
    import pyarrow as pa

    if history.ids is None:
        raise ValueError("a history without part ids cannot be written")
    # Copies of the typed arrays: a view would pin them (no append while it lives).
    parts = np.frombuffer(history.parts, dtype=np.int64).copy()
    times = np.frombuffer(history.times, dtype=np.float64).copy()
    order = pa.array(np.argsort(parts, kind="stable"))  # stable: each part's events in order
    serial = pa.array(parts).take(order)
    names = pa.array([history.ids(s) for s in range(int(parts.max(initial=-1)) + 1)], pa.string())
    texts = (history.wheres, history.whats, history.details)
    columns = [
        pa.array(np.full(len(parts), replication, dtype=np.int64)),
        names.take(serial),
        serial,
        pa.array(times).take(order),
        *(pa.array(text, pa.string()).take(order) for text in texts),
    ]
    return pa.Table.from_arrays(columns, schema=schema())


def write(directory: str | Path, replication: int, history: History) -> Path:
    """Write one replication's history to its file in ``directory``, whole or not at all."""
    import pyarrow.parquet as pq

    target = file_of(Path(directory), replication)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A leading dot: a reader of the folder skips the file until it is complete.
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        pq.write_table(
            table(replication, history), temp, row_group_size=ROW_GROUP, compression="zstd"
        )
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return target


def clear(directory: str | Path) -> None:
    """Remove the replication files a previous run left in ``directory`` (and the folder,
    when nothing else is in it), so that a new run's history is never mixed with an old one."""
    folder = Path(directory)
    if not folder.is_dir():
        return
    for path in folder.glob("replication-*.parquet"):
        path.unlink()
    with contextlib.suppress(OSError):  # something else is in it: leave it
        folder.rmdir()
