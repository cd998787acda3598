"""Per-part history on disk, and finding one part's history again (``twin trace``).

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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from models.history import History
from twin.errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa

PARTS_DIR = "parts"
COLUMNS = ("replication", "part_id", "serial", "t", "where", "what", "detail")
# Rows per row group: its serial and part_id ranges let a look-up skip the other groups.
ROW_GROUP = 65536


class PartEvent(NamedTuple):
    """One event of a part in one replication (``t`` in simulated seconds)."""

    replication: int
    t: float
    where: str
    what: str
    detail: str


@dataclass(frozen=True)
class PartHistory:
    """What ``twin trace`` found: the events of ``part_id`` in the run kept in ``run_dir``,
    replication by replication."""

    part_id: str
    serial: int
    run_dir: Path
    events: Sequence[PartEvent]


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


def read_part(run_dir: str | Path, part_id: str, replication: int | None = None) -> PartHistory:
    """The history of ``part_id`` in every replication of the run kept in ``run_dir`` (or in
    ``replication`` alone). Refused, saying why, when the directory has no part history, the
    replication is not there, or no replication knows the part."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    run = Path(run_dir)
    files = _files(run)
    if replication is not None:
        if replication not in files:
            have = ", ".join(str(r) for r in sorted(files))
            raise UsageError(
                f"option --replication: {run} has no replication {replication} (it has {have})"
            )
        files = {replication: files[replication]}
    import pyarrow as pa

    try:
        found = pq.read_table(
            [str(files[r]) for r in sorted(files)],
            schema=schema(),
            filters=pc.field("part_id") == part_id,
        )
    except (pa.ArrowException, OSError) as exc:
        raise UsageError(f"{run / PARTS_DIR}: cannot read the part history: {exc}") from None
    if found.num_rows == 0:
        raise UsageError(_unknown(run, part_id, files))
    rows = found.select(["replication", "t", "where", "what", "detail"]).to_pylist()
    return PartHistory(
        part_id, int(found["serial"][0].as_py()), run, [PartEvent(**row) for row in rows]
    )


def _files(run: Path) -> dict[int, Path]:
    """The run's history files by replication; refused when there are none."""
    if not run.is_dir():
        raise UsageError(f"{run}: no such directory (give a directory kept by `twin run --out`)")
    folder = run / PARTS_DIR
    files: dict[int, Path] = {}
    for path in folder.glob("replication-*.parquet"):
        number = path.stem.removeprefix("replication-")
        if number.isdigit():
            files[int(number)] = path
    if not files:
        raise UsageError(
            f"{run}: no part history (no {PARTS_DIR}/ folder with replication files): the "
            "run's scenario had no `identifiers`, or it was not kept with `twin run --out`"
        )
    return files


def _unknown(run: Path, part_id: str, files: dict[int, Path]) -> str:
    """Why ``part_id`` is not found, with the ids the run does have."""
    import pyarrow.parquet as pq

    first = pq.ParquetFile(files[min(files)])
    meta = first.metadata
    if meta.num_rows == 0:
        return f"part {part_id} is not in {run}: no part was created in its replications"
    low = first.read_row_group(0, columns=["part_id"])["part_id"][0].as_py()
    last = first.read_row_group(meta.num_row_groups - 1, columns=["part_id"])["part_id"]
    high = last[len(last) - 1].as_py()
    which = "replication" if len(files) == 1 else "replications"
    numbers = ", ".join(str(r) for r in sorted(files))
    return (
        f"part {part_id} is not in {run} ({which} {numbers}); "
        f"its parts are {low} to {high} (replication {min(files)})"
    )
