"""The 3D scene of a line, drawn offscreen: machines in their state's colour, racks showing
their fill, parts on the move, the clock and headline figures, and the colour legend.

Every actor is made once, in :class:`Scene`; :meth:`Scene.draw` only changes colours,
scales, points and text (the PyVista way to animate), so a frame costs one render.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from scenarios.layout import Layout, Place
from twin.colours import LEGEND, colour
from twin.durations import format_duration
from viz.offscreen import plotter
from viz.play import MACHINE_TOP, Frame

SIZE = (1024, 576)  # pixels: a multiple of 16 both ways, as video encoders want
MACHINE_SIDE = 1.7  # metres
RACK_SIDE = 1.5
RACK_HEIGHT = 1.2
UNLIMITED = 20  # parts that fill the drawing of an unlimited rack
FLOOR = "#e9e6df"
BACKGROUND = "#f7f7f5"
PART = "#3b3b3b"
IDLE = "starved"  # a machine's state before its first change
ELEVATION = 55.0  # degrees: the camera looks down on the floor from the front


class Scene:
    """One line's actors in one offscreen window."""

    def __init__(
        self,
        layout: Layout,
        title: str = "",
        size: tuple[int, int] = SIZE,
        window: bool = False,
    ) -> None:
        import pyvista as pv

        self.layout = layout
        self.plotter = plotter(size, window)
        self.plotter.set_background(BACKGROUND)
        self._floor(pv)
        self.machines: dict[str, Any] = {}
        self.shown: dict[str, str] = {}
        self.racks: dict[str, tuple[Any, int | None]] = {}
        for place in layout.places:
            self._station(pv, place)
        self._labels()
        self.parts = pv.PolyData(np.zeros((1, 3)))
        self.parts_actor = self.plotter.add_mesh(
            self.parts, color=PART, point_size=9, render_points_as_spheres=True
        )
        self.parts_actor.visibility = False
        self.title = self.plotter.add_text(title, position="upper_edge", font_size=14)
        self.clock = self.plotter.add_text("", position="lower_left", font_size=11)
        legend = [[name, code] for name, code in LEGEND]
        self.plotter.add_legend(
            labels=legend, bcolor="white", face="rectangle", loc="upper right", size=(0.2, 0.24)
        )
        self._camera()

    def _floor(self, pv: Any) -> None:
        xmin, xmax, ymin, ymax = self.layout.bounds()
        margin = 3.0
        floor = pv.Plane(
            center=((xmin + xmax) / 2, (ymin + ymax) / 2, -0.01),
            i_size=xmax - xmin + 2 * margin + 4.0,
            j_size=ymax - ymin + 2 * margin,
        )
        self.plotter.add_mesh(floor, color=FLOOR, lighting=False)

    def _station(self, pv: Any, place: Place) -> None:
        for scope, (x, y) in zip(place.machine_scopes(), place.machines, strict=True):
            box = pv.Cube(
                center=(x, y, (MACHINE_TOP - 0.1) / 2),
                x_length=MACHINE_SIDE,
                y_length=MACHINE_SIDE * 0.8,
                z_length=MACHINE_TOP - 0.1,
            ).rotate_z(place.rotation, point=(x, y, 0))
            # Unlit: a machine shows its state's colour exactly, from any side; edges give it
            # its shape.
            actor = self.plotter.add_mesh(
                box, color=colour(IDLE), lighting=False, show_edges=True, edge_color="#303030"
            )
            self.machines[scope] = actor
            self.shown[scope] = IDLE
        if place.rack is None:
            return
        x, y = place.rack
        frame = pv.Cube(
            center=(x, y, RACK_HEIGHT / 2),
            x_length=RACK_SIDE,
            y_length=RACK_SIDE,
            z_length=RACK_HEIGHT,
        ).rotate_z(place.rotation, point=(x, y, 0))
        self.plotter.add_mesh(frame, style="wireframe", color="#606060", line_width=1)
        fill = pv.Cube(
            center=(x, y, RACK_HEIGHT / 2),
            x_length=RACK_SIDE * 0.96,
            y_length=RACK_SIDE * 0.96,
            z_length=RACK_HEIGHT,
        ).rotate_z(place.rotation, point=(x, y, 0))
        actor = self.plotter.add_mesh(fill, color="#8fb3d9", opacity=0.45)
        actor.scale = (1.0, 1.0, 0.0)  # the floor is z = 0: scaling keeps the fill on it
        actor.visibility = False
        self.racks[place.rack_scope] = (actor, place.capacity)

    def _labels(self) -> None:
        points, names = [], []
        for place in self.layout.places:
            xs = [x for x, _ in place.machines]
            ys = [y for _, y in place.machines]
            points.append((sum(xs) / len(xs), min(ys) - MACHINE_SIDE * 0.6, 0.0))
            names.append(place.id)
        self.plotter.add_point_labels(
            np.asarray(points),
            names,
            font_size=11,
            show_points=False,
            shape_opacity=0.6,
            shape_color="white",
            always_visible=True,
        )

    def _camera(self) -> None:
        xmin, xmax, ymin, ymax = self.layout.bounds()
        centre = ((xmin + xmax) / 2, (ymin + ymax) / 2, 0.5)
        width, depth = xmax - xmin + 5.0, ymax - ymin + 6.0
        tilt = math.radians(ELEVATION)
        camera = self.plotter.camera
        camera.focal_point = centre
        camera.position = (centre[0], centre[1] - math.cos(tilt), centre[2] + math.sin(tilt))
        camera.up = (0.0, 0.0, 1.0)
        # A parallel view, scaled so the whole floor fills the picture's width or height.
        self.plotter.enable_parallel_projection()
        self.plotter.reset_camera()
        aspect = self.plotter.window_size[0] / self.plotter.window_size[1]
        high = depth * math.sin(tilt) + MACHINE_TOP * math.cos(tilt) + 4.0  # room for the text
        camera.parallel_scale = max(width / aspect, high) / 2

    def draw(self, frame: Frame) -> None:
        """Show ``frame``: colours, rack fills, parts and text change; nothing is rebuilt."""
        for scope, actor in self.machines.items():
            state = frame.states.get(scope, IDLE)
            if self.shown[scope] != state:
                actor.prop.color = colour(state)
                self.shown[scope] = state
        for scope, (actor, capacity) in self.racks.items():
            level = frame.levels.get(scope, 0)
            full = min(level / (capacity or UNLIMITED), 1.0)
            actor.visibility = full > 0
            actor.scale = (1.0, 1.0, max(full, 1e-3))
        if len(frame.parts):
            self.parts.copy_from(_points(frame.parts))
        self.parts_actor.visibility = bool(len(frame.parts))
        self.clock.set_text("lower_left", overlay(frame))

    def image(self, frame: Frame | None = None) -> np.ndarray:
        """The picture (height x width x 3, 0-255) of ``frame``, or of the last drawn."""
        if frame is not None:
            self.draw(frame)
        self.plotter.render()
        return np.asarray(self.plotter.screenshot(return_img=True))

    def project(self, point: tuple[float, float, float]) -> tuple[int, int]:
        """The pixel (column, row from the top) where a point of the floor is drawn."""
        renderer = self.plotter.renderer
        renderer.SetWorldPoint(*point, 1.0)
        renderer.WorldToDisplay()
        x, y, _ = renderer.GetDisplayPoint()
        height = self.plotter.window_size[1]
        return round(x), round(height - 1 - y)

    def close(self) -> None:
        self.plotter.close()


def overlay(frame: Frame) -> str:
    """The clock and the headline figures, as the view prints them."""
    return (
        f"t = {_clock(frame.time)}\n"
        f"good parts {frame.good:,}   scrapped {frame.scrapped:,}\n"
        f"WIP {frame.wip:,}   throughput {frame.throughput:,.1f} /h"
    )


def _clock(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:d}:{minutes:02d}:{secs:02d}"
    return clock if seconds < 86400 else f"{clock} ({format_duration(math.floor(seconds))})"


def _points(points: np.ndarray) -> Any:
    import pyvista as pv

    return pv.PolyData(np.ascontiguousarray(points, dtype=float))
