"""Shop-floor building blocks: parts, stations, the line and its KPIs."""

from models.kpi import collect
from models.line import Arrivals, Feeder, Line
from models.part import Part
from models.station import STATES, Failures, Machine, Setup, Station

__all__ = [
    "STATES",
    "Arrivals",
    "Failures",
    "Feeder",
    "Line",
    "Machine",
    "Part",
    "Setup",
    "Station",
    "collect",
]
