"""The notebook example in docs/ runs from top to bottom and shows the figures it promises."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import nbclient
import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "examples" / "api.ipynb"
DEMO_STATIONS = ["ASSY", "FACE", "HEAT", "IDGRIND", "INSPECT", "ODGRIND", "TURN", "WASH"]


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Run a copy of the notebook in a fresh kernel; the text output of each tagged cell."""
    folder = tmp_path_factory.mktemp("notebook")
    copy = folder / NOTEBOOK.name
    shutil.copy(NOTEBOOK, copy)
    nb = nbformat.read(copy, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    client.execute()
    return {cell.metadata["tags"][0]: _text(cell) for cell in nb.cells if cell.metadata.get("tags")}


def _text(cell: Any) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text") or output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def test_the_notebook_loads_the_demo_with_its_overrides(executed: dict[str, str]) -> None:
    """The first cell shows the demo line with 3 replications of 4 hours."""
    assert executed["load"] == "('bearing-ring line', 3, 14400.0)"


def test_the_notebook_prints_the_demo_throughput(executed: dict[str, str]) -> None:
    """The run cell prints a throughput near the demo's 35-40 good rings an hour."""
    match = re.search(
        r"throughput ([\d.]+) ± ([\d.]+) good parts/h over 3 replications", executed["run"]
    )
    assert match is not None, executed["run"]
    assert 25 < float(match.group(1)) < 50
    assert 0 < float(match.group(2)) < 10


def test_the_notebook_shows_one_row_per_station(executed: dict[str, str]) -> None:
    """The wide station table has exactly the demo's eight stations as rows."""
    lines = executed["stations"].splitlines()
    assert lines[0].split() == [
        "figure",
        "states.busy",
        "states.starved",
        "states.blocked",
        "states.down",
    ]
    assert [line.split()[0] for line in lines[2:]] == DEMO_STATIONS
    busy = {line.split()[0]: float(line.split()[1]) for line in lines[2:]}
    assert all(0 < value < 1 for value in busy.values())


def test_the_notebook_compares_two_plans(executed: dict[str, str]) -> None:
    """The comparison shows the baseline first, then both plans ranked 1 and 2."""
    rows = [line.split() for line in executed["compare"].splitlines()[1:4]]
    assert [(row[1], row[2]) for row in rows] == [
        ("baseline", "0"),
        ("platform+smed", "1"),
        ("platform+predictive", "2"),
    ]
    assert "smed" in executed["contributions"]
