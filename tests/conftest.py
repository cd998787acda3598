"""Shared fixtures: scenarios written to real files, and the bundled ones."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from scenarios.loader import loads
from scenarios.schema import Scenario


@pytest.fixture
def scenario_file(tmp_path: Path) -> Callable[[str], Path]:
    """Write YAML text to a real file and return its path."""

    def write(text: str, name: str = "line.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def scenario() -> Callable[[str], Scenario]:
    """Parse and validate YAML text as a scenario."""
    return lambda text: loads(text, "test.yaml")


@pytest.fixture(scope="session")
def rendering() -> None:
    """Skip, saying why, where no offscreen OpenGL works (probed in a child process)."""
    from viz.offscreen import RenderingUnavailable, check

    # One rendering thread per test process: the suite runs a process per core already.
    os.environ.setdefault("LP_NUM_THREADS", "1")

    try:
        check()
    except RenderingUnavailable as exc:
        pytest.skip(str(exc))
