"""The 3D scene of a line, drawn offscreen: machines in their state's colour, racks showing
their fill, parts on the move, the clock and headline figures, and the colour legend.

Every actor is made once, in :class:`Scene`; :meth:`Scene.draw` only changes colours,
points and text in place (the PyVista way to animate), so a frame costs one render.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from scenarios.layout import Layout
from twin.colours import LEGEND, rgb
from twin.durations import format_duration
from viz.offscreen import plotter
from viz.play import MACHINE_TOP, Frame

SIZE = (1024, 576)  # pixels: a multiple of 16 both ways, as video encoders want
MACHINE_SIDE = 1.7  # metres
RACK_SIDE = 1.5
RACK_HEIGHT = 1.2
LABEL = 0.7  # metres: the height of a station's name on the floor
SUNK = 0.05  # metres under the floor where an empty rack's fill hides
UNLIMITED = 20  # parts that fill the drawing of an unlimited rack
FLOOR = "#e9e6df"
BACKGROUND = "#f7f7f5"
PART = "#3b3b3b"
IDLE = "starved"  # a machine's state before its first change
ELEVATION = 55.0  # degrees: the camera looks down on the floor from the front


class Scene:
    """One line's actors in one window: offscreen, or on the display with ``window``."""

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
        self._machines(pv)
        self._racks(pv)
        self._labels(pv)
        self.parts = pv.PolyData(np.zeros((1, 3)))
        self.parts_actor = self.plotter.add_mesh(
            self.parts, color=PART, point_size=9, render_points_as_spheres=True
        )
        self.parts_actor.visibility = False
        # Text actors at fixed pixels: a corner annotation searches for its font size at
        # every render (20 ms a frame on a software renderer).
        width, height = size
        self.title = self.plotter.add_text(title, position=(width / 2, height - 34), font_size=16)
        self.title.prop.SetJustificationToCentered()
        self.clock = self.plotter.add_text("", position=(10, 10), font_size=13)
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

    def _machines(self, pv: Any) -> None:
        """All machines as one mesh, one box each, coloured cell by cell: a frame changes
        the colours of the cells of the machines whose state changed."""
        boxes: list[Any] = []
        self.cells: dict[str, slice] = {}
        for place in self.layout.places:
            for scope, (x, y) in zip(place.machine_scopes(), place.machines, strict=True):
                box = pv.Cube(
                    center=(x, y, (MACHINE_TOP - 0.1) / 2),
                    x_length=MACHINE_SIDE,
                    y_length=MACHINE_SIDE * 0.8,
                    z_length=MACHINE_TOP - 0.1,
                ).rotate_z(place.rotation, point=(x, y, 0))
                start = sum(b.n_cells for b in boxes)
                self.cells[scope] = slice(start, start + box.n_cells)
                boxes.append(box)
        self.machine_mesh = pv.merge(boxes, merge_points=False)
        idle = np.asarray(rgb(IDLE), dtype=np.uint8)
        self.colours = np.tile(idle, (self.machine_mesh.n_cells, 1))
        self.machine_mesh.cell_data["state"] = self.colours
        self.shown = dict.fromkeys(self.cells, IDLE)
        # Unlit: a machine shows its state's colour exactly, from any side; edges give it
        # its shape.
        self.plotter.add_mesh(
            self.machine_mesh,
            scalars="state",
            rgb=True,
            lighting=False,
            show_edges=True,
            edge_color="#303030",
        )

    def _racks(self, pv: Any) -> None:
        """All racks: their frames as one wireframe, their fills as one mesh whose tops
        rise and fall with the parts waiting (an empty rack's fill sinks under the floor)."""
        frames: list[Any] = []
        fills: list[Any] = []
        self.tops: dict[str, tuple[np.ndarray, int | None]] = {}
        for place in self.layout.places:
            if place.rack is None:
                continue
            x, y = place.rack
            frames.append(
                pv.Cube(
                    center=(x, y, RACK_HEIGHT / 2),
                    x_length=RACK_SIDE,
                    y_length=RACK_SIDE,
                    z_length=RACK_HEIGHT,
                ).rotate_z(place.rotation, point=(x, y, 0))
            )
            fill = pv.Cube(
                center=(x, y, (RACK_HEIGHT - SUNK) / 2),
                x_length=RACK_SIDE * 0.96,
                y_length=RACK_SIDE * 0.96,
                z_length=RACK_HEIGHT + SUNK,
            ).rotate_z(place.rotation, point=(x, y, 0))
            start = sum(f.n_points for f in fills)
            top = np.flatnonzero(fill.points[:, 2] > 0) + start
            self.tops[place.rack_scope] = (top, place.capacity)
            fills.append(fill)
        self.fill_mesh: Any = None
        if not fills:
            return
        self.plotter.add_mesh(
            pv.merge(frames, merge_points=False), style="wireframe", color="#606060"
        )
        self.fill_mesh = pv.merge(fills, merge_points=False)
        self.fill_points = np.array(self.fill_mesh.points)
        self.plotter.add_mesh(self.fill_mesh, color="#8fb3d9", opacity=0.45)

    def _labels(self, pv: Any) -> None:
        """Each station's name painted on the floor beside it, on the side of its flow
        that faces the camera (in front of a line that runs left to right): one static
        mesh, since 2D labels would be placed again at every render."""
        names = []
        for place in self.layout.places:
            text = pv.Text3D(place.id, depth=0.0, height=LABEL)
            xmin, xmax, ymin, ymax, _, _ = text.bounds
            turn = math.radians(place.rotation)
            dx, dy = math.sin(turn), -math.cos(turn)  # the flow's right-hand side
            if dy > 1e-9:  # that side faces away from the camera: the left-hand one then
                dx, dy = -dx, -dy
            xs = [x for x, _ in place.machines]
            ys = [y for _, y in place.machines]
            reach = max(abs((x - place.x) * dx + (y - place.y) * dy) for x, y in place.machines)
            away = reach + MACHINE_SIDE * 0.5 + 0.3
            away += abs(dx) * (xmax - xmin) / 2 + abs(dy) * (ymax - ymin) / 2
            centre = (sum(xs) / len(xs) + dx * away, sum(ys) / len(ys) + dy * away, 0.01)
            names.append(text.translate(np.subtract(centre, text.center), inplace=False))
        self.plotter.add_mesh(pv.merge(names), color="#202020", lighting=False)

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
        # Room above and below the floor for the title, the legend and the figures.
        high = (depth * math.sin(tilt) + MACHINE_TOP * math.cos(tilt)) * 1.5 + 2.0
        camera.parallel_scale = max(width / aspect, high) / 2

    def draw(self, frame: Frame) -> None:
        """Show ``frame``: colours, rack fills, parts and text change; nothing is rebuilt."""
        changed = False
        for scope, cells in self.cells.items():
            state = frame.states.get(scope, IDLE)
            if self.shown[scope] != state:
                self.colours[cells] = rgb(state)
                self.shown[scope] = state
                changed = True
        if changed:
            self.machine_mesh.cell_data["state"] = self.colours
        if self.fill_mesh is not None:
            points = self.fill_points
            for scope, (top, capacity) in self.tops.items():
                level = frame.levels.get(scope, 0)
                full = min(level / (capacity or UNLIMITED), 1.0)
                points[top, 2] = -SUNK + full * (RACK_HEIGHT + SUNK)
            self.fill_mesh.points = points
        if len(frame.parts):
            self.parts.copy_from(_points(frame.parts))
        self.parts_actor.visibility = bool(len(frame.parts))
        self.clock.input = overlay(frame)

    def image(self, frame: Frame | None = None) -> np.ndarray:
        """The picture (height x width x 3, 0-255) of ``frame``, or of the last drawn."""
        if frame is not None:
            self.draw(frame)
        self.plotter.render()
        return np.asarray(self.plotter.screenshot(return_img=True))

    def project(self, point: tuple[float, float, float]) -> tuple[int, int]:
        """The pixel (column, row from the top) where a point of the scene is drawn."""
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
