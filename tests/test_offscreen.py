"""Where no offscreen OpenGL works, the probe says why (a crash included) and the commands
exit with that reason instead of crashing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from twin.cli import app
from viz import offscreen


def test_a_crashing_render_is_reported_not_suffered(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test render that kills its process (as VTK can without OpenGL) is a reason."""
    monkeypatch.setattr(offscreen, "_PROBE", "import os; os.abort()")
    assert offscreen._probe("vtkEGLRenderWindow") == "a test render crashed (signal 6)"
    monkeypatch.setattr(offscreen, "_PROBE", "raise SystemExit(3)")
    assert offscreen._probe("vtkEGLRenderWindow") == "a test render came out blank"


def test_no_window_that_works_names_each_and_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both windows tried, both reasons given, and the packages that bring them."""
    monkeypatch.delenv("VTK_DEFAULT_OPENGL_WINDOW", raising=False)
    monkeypatch.setattr(offscreen, "_probe", lambda window: "a test render crashed (signal 11)")
    with pytest.raises(offscreen.RenderingUnavailable) as caught:
        offscreen.check.__wrapped__()
    message = str(caught.value)
    assert "vtkEGLRenderWindow: a test render crashed (signal 11)" in message
    assert "vtkOSOpenGLRenderWindow: a test render crashed" in message
    assert "apt-get install -y --no-install-recommends libegl1 libegl-mesa0" in message


def test_the_commands_exit_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, scenario_file: Callable[[str], Path]
) -> None:
    """`twin render` where nothing renders: exit 1, the reason, no picture."""

    def unavailable() -> str:
        raise offscreen.RenderingUnavailable("cannot render offscreen: no EGL here")

    monkeypatch.setattr(offscreen, "check", unavailable)
    line = scenario_file("name: one\nstations:\n  - id: M1\n    process_time: 1min\n")
    out = tmp_path / "line.png"
    result = CliRunner().invoke(app, ["render", str(line), "--at", "10min", "--out", str(out)])
    assert result.exit_code == 1
    assert "error: cannot render offscreen: no EGL here" in result.output
    assert not out.exists()
