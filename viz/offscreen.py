"""Offscreen rendering with no display and no GPU: Mesa's EGL, else OSMesa.

VTK may crash the whole process, rather than raise, when it finds no OpenGL. So before the
first window is made, :func:`check` renders a tiny picture in a child process, first through
EGL and then through OSMesa, and keeps the first that works for this process (its
``VTK_DEFAULT_OPENGL_WINDOW``). When neither does, :class:`RenderingUnavailable` says why
and what to install.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from typing import Any

from twin.errors import TwinError

WINDOWS = ("vtkEGLRenderWindow", "vtkOSOpenGLRenderWindow")
PACKAGES = "libegl1 libegl-mesa0 libgl1-mesa-dri (or libosmesa6)"
PROBE_SECONDS = 120.0

# Draws a red square on black and checks that red came out.
_PROBE = """
import pyvista as pv
p = pv.Plotter(off_screen=True, window_size=(48, 48))
p.set_background("black")
p.add_mesh(pv.Plane(i_size=4, j_size=4), color="red", lighting=False)
p.view_xy()
img = p.screenshot(return_img=True)
p.close()
r, g, b = (int(c) for c in img[24, 24][:3])
raise SystemExit(0 if r > 200 and g < 60 and b < 60 else 3)
"""


class RenderingUnavailable(TwinError):
    """No offscreen OpenGL works in this environment (says what was tried and why not)."""


@functools.cache
def check() -> str:
    """The render window class that works here (set for this process); raises
    :class:`RenderingUnavailable` when none does. Probed once per process."""
    chosen = os.environ.get("VTK_DEFAULT_OPENGL_WINDOW")
    tried = [chosen] if chosen else list(WINDOWS)
    failures = []
    for window in tried:
        problem = _probe(window)
        if problem is None:
            os.environ["VTK_DEFAULT_OPENGL_WINDOW"] = window
            return window
        failures.append(f"{window}: {problem}")
    raise RenderingUnavailable(
        "cannot render offscreen: "
        + "; ".join(failures)
        + f". Install Mesa's offscreen OpenGL ({PACKAGES}), e.g. with "
        "`apt-get install -y --no-install-recommends libegl1 libegl-mesa0 libgl1-mesa-dri`"
    )


def _probe(window: str) -> str | None:
    """Why a tiny render through ``window`` fails in a child process, or None if it works."""
    env = {**os.environ, "VTK_DEFAULT_OPENGL_WINDOW": window}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE],
            env=env,
            capture_output=True,
            text=True,
            timeout=PROBE_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"a test render did not finish in {PROBE_SECONDS:.0f} s"
    if done.returncode == 0:
        return None
    if done.returncode < 0:
        return f"a test render crashed (signal {-done.returncode})"
    if done.returncode == 3:
        return "a test render came out blank"
    last = (done.stderr.strip().splitlines() or ["no message"])[-1]
    return f"a test render failed: {last}"


def plotter(size: tuple[int, int], window: bool = False) -> Any:
    """A new PyVista plotter of ``size`` pixels (width, height): offscreen, or with
    ``window`` a window on the display."""
    if not window:
        check()
    import pyvista as pv

    view: Any = pv.Plotter(off_screen=not window, window_size=list(size))
    view.render_window.SetMultiSamples(0)  # multisampling costs a software renderer 3/4 of a frame
    return view
