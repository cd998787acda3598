"""Reading rendered pictures: colours near a pixel, and how much of a picture has a colour."""

from __future__ import annotations

import numpy as np

from scenarios.layout import Layout
from twin.colours import colour


def distance(image: np.ndarray, state: str) -> np.ndarray:
    """Per pixel, how far its colour is from a state's colour, or from a colour given as
    ``#rrggbb`` (0: the same)."""
    code = state.lstrip("#") if state.startswith("#") else colour(state).lstrip("#")
    target = np.asarray([int(code[i : i + 2], 16) for i in (0, 2, 4)], dtype=float)
    return np.abs(image[..., :3].astype(float) - target).max(axis=-1)


def share_near(image: np.ndarray, pixel: tuple[int, int], state: str, radius: int = 3) -> float:
    """The share of the pixels around ``pixel`` (column, row) drawn in a state's colour."""
    col, row = pixel
    window = image[row - radius : row + radius + 1, col - radius : col + radius + 1]
    assert window.size, f"{pixel} is outside the picture"
    return float((distance(window, state) <= 12).mean())


def count(image: np.ndarray, state: str, tolerance: float = 12) -> int:
    """How many pixels show a state's colour (or a ``#rrggbb`` colour)."""
    return int((distance(image, state) <= tolerance).sum())


def front_of(floor: Layout, scope: str) -> tuple[float, float, float]:
    """A point just behind the lower front face of a machine (the side the camera sees):
    no part rests or passes in front of it, so its pixel shows the machine's colour."""
    station, index = scope.rsplit(".", 1)
    x, y = floor.place(station).machines[int(index)]
    return x + 0.3, y - 0.6, 0.3
