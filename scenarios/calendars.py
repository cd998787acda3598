"""Calendars in the scenario file: the line's (or a station's) days, shifts and breaks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PlainSerializer, field_validator, model_validator

from models.calendar import DAY, DAYS, Week
from scenarios.fields import MAX_ITEMS, Model
from twin.distributions import PositiveDuration


def _time_of_day(value: Any) -> float:
    """``"06:00"`` or ``"22:30:15"`` in seconds after midnight (``"24:00"`` ends a day)."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f'a time of day is text like "06:00" (in quotes), got {value!r}')
    parts = value.strip().split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() and len(p) == 2 for p in parts[1:]):
        raise ValueError(f'a time of day is HH:MM or HH:MM:SS, like "06:00", got {value!r}')
    if not parts[0].isdigit() or len(parts[0]) > 2:
        raise ValueError(f'a time of day is HH:MM or HH:MM:SS, like "06:00", got {value!r}')
    h, m, sec = (int(p) for p in [*parts, "0"][:3])
    seconds = h * 3600.0 + m * 60.0 + sec
    if m > 59 or sec > 59 or seconds > DAY:
        raise ValueError(f"{value!r} is not a time of day between 00:00 and 24:00")
    return seconds


def format_time_of_day(seconds: float) -> str:
    """Seconds after midnight as ``"HH:MM"`` (``"HH:MM:SS"`` when there are seconds)."""
    h, rest = divmod(round(seconds), 3600)
    m, sec = divmod(rest, 60)
    return f"{h:02d}:{m:02d}" + (f":{sec:02d}" if sec else "")


# Seconds after midnight inside, the text it was written as outside (a resolved scenario
# that is stored or patched reads back as the same time of day).
TimeOfDay = Annotated[
    float,
    BeforeValidator(_time_of_day),
    PlainSerializer(format_time_of_day, return_type=str),
]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Shift(Model):
    """A shift from ``start`` to ``end`` (times of day; an end at or before the start is
    on the next day: a night shift)."""

    start: TimeOfDay
    end: TimeOfDay


class Break(Model):
    """A break at ``start`` (a time of day), every working day, for ``duration``."""

    start: TimeOfDay
    duration: Annotated[PositiveDuration, Field(lt=DAY)]


class Calendar(Model):
    """The planned working time: ``shifts`` (none: whole days) on ``days``, less
    ``breaks``. Simulated time 0 is a Monday at 00:00."""

    days: Annotated[list[Day], Field(min_length=1, max_length=7)] = [
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
    ]
    shifts: Annotated[list[Shift], Field(max_length=MAX_ITEMS)] = []
    breaks: Annotated[list[Break], Field(max_length=MAX_ITEMS)] = []

    @field_validator("days")
    @classmethod
    def _days_once(cls, days: list[str]) -> list[str]:
        twice = sorted({d for d in days if days.count(d) > 1})
        if twice:
            raise ValueError(f"days named more than once: {', '.join(twice)}")
        return days

    @model_validator(mode="after")
    def _works_some_time(self) -> Calendar:
        try:
            self.week()
        except ValueError as exc:
            raise ValueError(f"{exc}: its breaks cover all of its shifts") from None
        return self

    def week(self) -> Week:
        days = [DAYS.index(d) for d in self.days]
        shifts = [(s.start, s.end) for s in self.shifts] or [(0.0, DAY)]
        return Week.of(days, shifts, [(b.start, b.duration) for b in self.breaks])
