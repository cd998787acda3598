"""The smart-workshop marks of a 3D view: an antenna on each connected machine, a beacon on a
machine whose alarm stands, and the technician it called, on the way or at the machine.

Each kind of mark is one mesh with a copy per machine, made once; a frame shows or hides
copies by collapsing the points of a hidden one onto a single point (nothing is drawn),
so nothing is rebuilt and a frame adds no actor.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from scenarios.layout import Layout, Place
from viz.play import MACHINE_TOP

# Colours of no machine state, nor of the AGVs.
LINK = "#3949ab"  # indigo: the antenna of a connected machine
ALARM = "#e6007e"  # magenta: an alarm standing
TECHNICIAN = "#ff7f0e"  # orange: a technician at the machine
COMING = "#ffbb78"  # light orange: a technician on the way
MARKS: tuple[tuple[str, str], ...] = (
    ("connected machine", LINK),
    ("alarm", ALARM),
    ("technician on the way", COMING),
    ("technician at work", TECHNICIAN),
)

TOP = MACHINE_TOP - 0.1  # metres: a machine's roof (a part in process sits just above)
# Where each mark stands: metres downstream of the machine's centre and across the flow
# towards the camera (roof marks stand behind the part in process).
ANTENNA_AT = (-0.45, -0.3)
BEACON_AT = (0.4, -0.3)
BESIDE = (1.25, 0.0)  # a technician at work
APPROACH = (2.15, 0.0)  # a technician on the way
MAST = (0.04, 0.75)  # metres: the antenna's radius and height above the roof
BALL = 0.15  # metres: the radius of the antenna's tip
POST = 0.24  # metres: the height of the alarm lamp's post
BEACON = 0.28  # metres: the radius of the alarm's lamp
FIGURE = (0.2, 0.75, 0.17)  # metres: a technician's body radius and height, head radius
UP = (0.0, 0.0, 1.0)
ROUND = 12  # facets around a mark's post, body or ball: small on the picture


def spot(
    place: Place, machine: tuple[float, float], along: float, front: float
) -> tuple[float, float]:
    """The point ``along`` metres downstream of ``machine`` and ``front`` metres across the
    flow towards the camera (which looks from -y)."""
    turn = math.radians(place.rotation)
    ax, ay = math.cos(turn), math.sin(turn)
    cx, cy = -ay, ax  # across the flow, to its left
    if cy > 1e-9:  # the left faces away from the camera: the right then
        cx, cy = -cx, -cy
    x, y = machine
    return x + ax * along + cx * front, y + ay * along + cy * front


def centres(place: Place, machine: tuple[float, float]) -> dict[str, tuple[float, float, float]]:
    """The middle of each mark of ``machine``: the antenna's ball, the alarm's lamp, the
    body of its technician at work and on the way."""
    return {
        "antenna": (*spot(place, machine, *ANTENNA_AT), TOP + MAST[1]),
        "alarm": (*spot(place, machine, *BEACON_AT), TOP + POST + BEACON),
        "at work": (*spot(place, machine, *BESIDE), FIGURE[1] / 2),
        "on the way": (*spot(place, machine, *APPROACH), FIGURE[1] / 2),
    }


def machines(floor: Layout) -> Iterator[tuple[str, Place, tuple[float, float]]]:
    """Each machine of ``floor``: its scope, its station's place and its centre."""
    for place in floor.places:
        for scope, centre in zip(place.machine_scopes(), place.machines, strict=True):
            yield scope, place, centre


def antenna(pv: Any, place: Place, machine: tuple[float, float]) -> Any:
    """A mast with a ball on top, at the upstream rear corner of the machine's roof."""
    x, y, z = centres(place, machine)["antenna"]
    radius, height = MAST
    mast = pv.Cylinder(
        center=(x, y, z - height / 2), direction=UP, radius=radius, height=height, resolution=ROUND
    )
    return mast.merge(
        pv.Sphere(radius=BALL, theta_resolution=ROUND, phi_resolution=ROUND, center=(x, y, z))
    )


def beacon(pv: Any, place: Place, machine: tuple[float, float]) -> Any:
    """A lamp on a post, at the downstream rear corner of the machine's roof."""
    x, y, z = centres(place, machine)["alarm"]
    post = pv.Cylinder(
        center=(x, y, TOP + POST / 2), direction=UP, radius=0.1, height=POST, resolution=ROUND
    )
    return post.merge(
        pv.Sphere(radius=BEACON, theta_resolution=ROUND, phi_resolution=ROUND, center=(x, y, z))
    )


def figure(pv: Any, place: Place, machine: tuple[float, float], where: str) -> Any:
    """A person standing by ``machine`` (``where``: at work, or on the way): a body and a
    head."""
    x, y, _ = centres(place, machine)[where]
    radius, height, head = FIGURE
    body = pv.Cylinder(
        center=(x, y, height / 2), direction=UP, radius=radius, height=height, resolution=ROUND
    )
    return body.merge(
        pv.Sphere(
            radius=head,
            theta_resolution=ROUND,
            phi_resolution=ROUND,
            center=(x, y, height + head * 0.9),
        )
    )


class Marks:
    """One mark per key (a machine's scope), in ``colour``, each shown or hidden by
    :meth:`show`."""

    def __init__(self, plotter: Any, pv: Any, meshes: dict[str, Any], colour: str) -> None:
        self.spans: dict[str, slice] = {}
        start = 0
        for key, mesh in meshes.items():
            self.spans[key] = slice(start, start + mesh.n_points)
            start += mesh.n_points
        self.mesh = pv.merge(list(meshes.values()), merge_points=False)
        self.points = np.array(self.mesh.points)
        self.shown: frozenset[str] = frozenset(meshes)
        self.actor = plotter.add_mesh(self.mesh, color=colour, lighting=False)
        self.show(())

    def show(self, keys: Iterable[str]) -> None:
        """Show the marks of ``keys`` (others it has not), hide the rest."""
        shown = frozenset(key for key in keys if key in self.spans)
        if shown == self.shown:
            return
        points = self.points.copy()
        for key, span in self.spans.items():
            if key not in shown:
                points[span] = points[span.start]
        self.mesh.points = points
        self.actor.visibility = bool(shown)
        self.shown = shown
