"""One colour per machine state, the same in every view: the terminal, charts and 3D.

Busy is green (producing), starved amber (waiting for parts), blocked purple (waiting for
room downstream), down red (broken), setup blue (changing over), waiting for an operator
brown, and the planned stops, held, maintenance and off (outside the calendar's shifts,
on a break), grey.
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
    "off": "#7f7f7f",
    "operator": "#8c564b",
}
UNKNOWN = "#bbbbbb"

# The taxonomy a legend shows: the planned stops (held, maintenance) share one entry.
LEGEND: tuple[tuple[str, str], ...] = (
    ("busy", STATE_COLOURS["busy"]),
    ("starved", STATE_COLOURS["starved"]),
    ("blocked", STATE_COLOURS["blocked"]),
    ("down", STATE_COLOURS["down"]),
    ("setup", STATE_COLOURS["setup"]),
    ("held / planned stop", STATE_COLOURS["held"]),
    ("waiting for operator", STATE_COLOURS["operator"]),
)


def colour(state: object) -> str:
    """The colour of a state (a neutral grey for one this version does not know)."""
    return STATE_COLOURS.get(str(state), UNKNOWN)


def rgb(state: object) -> tuple[int, int, int]:
    """The colour of a state as 0-255 red, green and blue."""
    code = colour(state).lstrip("#")
    return int(code[0:2], 16), int(code[2:4], 16), int(code[4:6], 16)
