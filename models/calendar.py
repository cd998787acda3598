"""Working calendars: the weekly pattern of shifts and breaks, and the process that stops
and starts machines by it.

Simulated time 0 is a Monday at 00:00. A :class:`Week` is the working time of one week as
sorted, disjoint intervals of seconds in ``[0, WEEK)``, repeated every week. Outside them
(off shift, on a break, on a day off) the machines that follow the calendar are in a
planned stop: a part in process pauses and resumes at the next start (:class:`Shifts`).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models.line import Line
    from models.station import Machine

DAY = 86400.0
WEEK = 7 * DAY
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Interval = tuple[float, float]


def _merged(intervals: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _minus(intervals: list[Interval], holes: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for start, end in intervals:
        pieces = [(start, end)]
        for h0, h1 in holes:
            pieces = [
                piece
                for a, b in pieces
                for piece in ((a, min(b, h0)), (max(a, h1), b))
                if piece[1] > piece[0]
            ]
        out.extend(pieces)
    return _merged(out)


def _folded(intervals: list[Interval]) -> list[Interval]:
    """Intervals on ``[-WEEK, 2 WEEK)`` folded onto one week ``[0, WEEK)``."""
    pieces: list[Interval] = []
    for start, end in intervals:
        for shift in (-WEEK, 0.0, WEEK):
            a, b = max(start + shift, 0.0), min(end + shift, WEEK)
            if b > a:
                pieces.append((a, b))
    return _merged(pieces)


class Week:
    """Working time repeated every week: ``intervals`` of seconds from Monday 00:00."""

    def __init__(self, intervals: Sequence[Interval]) -> None:
        self.intervals = _folded(list(intervals))
        if not self.intervals:
            raise ValueError("the calendar has no working time at all")
        first, last = self.intervals[0], self.intervals[-1]
        # A shift running over Sunday midnight is one working spell, not two.
        wraps = first[0] == 0.0 and last[1] == WEEK
        self.always = self.intervals == [(0.0, WEEK)]
        changes = [p for i in self.intervals for p in i]
        if wraps:
            changes = changes[1:-1]
        self.changes = changes  # seconds of the week at which working starts or stops

    @classmethod
    def of(
        cls,
        days: Sequence[int],
        shifts: Sequence[Interval],
        breaks: Sequence[Interval],
    ) -> Week:
        """The week of ``shifts`` (start and end, seconds of the day; an end at or before
        the start is on the next day) on each of ``days`` (0 is Monday), less ``breaks``
        (start, seconds of the day, and length) on every day."""
        spells = [
            (d * DAY + start, d * DAY + end + (DAY if end <= start else 0.0))
            for d in days
            for start, end in shifts
        ]
        holes = _merged(
            (d * DAY + start, d * DAY + start + length)
            for d in range(-1, 8)
            for start, length in breaks
        )
        return cls(_minus(_merged(spells), holes))

    @property
    def hours(self) -> float:
        """Working hours a week."""
        return sum(b - a for a, b in self.intervals) / 3600.0

    def working(self, t: float) -> bool:
        """Whether ``t`` (seconds since Monday 00:00 of week 0) is working time."""
        s = t % WEEK
        return any(a <= s < b for a, b in self.intervals)

    def next_change(self, t: float) -> float:
        """The first time after ``t`` at which working starts or stops (inf: never)."""
        if not self.changes:
            return float("inf")
        base = t - t % WEEK
        s = t - base
        for point in self.changes:
            if point > s:
                return base + point
        return base + WEEK + self.changes[0]


class Shifts:
    """Stops ``machines`` outside the working time of ``week`` and starts them again."""

    def __init__(self, line: Line, week: Week, machines: Sequence[Machine]) -> None:
        self.line = line
        self.week = week
        self.machines = list(machines)
        if not week.always and self.machines:
            line.env.process(self._run())

    def _run(self) -> Generator[Any, Any, None]:
        env = self.line.env
        on, t = True, env.now
        while True:
            working = self.week.working(t)
            if working != on:
                on = working
                for machine in self.machines:
                    if on:
                        machine.shift_on()
                    else:
                        machine.shift_off()
            # Times of the week are exact in floating point: keep them, not the clock's sums.
            t = self.week.next_change(t)
            yield env.timeout(max(0.0, t - env.now))
