"""Per-part history: what happened to each part, where and when, for a line whose parts
carry identifiers. Kept only when asked for (:attr:`models.line.Line.history`).

The events are kept as columns (a part number and a time in typed arrays, the three
strings as references to the scopes and words the models already hold), about 40 bytes an
event: a 30-day line of 50,000 parts and 20 events each stays near 40 MB.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import NamedTuple


class Event(NamedTuple):
    """One thing that happened to part ``part`` at ``t``: ``what`` at ``where`` (a station,
    a machine scope or ``line``), with ``detail`` (a product, an outcome, a station)."""

    part: int
    t: float
    where: str
    what: str
    detail: str


@dataclass(frozen=True)
class PartIds:
    """The Handle-style ids of a line's parts: ``PREFIX/LINE.SERIAL``, the serial being the
    part's number (0 for the first part created), six digits or more."""

    prefix: str
    line: str

    def __call__(self, serial: int) -> str:
        return f"{self.prefix}/{self.line}.{serial:06d}"


class History:
    """The events of every part, in the order they happened; ``ids`` names the parts."""

    def __init__(self, ids: PartIds | None = None) -> None:
        self.ids = ids
        self.parts = array("q")
        self.times = array("d")
        self.wheres: list[str] = []
        self.whats: list[str] = []
        self.details: list[str] = []

    def record(self, part: int, t: float, where: str, what: str, detail: str = "") -> None:
        self.parts.append(part)
        self.times.append(t)
        self.wheres.append(where)
        self.whats.append(what)
        self.details.append(detail)

    def __len__(self) -> int:
        return len(self.parts)

    @property
    def events(self) -> list[Event]:
        """Every event, in order (built on demand: for tests and small runs)."""
        columns = (self.parts, self.times, self.wheres, self.whats, self.details)
        return [Event(*row) for row in zip(*columns, strict=True)]

    def of(self, part: int) -> list[Event]:
        """The events of one part, in order."""
        return [e for e in self.events if e.part == part]
