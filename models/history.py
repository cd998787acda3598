"""Per-part history: what happened to each part, where and when, for a line whose parts
carry identifiers. Kept only when asked for (:attr:`models.line.Line.history`)."""

from __future__ import annotations

from typing import NamedTuple


class Event(NamedTuple):
    """One thing that happened to part ``part`` at ``t``: ``what`` at ``where`` (a station,
    a machine scope or ``line``), with ``detail`` (a product, an outcome, a station)."""

    part: int
    t: float
    where: str
    what: str
    detail: str


class History:
    """The events of every part, in the order they happened."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def record(self, part: int, t: float, where: str, what: str, detail: str = "") -> None:
        self.events.append(Event(part, t, where, what, detail))

    def of(self, part: int) -> list[Event]:
        """The events of one part, in order."""
        return [e for e in self.events if e.part == part]
