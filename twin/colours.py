"""One colour per machine state, the same in every view (terminal now; charts and 3D later).

Busy is green (producing), starved amber (waiting for parts), blocked purple (waiting for
room downstream), down red (broken), setup blue (changing over), and the decided stops,
held and maintenance, grey.
"""

from __future__ import annotations

STATE_COLOURS: dict[str, str] = {
    "busy": "#2ca02c",
    "starved": "#ffbf00",
    "blocked": "#9467bd",
    "down": "#d62728",
    "setup": "#1f77b4",
    "held": "#7f7f7f",
    "maintenance": "#7f7f7f",
}
UNKNOWN = "#bbbbbb"


def colour(state: object) -> str:
    """The colour of a state (a neutral grey for one this version does not know)."""
    return STATE_COLOURS.get(str(state), UNKNOWN)
