"""The 3D scene of a line, drawn offscreen: machines in their state's colour, racks showing
their fill, conveyors and the AGVs on a trip, parts on the move, connected machines, alarms
and technicians (:mod:`viz.marks`), the clock, headline figures, operators and technicians
at work, and the colour legend.

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
from viz import marks
from viz.calls import CREW
from viz.offscreen import plotter
from viz.plant import Plant
from viz.play import BELT_TOP, MACHINE_TOP, VEHICLE_TOP, Frame

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
BELT_WIDTH = 0.7  # metres
SLAT = 0.25  # metres between the slats drawn across a belt
BELT = "#c9d1d9"  # a belt's surface: light, for the dark parts on it to stand out
BELT_FRAME = "#56616b"
VEHICLE = "#17becf"  # an AGV: cyan, no state's colour
VEHICLE_SIZE = (1.1, 0.8)  # metres along and across its way
POOL = "operators."  # the scope of an operator pool's level: operators.<pool>
FLEET = "agv"  # the scope of the AGVs' level (vehicles on a trip)
MAX_VEHICLES = 50  # AGVs drawn at once at most (a larger fleet is shown by its count)


class Scene:
    """One line's actors in one window: offscreen, or on the display with ``window``."""

    def __init__(
        self,
        layout: Layout,
        title: str = "",
        size: tuple[int, int] = SIZE,
        window: bool = False,
        plant: Plant | None = None,
    ) -> None:
        import pyvista as pv

        self.layout = layout
        self.plant = plant or Plant()
        self.plotter = plotter(size, window)
        self.plotter.set_background(BACKGROUND)
        self._floor(pv)
        self._machines(pv)
        self._racks(pv)
        self._belts(pv)
        self._vehicles(pv)
        self._smart(pv)
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
        legend = [[name, code] for name, code in (*LEGEND, *self.marks_shown)]
        self.plotter.add_legend(
            labels=legend,
            bcolor="white",
            face="rectangle",
            loc="upper right",
            size=(0.2 + 0.05 * bool(self.marks_shown), 0.24 * len(legend) / len(LEGEND)),
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

    def _belts(self, pv: Any) -> None:
        """Every conveyor as a belt from its start to its end on a dark frame, slats
        across it: one static mesh each for the frames and the belts."""
        frames: list[Any] = []
        belts: list[Any] = []
        for belt in self.plant.belts:
            (ax, ay), (bx, by) = belt.start, belt.end
            length = max(math.hypot(bx - ax, by - ay), 0.1)
            heading = math.degrees(math.atan2(by - ay, bx - ax))
            centre = ((ax + bx) / 2, (ay + by) / 2)
            frames.append(
                pv.Cube(
                    center=(*centre, BELT_TOP / 2),
                    x_length=length,
                    y_length=BELT_WIDTH,
                    z_length=BELT_TOP - 0.02,
                ).rotate_z(heading, point=(*centre, 0))
            )
            belts.append(
                pv.Plane(
                    center=(*centre, BELT_TOP),
                    i_size=length,
                    j_size=BELT_WIDTH * 0.9,
                    i_resolution=max(1, round(length / SLAT)),
                    j_resolution=1,
                ).rotate_z(heading, point=(*centre, 0))
            )
        if not belts:
            return
        self.plotter.add_mesh(pv.merge(frames), color=BELT_FRAME)
        self.plotter.add_mesh(
            pv.merge(belts), color=BELT, lighting=False, show_edges=True, edge_color="#8a949e"
        )

    def _vehicles(self, pv: Any) -> None:
        """One actor per AGV of the fleet, hidden until it drives: a frame moves and turns
        the ones on a trip."""
        along, across = VEHICLE_SIZE
        self.vehicles = []
        for _ in range(min(self.plant.fleet, MAX_VEHICLES)):
            body = pv.Cube(
                center=(0.0, 0.0, VEHICLE_TOP / 2 + 0.03),
                x_length=along,
                y_length=across,
                z_length=VEHICLE_TOP - 0.06,
            )
            actor = self.plotter.add_mesh(
                body, color=VEHICLE, lighting=False, show_edges=True, edge_color="#0b5d66"
            )
            actor.visibility = False
            self.vehicles.append(actor)

    def _smart(self, pv: Any) -> None:
        """The antennas of the connected machines (static); an alarm beacon on every
        machine and, on those whose alarms call a crew, its technician on the way and at
        work, each hidden until a frame has it."""
        plant = self.plant
        found = list(marks.machines(self.layout))
        antennas = [marks.antenna(pv, p, c) for s, p, c in found if s in plant.connected]
        if antennas:
            self.plotter.add_mesh(pv.merge(antennas), color=marks.LINK, lighting=False)
        beacons = {s: marks.beacon(pv, p, c) for s, p, c in found}
        self.alarms = marks.Marks(self.plotter, pv, beacons, marks.ALARM)
        called = dict(plant.callers)
        crewed = [(s, p, c) for s, p, c in found if called.get(s) is not None]
        self.at_work = self.coming = None
        if crewed:
            figures = {s: marks.figure(pv, p, c, "at work") for s, p, c in crewed}
            self.at_work = marks.Marks(self.plotter, pv, figures, marks.TECHNICIAN)
            figures = {s: marks.figure(pv, p, c, "on the way") for s, p, c in crewed}
            self.coming = marks.Marks(self.plotter, pv, figures, marks.COMING)
        shown = [bool(antennas), bool(called), bool(crewed), bool(crewed)]
        self.marks_shown = [mark for mark, show in zip(marks.MARKS, shown, strict=True) if show]

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
        for k, actor in enumerate(self.vehicles):
            shown = k < len(frame.vehicles)
            if shown:
                x, y, heading = frame.vehicles[k]
                actor.position = (x, y, 0.0)
                actor.orientation = (0.0, 0.0, heading)
            actor.visibility = shown
        self.alarms.show(frame.alarms)
        if self.at_work is not None and self.coming is not None:
            self.at_work.show(t.machine for t in frame.technicians if not t.coming)
            self.coming.show(t.machine for t in frame.technicians if t.coming)
        self.clock.input = overlay(frame, self.plant)

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


def overlay(frame: Frame, plant: Plant | None = None) -> str:
    """The clock and the headline figures, as the view prints them, then a line for each
    operator pool, for the AGVs and for each maintenance crew: how many are at work (of
    how many, when known), and of a crew the plant knows, how many are on the way to an
    alarm."""
    lines = [
        f"t = {_clock(frame.time)}",
        f"good parts {frame.good:,}   scrapped {frame.scrapped:,}",
        f"WIP {frame.wip:,}   throughput {frame.throughput:,.1f} /h",
    ]
    plant = plant or Plant()
    counts = dict(plant.pools)
    known = (s.removeprefix(POOL) for s in frame.levels if s.startswith(POOL))
    pools = [*counts, *sorted(p for p in known if p not in counts)]
    for pool in pools:
        lines.append(f"{pool} {_of(frame.levels.get(POOL + pool, 0), counts.get(pool))} at work")
    if plant.fleet or FLEET in frame.levels:
        lines.append(f"AGVs {_of(frame.levels.get(FLEET, 0), plant.fleet or None)} on a trip")
    crews = dict(plant.crews)
    known = (s.removeprefix(CREW) for s in frame.levels if s.startswith(CREW))
    for crew in [*crews, *sorted(c for c in known if c not in crews)]:
        line = f"crew {crew} {_of(frame.levels.get(CREW + crew, 0), crews.get(crew))} at work"
        if crew in crews:
            line += f", {sum(t.coming for t in frame.technicians if t.crew == crew)} on the way"
        lines.append(line)
    return "\n".join(lines)


def _of(level: int, count: int | None) -> str:
    return f"{level}" if count is None else f"{level}/{count}"


def _clock(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:d}:{minutes:02d}:{secs:02d}"
    return clock if seconds < 86400 else f"{clock} ({format_duration(math.floor(seconds))})"


def _points(points: np.ndarray) -> Any:
    import pyvista as pv

    return pv.PolyData(np.ascontiguousarray(points, dtype=float))
